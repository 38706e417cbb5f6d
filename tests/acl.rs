//! Plain ACL on a real broker process (`aclEnable=true`, Apache's `plain_acl.yml`): signed
//! requests from the right account pass, a wrong secret, a topic the account may not use, an
//! admin code from a plain account, an unsigned or tampered request are refused with SYSTEM_ERROR
//! and a remark naming what failed; the global white list and an account's white address skip
//! the check; the file is reloaded when it changes and a broken file keeps the last good rules;
//! mqadmin manages accounts; the Apache C++ client signs with `set_session_credentials`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use common::*;
use hmac::{Hmac, Mac};
use rmq_remoting::headers::send::SendMessageRequestHeaderV2;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use sha1::Sha1;

const RPC: Duration = Duration::from_secs(5);
const TOPIC: &str = "AclTopic";

const ACL_FILE: &str = r#"globalWhiteRemoteAddresses:
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - AclTopic=PUB|SUB
  - accessKey: rocketmq2
    secretKey: 87654321
    whiteRemoteAddress:
    admin: true
"#;

struct AclCluster {
    single: Single,
    acl_file: PathBuf,
}

fn start() -> AclCluster {
    let home = temp_dir().keep();
    std::fs::create_dir_all(home.join("conf")).unwrap();
    let acl_file = home.join("conf/plain_acl.yml");
    std::fs::write(&acl_file, ACL_FILE).unwrap();
    let home_s = home.display().to_string();
    let single = Single::start(&[("aclEnable", "true"), ("rocketmqHome", home_s.as_str())]);
    AclCluster { single, acl_file }
}

impl AclCluster {
    fn ns(&self) -> String {
        self.single.namesrv.addr()
    }

    fn broker(&self) -> String {
        self.single.broker.addr()
    }

    fn mqadmin_as(&self, ak: &str, sk: &str, args: &[&str]) -> std::process::Output {
        let ns = self.ns();
        let mut all = vec!["-n", ns.as_str(), "--ak", ak, "--sk", sk];
        all.extend_from_slice(args);
        run_bin(env!("CARGO_BIN_EXE_mqadmin"), &all, &[], Duration::from_secs(60))
    }
}

fn send_header(topic: &str) -> SendMessageRequestHeaderV2 {
    SendMessageRequestHeaderV2 {
        a: "acl-producer".into(),
        b: topic.into(),
        c: "TBW102".into(),
        d: 4,
        e: 0,
        f: 0,
        g: 1_700_000_000_000,
        h: 0,
        i: None,
        j: None,
        k: None,
        l: None,
        m: None,
        n: None,
    }
}

/// Apache's algorithm written out by hand: the values of every extField except `Signature`, in
/// Java String order of their keys, then the body, HMAC-SHA1 with the secret, Base64.
fn hand_signed_send(topic: &str, ak: &str, sk: &str, body: &[u8]) -> RemotingCommand {
    let mut cmd = RemotingCommand::request_with(RequestCode::SEND_MESSAGE_V2, &send_header(topic))
        .with_body(body.to_vec());
    cmd.ext_fields.insert("AccessKey".into(), ak.into());
    let mut keys: Vec<String> = cmd.ext_fields.keys().cloned().collect();
    keys.sort(); // ASCII keys: byte order is Java's UTF-16 order
    let content: String = keys.iter().map(|k| cmd.ext_fields[k].clone()).collect();
    assert!(
        content.starts_with(ak),
        "AccessKey sorts first among these keys: {keys:?}"
    );
    let mut mac = Hmac::<Sha1>::new_from_slice(sk.as_bytes()).unwrap();
    mac.update(content.as_bytes());
    mac.update(body);
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    cmd.ext_fields.insert("Signature".into(), sig);
    cmd
}

fn refused(r: &RemotingCommand, needle: &str) {
    assert_eq!(r.code, ResponseCode::SYSTEM_ERROR.code(), "{r:?}");
    let remark = r.remark.clone().unwrap_or_default();
    assert!(
        remark.contains(needle),
        "remark {remark:?} should contain {needle:?}"
    );
    for secret in ["12345678", "87654321"] {
        assert!(!remark.contains(secret), "the secret leaked into {remark:?}");
    }
}

fn create_topic_as_admin(c: &AclCluster) {
    let broker = c.broker();
    let out = c.mqadmin_as(
        "rocketmq2",
        "87654321",
        &["updateTopic", "-b", &broker, "-t", TOPIC, "-r", "4", "-w", "4"],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    wait_route(&c.ns(), TOPIC, "broker-a");
}

#[test]
fn signatures_permissions_and_admin_codes_are_checked_as_apache_does() {
    let c = start();
    let broker = c.broker();
    create_topic_as_admin(&c);

    // A signature computed by hand passes; the same bytes sent again pass too (Apache's scheme
    // has no replay protection, see the README).
    let ok = hand_signed_send(TOPIC, "RocketMQ", "12345678", b"hello acl");
    let r = request(&broker, ok.clone(), RPC).unwrap();
    assert_eq!(r.code, ResponseCode::SUCCESS.code(), "{r:?}");
    let r = request(&broker, ok.clone(), RPC).unwrap();
    assert_eq!(
        r.code,
        ResponseCode::SUCCESS.code(),
        "a replay is accepted, as by Apache: {r:?}"
    );

    // Tampering with the body or with a header value breaks the signature.
    let mut body_changed = ok.clone();
    body_changed.body = bytes::Bytes::from_static(b"hello acm");
    refused(
        &request(&broker, body_changed, RPC).unwrap(),
        "Check signature failed for accessKey=RocketMQ",
    );
    let mut topic_changed = ok.clone();
    topic_changed.ext_fields.insert("b".into(), "OtherTopic".into());
    refused(
        &request(&broker, topic_changed, RPC).unwrap(),
        "Check signature failed",
    );

    // Wrong secret, unknown account, no credentials at all.
    refused(
        &request(
            &broker,
            hand_signed_send(TOPIC, "RocketMQ", "wrong-secret", b"x"),
            RPC,
        )
        .unwrap(),
        "Check signature failed for accessKey=RocketMQ",
    );
    refused(
        &request(
            &broker,
            hand_signed_send(TOPIC, "nobody42", "whatever", b"x"),
            RPC,
        )
        .unwrap(),
        "No acl config for nobody42",
    );
    let unsigned =
        RemotingCommand::request_with(RequestCode::SEND_MESSAGE_V2, &send_header(TOPIC)).with_body(&b"x"[..]);
    refused(
        &request(&broker, unsigned.clone(), RPC).unwrap(),
        "No accessKey is configured",
    );

    // A topic the account may not use (defaultTopicPerm DENY).
    let out = c.mqadmin_as(
        "RocketMQ",
        "12345678",
        &["sendMessage", "-t", "DeniedTopic", "-p", "x"],
    );
    assert!(!out.status.success());
    refused(
        &request(
            &broker,
            hand_signed_send("DeniedTopic", "RocketMQ", "12345678", b"x"),
            RPC,
        )
        .unwrap(),
        "No default permission for topic=DeniedTopic, accessKey=RocketMQ needs PUB",
    );

    // Admin codes need an admin account.
    let out = c.mqadmin_as(
        "RocketMQ",
        "12345678",
        &["updateTopic", "-b", &broker, "-t", "Sneaky"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Need admin permission for request code=17, but accessKey=RocketMQ is not"),
        "{}",
        stderr(&out)
    );

    // mqadmin with the plain account sends and reads back on its own topic.
    let out = c.mqadmin_as(
        "RocketMQ",
        "12345678",
        &["sendMessage", "-t", TOPIC, "-p", "from-mqadmin"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = c.mqadmin_as(
        "RocketMQ",
        "12345678",
        &["consumeMessage", "-t", TOPIC, "-c", "10"],
    );
    assert!(
        stdout(&out).contains("from-mqadmin"),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    // The load tool signs too.
    let ns = c.ns();
    let bench = |sk: &str| {
        run_bin(
            env!("CARGO_BIN_EXE_rmq-bench"),
            &[
                "send",
                "--namesrv",
                &ns,
                "--topic",
                TOPIC,
                "--count",
                "50",
                "--in-flight",
                "4",
                "--access-key",
                "RocketMQ",
                "--secret-key",
                sk,
            ],
            &[],
            Duration::from_secs(60),
        )
    };
    let out = bench("12345678");
    assert!(
        stdout(&out).contains("ok=50 failed=0"),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let out = bench("wrong-secret");
    assert!(!out.status.success(), "{}", stdout(&out));
    // Without credentials mqadmin is refused.
    let out = mqadmin(&c.ns(), &["sendMessage", "-t", TOPIC, "-p", "anon"]);
    assert!(!out.status.success());

    // The broker log names refusals without the secret.
    let log = c.single.broker.proc.log();
    assert!(log.contains("request refused by ACL"), "{log}");
    assert!(
        !log.contains("12345678") && !log.contains("87654321"),
        "a secret reached the log"
    );
}

#[test]
fn white_lists_admin_updates_and_hot_reload() {
    let c = start();
    let broker = c.broker();
    let unsigned = || {
        RemotingCommand::request_with(RequestCode::SEND_MESSAGE_V2, &send_header(TOPIC)).with_body(&b"x"[..])
    };
    create_topic_as_admin(&c);
    refused(
        &request(&broker, unsigned(), RPC).unwrap(),
        "No accessKey is configured",
    );

    // The global white list lets a peer in without any signature.
    let white_list = |addrs: &str| {
        let out = c.mqadmin_as(
            "rocketmq2",
            "87654321",
            &["updateGlobalWhiteAddr", "-b", &broker, "-g", addrs],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    };
    white_list("127.0.0.*");
    assert_eq!(
        request(&broker, unsigned(), RPC).unwrap().code,
        ResponseCode::SUCCESS.code()
    );
    white_list("10.1.1.1");
    refused(
        &request(&broker, unsigned(), RPC).unwrap(),
        "No accessKey is configured",
    );

    // A new account over the admin API, with its own white address: a bad signature is not
    // even checked from that address.
    let out = c.mqadmin_as(
        "rocketmq2",
        "87654321",
        &[
            "updateAclConfig",
            "-b",
            &broker,
            "-a",
            "whitelisted",
            "-s",
            "whatever1",
            "-w",
            "127.0.0.1",
            "-i",
            "DENY",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let r = request(
        &broker,
        hand_signed_send(TOPIC, "whitelisted", "not-the-secret", b"x"),
        RPC,
    )
    .unwrap();
    assert_eq!(r.code, ResponseCode::SUCCESS.code(), "{r:?}");
    // A plain account may not manage accounts (this project requires admin; see README).
    let out = c.mqadmin_as(
        "RocketMQ",
        "12345678",
        &["deleteAclConfig", "-b", &broker, "-a", "whitelisted"],
    );
    assert!(!out.status.success());
    let out = c.mqadmin_as(
        "rocketmq2",
        "87654321",
        &["deleteAclConfig", "-b", &broker, "-a", "whitelisted"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    refused(
        &request(
            &broker,
            hand_signed_send(TOPIC, "whitelisted", "not-the-secret", b"x"),
            RPC,
        )
        .unwrap(),
        "No acl config for whitelisted",
    );
    let out = c.mqadmin_as(
        "rocketmq2",
        "87654321",
        &["clusterAclConfigVersion", "-b", &broker],
    );
    assert!(
        out.status.success() && stdout(&out).contains("plain_acl.yml"),
        "{}",
        stdout(&out)
    );

    // Hot reload: an account added by editing the file is in force within the watch period.
    let text = std::fs::read_to_string(&c.acl_file).unwrap();
    assert!(!text.contains("whitelisted"), "deleted from the file too");
    let edited =
        format!("{ACL_FILE}  - accessKey: handadded\n    secretKey: handsecret\n    defaultTopicPerm: PUB\n");
    std::fs::write(&c.acl_file, edited).unwrap();
    wait_until(
        "the edited ACL file to be reloaded",
        Duration::from_secs(30),
        || {
            let r = request(
                &broker,
                hand_signed_send(TOPIC, "handadded", "handsecret", b"x"),
                RPC,
            )
            .ok()?;
            (r.code == ResponseCode::SUCCESS.code()).then_some(())
        },
    );
    // A broken file keeps the last good rules in force and says why in the log.
    std::fs::write(&c.acl_file, "accounts: [ {accessKey: broken").unwrap();
    wait_until("the broken file to be reported", Duration::from_secs(30), || {
        c.single
            .broker
            .proc
            .log()
            .contains("ACL file changed but cannot be used")
            .then_some(())
    });
    let r = request(
        &broker,
        hand_signed_send(TOPIC, "handadded", "handsecret", b"x"),
        RPC,
    )
    .unwrap();
    assert_eq!(
        r.code,
        ResponseCode::SUCCESS.code(),
        "last good rules still in force: {r:?}"
    );
}

fn venv_python(venv: &str) -> Option<PathBuf> {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(venv)
        .join("bin/python");
    if python.is_file() {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing in CI",
        python.display()
    );
    eprintln!(
        "skipping: {} is missing (run scripts/setup-test-env.sh)",
        python.display()
    );
    None
}

fn run_py(python: &Path, script: &str, args: &[&str], home: &Path) -> std::process::Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    let mut all = vec![script.to_str().unwrap()];
    all.extend_from_slice(args);
    run_bin(
        python.to_str().unwrap(),
        &all,
        &[("HOME", home.to_str().unwrap())],
        Duration::from_secs(200),
    )
}

#[test]
fn the_apache_cpp_client_signs_with_session_credentials() {
    let Some(python) = venv_python(".venv-cpp2") else {
        return;
    };
    let c = start();
    create_topic_as_admin(&c);
    let ns = c.ns();
    let dir = c.single.dir.path();
    let sent = dir.join("sent.jsonl").display().to_string();
    let produce = |ak: &str, sk: &str, topic: &str, count: &str| {
        run_py(
            &python,
            "produce.py",
            &[
                "--namesrv",
                &ns,
                "--topic",
                topic,
                "--group",
                "acl_pg",
                "--count",
                count,
                "--run",
                "acl",
                "--out",
                &sent,
                "--access-key",
                ak,
                "--secret-key",
                sk,
            ],
            dir,
        )
    };
    let out = produce("RocketMQ", "12345678", TOPIC, "50");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));

    let got = dir.join("got.jsonl").display().to_string();
    let out = run_py(
        &python,
        "consume.py",
        &[
            "--namesrv",
            &ns,
            "--topic",
            TOPIC,
            "--group",
            "acl_cg",
            "--expect",
            "50",
            "--timeout",
            "120",
            "--out",
            &got,
            "--access-key",
            "RocketMQ",
            "--secret-key",
            "12345678",
        ],
        dir,
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));

    // A wrong secret, and a topic the account may not use, are refused. The C++ client retries
    // the SYSTEM_ERROR and then reports its own "No route info" text; the broker's remark is
    // in its log.
    let out = produce("RocketMQ", "wrong-secret", TOPIC, "1");
    assert!(!out.status.success());
    let sent_text = std::fs::read_to_string(&sent).unwrap();
    assert!(sent_text.contains("\"status\": -1"), "{sent_text}");
    let log = c.single.broker.proc.log();
    assert!(
        log.contains("Check signature failed for accessKey=RocketMQ"),
        "{log}"
    );
    let out = produce("RocketMQ", "12345678", "DeniedTopic", "1");
    assert!(!out.status.success());
    let log = c.single.broker.proc.log();
    assert!(
        log.contains("No default permission for topic=DeniedTopic"),
        "{log}"
    );
}
