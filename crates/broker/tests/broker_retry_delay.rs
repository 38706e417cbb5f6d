//! Delayed delivery, retries and dead letters over real sockets, with a short delay table
//! (`messageDelayLevel = 100ms 200ms ...`).

mod broker_common;

use std::time::{Duration, Instant};

use broker_common::*;
use rmq_remoting::headers::client::ConsumerSendMsgBackRequestHeader;
use rmq_remoting::message::{id, MessageRecord};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

const LEVELS: &str = "100ms 200ms 300ms 400ms 500ms 600ms";

async fn start() -> TestBroker {
    TestBroker::start_with(|c| c.message_delay_level = LEVELS.into()).await
}

/// Pulls `topic` queue `q` from `offset` until something arrives.
async fn pull_one(b: &TestBroker, topic: &str, q: i32, offset: i64) -> MessageRecord {
    wait_for(Duration::from_secs(10), || async {
        let r = b
            .call(pull_request("probe", topic, q, offset, Some("*"), 0, 0))
            .await;
        (r.code == 0).then(|| records(&r).remove(0))
    })
    .await
}

fn send_back(offset: i64, group: &str, delay_level: i32, max: Option<i32>) -> RemotingCommand {
    RemotingCommand::request_with(
        RequestCode::CONSUMER_SEND_MSG_BACK,
        &ConsumerSendMsgBackRequestHeader {
            offset,
            group: group.into(),
            delay_level,
            origin_msg_id: None,
            origin_topic: None,
            unit_mode: Some(false),
            max_reconsume_times: max,
        },
    )
}

#[tokio::test]
async fn delayed_message_arrives_after_its_level() {
    let b = start().await;
    let sent = Instant::now();
    let r = b
        .call(send_request("Later", 0, b"late", "DELAY\u{1}3\u{2}TAGS\u{1}T"))
        .await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.ext("queueId"), Some("0"));
    // Not visible in its queue at once.
    let early = b.call(pull_request("g", "Later", 0, 0, Some("*"), 0, 0)).await;
    assert_ne!(early.code, 0, "delivered too early");
    // A held pull is woken by the delivery.
    let r = b
        .call(pull_request("g", "Later", 0, 0, Some("*"), 5_000, 0))
        .await;
    let waited = sent.elapsed();
    assert_eq!(r.code, 0, "{r:?}");
    let rec = records(&r).remove(0);
    assert_eq!(&rec.body[..], b"late");
    assert_eq!(rec.property("DELAY"), None);
    assert_eq!(rec.property("REAL_TOPIC"), Some("Later"));
    assert!(
        waited >= Duration::from_millis(290),
        "level 3 is 300 ms, arrived after {waited:?}"
    );
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    b.stop().await;
}

#[tokio::test]
async fn send_back_retries_after_delay_then_dead_letters() {
    let b = start().await;
    assert_eq!(
        b.call(heartbeat("10.0.0.1@c", "cg", "Work", "*", 1)).await.code,
        0
    );
    let r = b
        .call(send_request("Work", 0, b"job", "TAGS\u{1}T\u{2}KEYS\u{1}k1"))
        .await;
    let (_, phys) = id::decode_offset_msg_id(r.ext("msgId").unwrap()).unwrap();

    // First failure, level 0 => 3 + reconsumeTimes(0) = level 3 (300 ms).
    let started = Instant::now();
    let back = b.call(send_back(phys, "cg", 0, Some(2))).await;
    assert_eq!(back.code, 0, "{back:?}");
    let retry = pull_one(&b, "%RETRY%cg", 0, 0).await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(290), "retried after {waited:?}");
    assert_eq!(&retry.body[..], b"job");
    assert_eq!(retry.reconsume_times, 1);
    assert_eq!(retry.property("RETRY_TOPIC"), Some("Work"));
    assert_eq!(retry.property("KEYS"), Some("k1"));
    assert!(retry.property("ORIGIN_MESSAGE_ID").is_some());

    // Second failure of the retried copy: reconsumeTimes 1 < 2, retried again at level 4.
    let back = b.call(send_back(retry.physical_offset, "cg", 0, Some(2))).await;
    assert_eq!(back.code, 0);
    let again = pull_one(&b, "%RETRY%cg", 0, 1).await;
    assert_eq!(again.reconsume_times, 2);
    assert_eq!(
        again.property("ORIGIN_MESSAGE_ID"),
        retry.property("ORIGIN_MESSAGE_ID")
    );

    // Third failure: reconsumeTimes 2 >= max 2 => dead letter queue, at once.
    let back = b.call(send_back(again.physical_offset, "cg", 0, Some(2))).await;
    assert_eq!(back.code, 0);
    let dead = pull_one(&b, "%DLQ%cg", 0, 0).await;
    assert_eq!(&dead.body[..], b"job");
    assert_eq!(dead.reconsume_times, 3);
    assert_eq!(dead.property("RETRY_TOPIC"), Some("Work"));

    // A negative level goes straight to the DLQ; a bad offset is an error reply.
    let r = b.call(send_request("Work", 0, b"poison", "")).await;
    let (_, phys) = id::decode_offset_msg_id(r.ext("msgId").unwrap()).unwrap();
    assert_eq!(b.call(send_back(phys, "cg", -1, None)).await.code, 0);
    let dead2 = pull_one(&b, "%DLQ%cg", 0, 1).await;
    assert_eq!(&dead2.body[..], b"poison");
    let bad = b.call(send_back(123_456_789, "cg", 0, None)).await;
    assert_eq!(bad.code, ResponseCode::SYSTEM_ERROR.code());
    assert!(bad.remark.unwrap().starts_with("look message by offset failed"));
    b.stop().await;
}

#[tokio::test]
async fn delay_progress_survives_restart() {
    let b = start().await;
    assert_eq!(
        b.call(send_request("Durable", 0, b"d1", "DELAY\u{1}1"))
            .await
            .code,
        0
    );
    pull_one(&b, "Durable", 0, 0).await;
    let dir = b.stop().await;
    let mut cfg = test_config(dir.path());
    cfg.message_delay_level = LEVELS.into();
    let b = TestBroker::start_in(dir, cfg).await;
    assert_eq!(
        b.call(send_request("Durable", 0, b"d2", "DELAY\u{1}1"))
            .await
            .code,
        0
    );
    let second = pull_one(&b, "Durable", 0, 1).await;
    assert_eq!(&second.body[..], b"d2");
    // The first message was not delivered a second time.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = b.call(pull_request("g", "Durable", 0, 0, Some("*"), 0, 0)).await;
    assert_eq!(records(&r).len(), 2);
    b.stop().await;
}
