//! `mqadmin` end to end: the real binary against a real `mqnamesrv` and `mqbroker` started by the
//! process harness.

mod common;

use std::time::Duration;

use common::*;

fn route_perm(ns: &str, topic: &str) -> i64 {
    let route: serde_json::Value =
        serde_json::from_str(&mqadmin_ok(ns, &["topicRoute", "-t", topic])).expect("route is JSON");
    let qd = &route["queueDatas"][0];
    assert_eq!(qd["brokerName"], "broker-a", "{route}");
    qd["perm"].as_i64().expect("perm")
}

#[test]
fn update_topic_route_write_perm_and_cluster_listing() {
    let s = Single::start(&[]);
    let ns = s.namesrv.addr();
    let broker = s.broker.addr();

    let out = mqadmin_ok(
        &ns,
        &[
            "updateTopic",
            "-c",
            "DefaultCluster",
            "-t",
            "AdminTopic",
            "-r",
            "4",
            "-w",
            "4",
        ],
    );
    assert!(
        out.contains(&format!("create topic to {broker} success.")),
        "{out}"
    );
    assert!(
        out.contains("TopicConfig [topicName=AdminTopic, readQueueNums=4, writeQueueNums=4, perm=RW-"),
        "{out}"
    );

    let route: serde_json::Value =
        serde_json::from_str(&mqadmin_ok(&ns, &["topicRoute", "-t", "AdminTopic"])).expect("route is JSON");
    assert_eq!(route["queueDatas"][0]["writeQueueNums"], 4, "{route}");
    assert_eq!(
        route["brokerDatas"][0]["brokerAddrs"]["0"],
        broker.as_str(),
        "{route}"
    );
    assert_eq!(route_perm(&ns, "AdminTopic"), 6);

    let out = mqadmin_ok(&ns, &["wipeWritePerm", "-b", "broker-a"]);
    let line = format!("wipe write perm of broker[broker-a] in name server[{ns}] OK, ");
    let count: i64 = out
        .lines()
        .find_map(|l| l.strip_prefix(&line))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected wipeWritePerm output: {out}"));
    assert!(count >= 1, "at least AdminTopic was touched: {out}");
    assert_eq!(route_perm(&ns, "AdminTopic"), 4, "read-only after wipe");

    let out = mqadmin_ok(&ns, &["addWritePerm", "-b", "broker-a"]);
    assert!(
        out.contains(&format!(
            "add write perm of broker[broker-a] in name server[{ns}] OK, "
        )),
        "{out}"
    );
    assert_eq!(route_perm(&ns, "AdminTopic"), 6, "read-write again");

    let out = mqadmin_ok(&ns, &["clusterList"]);
    let row = out
        .lines()
        .find(|l| l.contains(&broker))
        .unwrap_or_else(|| panic!("broker missing: {out}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cols[..4],
        &["DefaultCluster", "broker-a", "0", broker.as_str()],
        "{row}"
    );

    let out = mqadmin_ok(&ns, &["topicList"]);
    assert!(out.lines().any(|l| l == "AdminTopic"), "{out}");

    let out = mqadmin_ok(&ns, &["brokerStatus", "-b", &broker]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("putTps") || l.starts_with("brokerVersionDesc")),
        "{out}"
    );
    let out = mqadmin_ok(&ns, &["getBrokerConfig", "-b", &broker]);
    assert!(
        out.contains(&format!("============{broker}============")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("brokerName") && l.ends_with("broker-a")),
        "{out}"
    );

    let out = mqadmin_ok(&ns, &["deleteTopic", "-t", "AdminTopic", "-c", "DefaultCluster"]);
    assert!(
        out.contains("delete topic [AdminTopic] from NameServer success."),
        "{out}"
    );
    let gone = mqadmin(&ns, &["topicRoute", "-t", "AdminTopic"]);
    assert!(
        !gone.status.success(),
        "route is gone after deleteTopic: {}",
        stdout(&gone)
    );
}

#[test]
fn send_consume_status_and_query_round_trip() {
    let s = Single::start(&[]);
    let ns = s.namesrv.addr();
    let broker = s.broker.addr();
    mqadmin_update_topic(&ns, &broker, "RoundTrip", 2);
    wait_route(&ns, "RoundTrip", "broker-a");

    let out = mqadmin_ok(
        &ns,
        &[
            "sendMessage",
            "-t",
            "RoundTrip",
            "-p",
            "hello admin",
            "-k",
            "key-1",
            "-c",
            "TagA",
        ],
    );
    let row = out
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("no result row: {out}"));
    assert!(row.starts_with("broker-a") && row.contains("SEND_OK"), "{out}");
    let uniq = row.split_whitespace().last().expect("msg id").to_string();
    assert_eq!(uniq.len(), 32, "UNIQ_KEY msg id: {row}");

    let out = mqadmin_ok(&ns, &["consumeMessage", "-t", "RoundTrip"]);
    let line = out
        .lines()
        .find(|l| l.starts_with("MSGID:"))
        .unwrap_or_else(|| panic!("nothing consumed: {out}"));
    assert!(line.starts_with(&format!("MSGID: {uniq} ")), "{line}");
    assert!(line.ends_with("BODY: hello admin"), "{line}");
    assert!(
        line.contains("KEYS=key-1") && line.contains("TAGS=TagA"),
        "{line}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("MSGID:")).count(),
        1,
        "{out}"
    );

    let out = mqadmin_ok(&ns, &["topicStatus", "-t", "RoundTrip"]);
    let max_total: i64 = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(3)?.parse::<i64>().ok())
        .sum();
    assert_eq!(max_total, 1, "one message over both queues: {out}");

    let offset_id = line
        .split("msgId=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or_else(|| panic!("no offset msgId in {line}"))
        .to_string();
    let out = mqadmin_ok(&ns, &["queryMsgById", "-i", &offset_id]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("Topic:") && l.ends_with("RoundTrip")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("Keys:") && l.ends_with("[key-1]")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("Message Body:") && l.ends_with("hello admin")),
        "{out}"
    );
}

#[test]
fn bad_usage_fails_with_a_clear_message() {
    let dir = temp_dir();
    let ns = Namesrv::start(dir.path());
    let addr = ns.addr();

    let o = mqadmin(&addr, &["updateTopic", "-t", "T", "-c", "C", "--bogus"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--bogus"), "{}", stderr(&o));

    let o = mqadmin(&addr, &["updateTopic", "-t", "T"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--clusterName"),
        "names the missing choice: {}",
        stderr(&o)
    );

    let o = run_bin(
        env!("CARGO_BIN_EXE_mqadmin"),
        &["clusterList"],
        &[("NAMESRV_ADDR", "")],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("NAMESRV_ADDR"), "{}", stderr(&o));

    let o = mqadmin(&addr, &["topicRoute", "-t", "NoSuchTopic"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("updateTopic"),
        "says how to create it: {}",
        stderr(&o)
    );

    let o = mqadmin(&addr, &["updateTopic", "-c", "NoSuchCluster", "-t", "T"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("NoSuchCluster"), "{}", stderr(&o));

    let dead = format!("127.0.0.1:{}", free_port());
    let o = mqadmin(&dead, &["clusterList"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("check that the server is running"),
        "{}",
        stderr(&o)
    );
}
