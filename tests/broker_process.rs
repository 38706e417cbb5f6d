//! Process-level broker tests with the real `mqbroker` and `mqnamesrv` binaries: crash safety
//! (SIGKILL and restart keeps topics, committed offsets and every acknowledged SYNC_FLUSH
//! message), graceful SIGTERM (unregisters, persists offsets at once), and the command line.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::messages::{pull_all, send_request};
use common::{request, run_bin, wait_until, Single};
use rmq_remoting::headers::admin::CreateTopicRequestHeader;
use rmq_remoting::headers::offset::{QueryConsumerOffsetRequestHeader, UpdateConsumerOffsetRequestHeader};
use rmq_remoting::{RemotingCommand, RequestCode};

const T: Duration = Duration::from_secs(10);

fn commit(addr: &str, group: &str, topic: &str, q: i32, offset: i64) {
    let h = UpdateConsumerOffsetRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id: q,
        commit_offset: offset,
        bname: None,
    };
    let r = request(
        addr,
        RemotingCommand::request_with(RequestCode::UPDATE_CONSUMER_OFFSET, &h),
        T,
    )
    .unwrap();
    assert_eq!(r.code, 0);
}

fn query(addr: &str, group: &str, topic: &str, q: i32) -> Option<i64> {
    let h = QueryConsumerOffsetRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id: q,
        bname: None,
    };
    let r = request(
        addr,
        RemotingCommand::request_with(RequestCode::QUERY_CONSUMER_OFFSET, &h),
        T,
    )
    .unwrap();
    (r.code == 0).then(|| r.ext("offset").unwrap().parse().unwrap())
}

#[test]
fn sigkill_keeps_topics_offsets_and_acknowledged_sync_flush_messages() {
    let mut s = Single::start(&[
        ("flushDiskType", "SYNC_FLUSH"),
        ("flushConsumerOffsetInterval", "200"),
    ]);
    let addr = s.broker.addr();
    let create = CreateTopicRequestHeader {
        topic: "Crash".into(),
        default_topic: "TBW102".into(),
        read_queue_nums: 4,
        write_queue_nums: 4,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".into(),
        topic_sys_flag: None,
        order: false,
    };
    let r = request(
        &addr,
        RemotingCommand::request_with(RequestCode::UPDATE_AND_CREATE_TOPIC, &create),
        T,
    )
    .unwrap();
    assert_eq!(r.code, 0);
    // Every acknowledged message, by queue.
    let mut acked: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for i in 0..200 {
        let q = i % 4;
        let body = format!("msg-{i}");
        let r = request(&addr, send_request("Crash", q, &body), T).unwrap();
        assert_eq!(r.code, 0, "SYNC_FLUSH send acknowledged: {r:?}");
        acked.entry(q).or_default().push(body);
    }
    commit(&addr, "cg", "Crash", 1, 17);
    // Offsets are persisted every flushConsumerOffsetInterval; wait until that happened.
    let offsets_file = s.broker.dir.join("store/config/consumerOffset.json");
    wait_until("consumerOffset.json to hold the commit", T, || {
        std::fs::read_to_string(&offsets_file)
            .ok()
            .filter(|t| t.contains("Crash@cg"))
            .map(|_| ())
    });

    s.broker.kill_9();
    s.broker.restart();

    for (q, bodies) in &acked {
        let got: Vec<String> = pull_all(&addr, "Crash", *q)
            .iter()
            .map(|m| String::from_utf8_lossy(&m.body).into_owned())
            .collect();
        assert_eq!(&got, bodies, "queue {q} after SIGKILL");
    }
    assert_eq!(query(&addr, "cg", "Crash", 1), Some(17));
    let all = request(
        &addr,
        RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG),
        T,
    )
    .unwrap();
    assert!(String::from_utf8_lossy(&all.body).contains("\"Crash\""));
    // Sends keep working after recovery, continuing each queue's offsets.
    let r = request(&addr, send_request("Crash", 0, "after"), T).unwrap();
    assert_eq!(r.ext("queueOffset"), Some("50"));
}

#[test]
fn sigterm_unregisters_and_persists_offsets_at_once() {
    let mut s = Single::start(&[]);
    let addr = s.broker.addr();
    let r = request(&addr, send_request("Graceful", 0, "x"), T).unwrap();
    assert_eq!(r.code, 0);
    // Default interval is 5 s: a graceful stop must not wait for it.
    commit(&addr, "cg", "Graceful", 0, 1);
    let status = s.broker.terminate().expect("exit status");
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let ns = s.namesrv.addr();
    let info = common::cluster_info(&ns).unwrap_or_default();
    assert!(!info.contains(&format!("\"{addr}\"")), "unregistered: {info}");
    let log = s.broker.proc.log();
    assert!(log.contains("unregistered from nameserver"), "{log}");
    s.broker.restart();
    assert_eq!(query(&addr, "cg", "Graceful", 0), Some(1));
}

#[test]
fn command_line_prints_config_and_rejects_bad_values() {
    let dir = common::temp_dir();
    let conf = dir.path().join("broker.conf");
    std::fs::write(&conf, "brokerName=broker-z\nlistenPort=23456\nbogusKey=1\n").unwrap();
    let exe = env!("CARGO_BIN_EXE_mqbroker");
    let out = run_bin(
        exe,
        &[
            "-c",
            conf.to_str().unwrap(),
            "-n",
            "127.0.0.1:1;127.0.0.1:2",
            "-p",
        ],
        &[],
        T,
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("brokerName=broker-z\n"), "{text}");
    assert!(text.contains("namesrvAddr=127.0.0.1:1;127.0.0.1:2\n"), "{text}");
    assert!(text.contains("haListenPort=23457\n"), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bogusKey"),
        "unknown key warned about"
    );

    std::fs::write(&conf, "brokerRole=LEADER\n").unwrap();
    let out = run_bin(exe, &["-c", conf.to_str().unwrap(), "-p"], &[], T);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("brokerRole"),
        "the bad key is named"
    );
    let help = run_bin(exe, &["--help"], &[], T);
    assert!(String::from_utf8_lossy(&help.stdout).contains("broker.conf"));
}
