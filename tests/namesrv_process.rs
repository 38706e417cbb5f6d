//! The real `mqnamesrv` binary: config file and flags, `-p`, bad values, clean SIGTERM, and the KV
//! config surviving a restart and a SIGKILL.

mod common;

use std::time::Duration;

use common::*;
use rmq_remoting::headers::namesrv::{GetKvConfigRequestHeader, PutKvConfigRequestHeader};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

const BIN: &str = env!("CARGO_BIN_EXE_mqnamesrv");
const RPC: Duration = Duration::from_secs(5);

fn put_kv(addr: &str, key: &str, value: &str) {
    let h = PutKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: key.into(),
        value: value.into(),
    };
    let reply = request(
        addr,
        RemotingCommand::request_with(RequestCode::PUT_KV_CONFIG, &h),
        RPC,
    )
    .expect("put");
    assert!(reply.is_success(), "{reply:?}");
}

fn get_kv(addr: &str, key: &str) -> Option<String> {
    let h = GetKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: key.into(),
    };
    let reply = request(
        addr,
        RemotingCommand::request_with(RequestCode::GET_KV_CONFIG, &h),
        RPC,
    )
    .expect("get");
    if reply.code == ResponseCode::QUERY_NOT_FOUND.code() {
        return None;
    }
    reply.ext("value").map(str::to_string)
}

#[test]
fn print_config_shows_file_then_flags() {
    let dir = temp_dir();
    let conf = dir.path().join("namesrv.conf");
    std::fs::write(
        &conf,
        "listenPort=9911\norderMessageEnable=true\nserverWorkerThreads=8\nnoSuchKey=1\n",
    )
    .unwrap();
    let home = dir.path().join("home");
    let conf_arg = conf.display().to_string();
    let home_arg = home.display().to_string();
    let out = run_bin(
        BIN,
        &[
            "-c",
            &conf_arg,
            "--listen-port",
            "1234",
            "--home",
            &home_arg,
            "-p",
        ],
        &[("RUST_LOG", "warn")],
        Duration::from_secs(20),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("listenPort=1234\n"), "{stdout}");
    assert!(stdout.contains("orderMessageEnable=true\n"), "{stdout}");
    assert!(stdout.contains(&format!(
        "kvConfigPath={}\n",
        home.join("namesrv").join("kvConfig.json").display()
    )));
    assert!(stderr.contains("noSuchKey"), "unknown key warned about: {stderr}");
    assert!(
        !stderr.contains("serverWorkerThreads"),
        "known Apache key accepted quietly: {stderr}"
    );
    assert!(!home.exists(), "-p starts nothing and writes nothing");
}

#[test]
fn bad_values_are_rejected_naming_the_key() {
    let dir = temp_dir();
    let conf = dir.path().join("namesrv.conf");
    std::fs::write(&conf, "# comment\nbrokerChannelExpiredTime=soon\n").unwrap();
    let conf_arg = conf.display().to_string();
    let out = run_bin(BIN, &["-c", &conf_arg, "-p"], &[], Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("`brokerChannelExpiredTime` (line 2)"), "{stderr}");
    assert!(!stderr.contains("Stack backtrace"), "{stderr}");
    let missing = run_bin(
        BIN,
        &["-c", "/nonexistent/namesrv.conf"],
        &[],
        Duration::from_secs(20),
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/namesrv.conf"));
    let help = run_bin(BIN, &["--help"], &[], Duration::from_secs(20));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--listen-port") && text.contains("kvConfigPath"),
        "{text}"
    );
}

#[test]
fn sigterm_is_clean_and_kv_survives_restart_and_sigkill() {
    let dir = temp_dir();
    let mut ns = Namesrv::start(dir.path());
    let addr = ns.addr();
    put_kv(&addr, "TopicA", "broker-a:4");
    let status = ns.terminate().expect("exit status");
    assert!(status.success(), "SIGTERM exit: {status:?}\n{}", ns.proc.log());
    assert!(ns.proc.log().contains("SIGTERM received"));
    // A log file is not a terminal: no colour codes (the broker shares the same logging setup).
    assert!(!ns.proc.log().contains('\x1b'), "{:?}", ns.proc.log());

    ns.restart();
    assert_eq!(get_kv(&addr, "TopicA").as_deref(), Some("broker-a:4"));
    // Acknowledged means on disk: a SIGKILL right after the reply loses nothing.
    put_kv(&addr, "TopicB", "broker-b:8");
    ns.kill_9();
    ns.restart();
    assert_eq!(get_kv(&addr, "TopicB").as_deref(), Some("broker-b:8"));
    assert_eq!(get_kv(&addr, "TopicA").as_deref(), Some("broker-a:4"));
    assert!(ns.home.join("namesrv").join("kvConfig.json").is_file());
}
