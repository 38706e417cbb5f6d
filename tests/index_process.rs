//! The message index with the real `mqbroker`, `mqnamesrv` and `mqadmin`: `queryMsgByKey`,
//! `queryMsgByUniqueKey` and `queryMsgByOffset` print Apache's output, and after SIGKILL and a
//! restart the broker rebuilds the index from the commit log, so every key is found again.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{create_topic, mqadmin, mqadmin_ok, request, stderr, wait_route, wait_until, Single};
use rmq_remoting::headers::send::{SendMessageRequestHeaderV2, SendMessageResponseHeader};
use rmq_remoting::{RemotingCommand, RequestCode};

const T: Duration = Duration::from_secs(20);
const TOPIC: &str = "IndexTopic";

/// A client-style unique id: 32 hex digits.
fn uniq(i: u32) -> String {
    format!("7F0000010000ABCD1234{i:012X}")
}

/// Sends one message with `keys` and a unique key to `queue_id`; returns its queue offset.
fn send(addr: &str, queue_id: i32, i: u32, keys: &str) -> i64 {
    let h = SendMessageRequestHeaderV2 {
        a: "pg".into(),
        b: TOPIC.into(),
        c: "TBW102".into(),
        d: 4,
        e: queue_id,
        g: 1,
        i: Some(format!(
            "KEYS\u{1}{keys}\u{2}UNIQ_KEY\u{1}{}\u{2}WAIT\u{1}true",
            uniq(i)
        )),
        ..Default::default()
    };
    let cmd = RemotingCommand::request_with(RequestCode::SEND_MESSAGE_V2, &h)
        .with_body(Bytes::from(format!("body-{i}")));
    let r = request(addr, cmd, T).expect("send");
    assert_eq!(r.code, 0, "send acknowledged: {r:?}");
    r.decode_header::<SendMessageResponseHeader>()
        .unwrap()
        .queue_offset
}

/// The message-id column of `queryMsgByKey` once it lists `n` messages.
fn wait_listed(ns: &str, key: &str, n: usize) -> Vec<String> {
    wait_until(&format!("queryMsgByKey {key} to list {n} messages"), T, || {
        let o = mqadmin(ns, &["queryMsgByKey", "-t", TOPIC, "-k", key]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let ids: Vec<String> = out
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect();
        (o.status.success() && ids.len() == n).then_some(ids)
    })
}

/// `queryMsgByOffset` of queue 0 of broker-a at `offset`.
fn by_offset_args(offset: &str) -> [&str; 9] {
    [
        "queryMsgByOffset",
        "-t",
        TOPIC,
        "-b",
        "broker-a",
        "-i",
        "0",
        "-o",
        offset,
    ]
}

/// `queryMsgByUniqueKey -i <id>` asking client `client_id` of group `direct_cg` to consume it.
fn consume_directly_args<'a>(id: &'a str, client_id: &'a str) -> [&'a str; 9] {
    [
        "queryMsgByUniqueKey",
        "-i",
        id,
        "-t",
        TOPIC,
        "-g",
        "direct_cg",
        "-d",
        client_id,
    ]
}

#[test]
fn query_commands_print_apaches_output_and_the_index_survives_sigkill() {
    let mut s = Single::start(&[]);
    let ns = s.namesrv.addr();
    let addr = s.broker.addr();
    create_topic(&addr, TOPIC, 2);
    wait_route(&ns, TOPIC, "broker-a");

    let mut offsets = Vec::new();
    for i in 0..6u32 {
        let keys = if i % 2 == 0 {
            format!("order-9 k{i}")
        } else {
            format!("k{i}")
        };
        offsets.push(send(&addr, (i % 2) as i32, i, &keys));
    }

    // queryMsgByKey: Apache's "%-50s %4s %40s" header and one "%-50s %4d %40d" line each.
    let mut ids = wait_listed(&ns, "order-9", 3);
    ids.sort();
    assert_eq!(ids, vec![uniq(0), uniq(2), uniq(4)]);
    let out = mqadmin_ok(&ns, &["queryMsgByKey", "-t", TOPIC, "-k", "k2"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!("{:<50} {:>4} {:>40}", "#Message ID", "#QID", "#Offset")
    );
    assert_eq!(lines[1], format!("{:<50} {:>4} {:>40}", uniq(2), 0, offsets[2]));
    assert_eq!(lines.len(), 2, "{out}");
    let later = mqadmin(
        &ns,
        &["queryMsgByKey", "-t", TOPIC, "-k", "k2", "-b", "4102444800000"],
    );
    assert!(!later.status.success(), "a range in 2100 finds nothing");
    assert!(stderr(&later).contains("no message"), "{}", stderr(&later));

    // queryMsgByUniqueKey: the detail block without OffsetID.
    let out = mqadmin_ok(&ns, &["queryMsgByUniqueKey", "-i", &uniq(3), "-t", TOPIC]);
    let field = |out: &str, name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .map(|l| l[20..].trim().to_string())
            .unwrap_or_else(|| panic!("no {name} in {out}"))
    };
    assert!(out.lines().next().unwrap().starts_with("Topic:"), "{out}");
    assert_eq!(field(&out, "Topic:"), TOPIC);
    assert_eq!(field(&out, "Keys:"), "[k3]");
    assert_eq!(field(&out, "Queue ID:"), "1");
    assert_eq!(field(&out, "Queue Offset:"), offsets[3].to_string());
    assert_eq!(field(&out, "Message Body:"), "body-3");

    // queryMsgByOffset: queryMsgById's block for the message at queue 0, offset 1.
    let out = mqadmin_ok(&ns, &by_offset_args("1"));
    assert_eq!(field(&out, "Keys:"), "[order-9 k2]");
    let offset_id = field(&out, "OffsetID:");
    let by_id = mqadmin_ok(&ns, &["queryMsgById", "-i", &offset_id]);
    assert_eq!(
        field(&by_id, "Message Body:"),
        "body-2",
        "the OffsetID is an offset msgId"
    );
    let past = mqadmin(&ns, &by_offset_args("3"));
    assert!(!past.status.success());
    assert!(stderr(&past).contains("NO_NEW_MSG"), "{}", stderr(&past));

    // SIGKILL: the active index file is past the checkpoint's index timestamp, so the
    // restarted broker drops it and rebuilds the index from the commit log.
    s.broker.kill_9();
    s.broker.restart();
    wait_route(&ns, TOPIC, "broker-a");
    let mut ids = wait_listed(&ns, "order-9", 3);
    ids.sort();
    assert_eq!(ids, vec![uniq(0), uniq(2), uniq(4)], "no key lost, none repeated");
    assert!(
        s.broker
            .proc
            .log()
            .contains("follower rebuilds from the commit log"),
        "the restart went through the crash path"
    );
    send(&addr, 1, 6, "order-9");
    let ids = wait_listed(&ns, "order-9", 4);
    assert!(ids.contains(&uniq(6)), "indexing goes on after the restart");
    let out = mqadmin_ok(&ns, &["queryMsgByUniqueKey", "-i", &uniq(5), "-t", TOPIC]);
    assert_eq!(field(&out, "Message Body:"), "body-5");
}

#[test]
fn query_by_unique_key_with_group_and_client_id_has_that_consumer_consume_it() {
    let s = Single::start(&[]);
    let ns = s.namesrv.addr();
    let addr = s.broker.addr();
    create_topic(&addr, TOPIC, 2);
    wait_route(&ns, TOPIC, "broker-a");
    send(&addr, 0, 7, "direct");

    // A Rust push consumer in this process: it records every message its callback sees.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = seen.clone();
    let consumer = rt
        .block_on(
            rmq_client::PushConsumer::builder(rmq_client::PushConsumerConfig {
                client: rmq_client::ClientConfig::new(&ns),
                group: "direct_cg".into(),
                consume_from_where: rmq_client::ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET,
                ..Default::default()
            })
            .subscribe(TOPIC, "*")
            .start(move |m| {
                let sink = sink.clone();
                async move {
                    sink.lock()
                        .unwrap()
                        .push(format!("{} {}", m.topic(), String::from_utf8_lossy(m.body())));
                    rmq_client::ConsumeResult::Success
                }
            }),
        )
        .unwrap();
    let client_id = consumer.client_id().to_string();
    let count = || seen.lock().unwrap().len();
    wait_until("the consumer to receive the message from its queue", T, || {
        (count() == 1).then_some(())
    });

    let out = mqadmin_ok(&ns, &consume_directly_args(&uniq(7), &client_id));
    assert!(
        out.starts_with(
            "ConsumeMessageDirectlyResult [order=false, autoCommit=true, consumeResult=CR_SUCCESS, remark=null, spentTimeMills="
        ),
        "{out}"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [format!("{TOPIC} body-7"), format!("{TOPIC} body-7")],
        "consumed once from the queue and once directly"
    );

    // A client that is not a member of the group is named in the error.
    let gone = mqadmin(&ns, &consume_directly_args(&uniq(7), "10.0.0.1@nobody"));
    assert!(!gone.status.success());
    assert!(
        stderr(&gone).contains("The Consumer <direct_cg> <10.0.0.1@nobody> not online"),
        "{}",
        stderr(&gone)
    );
    // -g without -d is a usage error, as -d without -g.
    let half = mqadmin(
        &ns,
        &[
            "queryMsgByUniqueKey",
            "-i",
            &uniq(7),
            "-t",
            TOPIC,
            "-g",
            "direct_cg",
        ],
    );
    assert_eq!(half.status.code(), Some(2), "{}", stderr(&half));
    rt.block_on(consumer.shutdown());
}
