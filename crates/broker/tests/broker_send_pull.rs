//! Send and pull over real sockets: reply fields, validation codes, auto-creation, batches,
//! tag filtering, the pull status mappings and offset queries.

mod broker_common;

use broker_common::*;
use bytes::Bytes;
use rmq_remoting::headers::offset::{GetMaxOffsetRequestHeader, ViewMessageRequestHeader};
use rmq_remoting::message::batch::{self, BatchItem};
use rmq_remoting::message::{id, MessageRecord};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

#[tokio::test]
async fn send_then_pull_returns_the_stored_record() {
    let b = TestBroker::start().await;
    let resp = b
        .call(send_request("TopicA", 1, b"hello", &tag_props("TagA")))
        .await;
    assert_eq!(resp.code, 0, "{resp:?}");
    assert_eq!(resp.ext("queueId"), Some("1"));
    assert_eq!(resp.ext("queueOffset"), Some("0"));
    assert_eq!(resp.ext("MSG_REGION"), Some("DefaultRegion"));
    assert_eq!(resp.ext("TRACE_ON"), Some("true"));
    let msg_id = resp.ext("msgId").unwrap().to_string();
    assert_eq!(msg_id.len(), 32);
    let (host, phys) = id::decode_offset_msg_id(&msg_id).unwrap();
    assert_eq!(host, b.broker().addr());

    let second = b
        .call(send_request("TopicA", 1, b"world", &tag_props("TagB")))
        .await;
    assert_eq!(second.ext("queueOffset"), Some("1"));

    let pulled = b.call(pull_request("g1", "TopicA", 1, 0, Some("*"), 0, 0)).await;
    assert_eq!(pulled.code, 0, "{pulled:?}");
    assert_eq!(pulled.remark.as_deref(), Some("FOUND"));
    assert_eq!(ext_i64(&pulled, "nextBeginOffset"), 2);
    assert_eq!(ext_i64(&pulled, "maxOffset"), 2);
    assert_eq!(ext_i64(&pulled, "minOffset"), 0);
    assert_eq!(pulled.ext("suggestWhichBrokerId"), Some("0"));
    let recs = records(&pulled);
    assert_eq!(recs.len(), 2);
    assert_eq!(&recs[0].body[..], b"hello");
    assert_eq!(recs[0].physical_offset, phys);
    assert_eq!(recs[0].tags(), Some("TagA"));
    assert_eq!(recs[0].property("CLUSTER"), Some("DefaultCluster"));
    assert_eq!(recs[0].property("WAIT"), None, "WAIT is not stored");
    assert_eq!(recs[0].store_host, b.broker().addr());

    // Tag filtering: only TagB matches; a filter matching nothing says retry immediately.
    let only_b = b
        .call(pull_request("g1", "TopicA", 1, 0, Some("TagB"), 0, 0))
        .await;
    assert_eq!(records(&only_b).len(), 1);
    assert_eq!(records(&only_b)[0].tags(), Some("TagB"));
    let none = b
        .call(pull_request("g1", "TopicA", 1, 0, Some("TagZ"), 0, 0))
        .await;
    assert_eq!(none.code, ResponseCode::PULL_RETRY_IMMEDIATELY.code());
    assert_eq!(ext_i64(&none, "nextBeginOffset"), 2);

    // VIEW_MESSAGE_BY_ID returns the raw record.
    let view = RemotingCommand::request_with(
        RequestCode::VIEW_MESSAGE_BY_ID,
        &ViewMessageRequestHeader { offset: phys },
    );
    let viewed = b.call(view).await;
    let (rec, _) = MessageRecord::decode_bytes(&viewed.body, true).unwrap();
    assert_eq!(&rec.body[..], b"hello");
    let bad = RemotingCommand::request_with(
        RequestCode::VIEW_MESSAGE_BY_ID,
        &ViewMessageRequestHeader { offset: 999_999 },
    );
    assert_eq!(b.call(bad).await.code, ResponseCode::SYSTEM_ERROR.code());
    b.stop().await;
}

#[tokio::test]
async fn pull_status_mappings() {
    let b = TestBroker::start().await;
    // Unknown topic.
    let r = b.call(pull_request("g", "Nope", 0, 0, Some("*"), 0, 0)).await;
    assert_eq!(r.code, ResponseCode::TOPIC_NOT_EXIST.code());
    b.call(send_request("T", 0, b"x", "")).await;
    // Queue exists but is empty: offset 0 => not found, else offset moved to 0.
    let r = b.call(pull_request("g", "T", 1, 0, Some("*"), 0, 0)).await;
    assert_eq!(r.code, ResponseCode::PULL_NOT_FOUND.code(), "{r:?}");
    let r = b.call(pull_request("g", "T", 1, 5, Some("*"), 0, 0)).await;
    assert_eq!(r.code, ResponseCode::PULL_OFFSET_MOVED.code());
    assert_eq!(ext_i64(&r, "nextBeginOffset"), 0);
    // Offset == max: not found, next stays.
    let r = b.call(pull_request("g", "T", 0, 1, Some("*"), 0, 0)).await;
    assert_eq!(r.code, ResponseCode::PULL_NOT_FOUND.code());
    assert_eq!(ext_i64(&r, "nextBeginOffset"), 1);
    // Offset > max: moved to max.
    let r = b.call(pull_request("g", "T", 0, 7, Some("*"), 0, 0)).await;
    assert_eq!(r.code, ResponseCode::PULL_OFFSET_MOVED.code());
    assert_eq!(ext_i64(&r, "nextBeginOffset"), 1);
    // Queue id out of range.
    let r = b.call(pull_request("g", "T", 99, 0, Some("*"), 0, 0)).await;
    assert_eq!(r.code, ResponseCode::SYSTEM_ERROR.code());
    assert!(r.remark.unwrap().contains("queueId[99] is illegal"));
    // No SUBSCRIPTION bit and no heartbeat.
    let r = b.call(pull_request("g", "T", 0, 0, None, 0, 0)).await;
    assert_eq!(r.code, ResponseCode::SUBSCRIPTION_NOT_EXIST.code());
    b.stop().await;
}

#[tokio::test]
async fn send_validation_codes() {
    let b = TestBroker::start_with(|c| c.max_message_size = 1024).await;
    let bad_topic = b.call(send_request("bad topic!", 0, b"x", "")).await;
    assert_eq!(bad_topic.code, ResponseCode::SYSTEM_ERROR.code());
    assert!(bad_topic
        .remark
        .as_deref()
        .unwrap()
        .contains("illegal characters"));
    assert_eq!(
        bad_topic.ext("MSG_REGION"),
        Some("DefaultRegion"),
        "every send reply has MSG_REGION"
    );
    let long = b.call(send_request(&"t".repeat(128), 0, b"x", "")).await;
    assert_eq!(long.code, ResponseCode::SYSTEM_ERROR.code());
    let sched = b.call(send_request("SCHEDULE_TOPIC_XXXX", 0, b"x", "")).await;
    assert_eq!(sched.code, ResponseCode::NO_PERMISSION.code());
    let big = b.call(send_request("T", 0, &vec![7u8; 2048], "")).await;
    assert_eq!(big.code, ResponseCode::MESSAGE_ILLEGAL.code());
    let props = format!("K\u{1}{}", "v".repeat(40_000));
    let big_props = b.call(send_request("T", 0, b"x", &props)).await;
    assert_eq!(big_props.code, ResponseCode::MESSAGE_ILLEGAL.code());
    // Auto-created from TBW102 with min(4, 8) queues; queue 4 is then out of range.
    assert_eq!(b.call(send_request("T", 3, b"x", "")).await.code, 0);
    let q = b.call(send_request("T", 4, b"x", "")).await;
    assert_eq!(q.code, ResponseCode::SYSTEM_ERROR.code());
    assert!(q.remark.as_deref().unwrap().contains("queueId[4] is illegal"));
    // Negative queue id: the broker picks one.
    let any = b.call(send_request("T", -1, b"x", "")).await;
    assert_eq!(any.code, 0);
    assert!((0..4).contains(&ext_i64(&any, "queueId")));
    // A header missing a required field names it.
    let mut missing = send_request("T", 0, b"x", "");
    missing.ext_fields.remove("b");
    let r = b.call(missing).await;
    assert_eq!(r.code, ResponseCode::SYSTEM_ERROR.code());
    assert!(r.remark.as_deref().unwrap().contains("`b`"), "{r:?}");
    // Unknown request code.
    let r = b.call(RemotingCommand::raw_request(9999)).await;
    assert_eq!(r.code, ResponseCode::REQUEST_CODE_NOT_SUPPORTED.code());
    // Write permission off.
    b.broker()
        .state()
        .permission
        .store(4, std::sync::atomic::Ordering::Relaxed);
    let r = b.call(send_request("T", 0, b"x", "")).await;
    assert_eq!(r.code, ResponseCode::NO_PERMISSION.code());
    b.stop().await;
}

#[tokio::test]
async fn no_auto_create_means_topic_not_exist_and_slave_refuses_sends() {
    let b = TestBroker::start_with(|c| c.auto_create_topic_enable = false).await;
    let r = b.call(send_request("Fresh", 0, b"x", "")).await;
    assert_eq!(r.code, ResponseCode::TOPIC_NOT_EXIST.code());
    assert!(r
        .remark
        .unwrap()
        .starts_with("topic[Fresh] not exist, apply first please!"));
    b.stop().await;

    let slave = TestBroker::start_with(|c| {
        c.broker_role = rmq_broker::BrokerRole::Slave;
        c.broker_id = 1;
    })
    .await;
    let r = slave.call(send_request("T", 0, b"x", "")).await;
    assert_eq!(r.code, ResponseCode::SERVICE_NOT_AVAILABLE.code());
    slave.stop().await;
}

#[tokio::test]
async fn batch_send_stores_each_member_with_batch_properties() {
    let b = TestBroker::start().await;
    let items: Vec<BatchItem> = (0..3)
        .map(|i| BatchItem {
            flag: i,
            body: Bytes::from(format!("m{i}")),
            properties: format!("KEYS\u{1}k{i}"),
        })
        .collect();
    let mut req = send_request("Batchy", 2, b"", "WAIT\u{1}true");
    req.code = RequestCode::SEND_BATCH_MESSAGE.code();
    req.ext_fields.insert("m".into(), "true".into());
    req.body = batch::encode(&items);
    let r = b.call(req).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.ext("msgId").unwrap().split(',').count(), 3);
    assert_eq!(r.ext("queueOffset"), Some("0"));
    let pulled = b.call(pull_request("g", "Batchy", 2, 0, Some("*"), 0, 0)).await;
    let recs = records(&pulled);
    assert_eq!(recs.len(), 3);
    for (i, rec) in recs.iter().enumerate() {
        assert_eq!(rec.queue_offset, i as i64);
        assert_eq!(rec.flag, i as i32);
        assert_eq!(rec.property("KEYS"), Some(format!("k{i}").as_str()));
        assert_eq!(rec.property("CLUSTER"), Some("DefaultCluster"));
    }
    let max = RemotingCommand::request_with(
        RequestCode::GET_MAX_OFFSET,
        &GetMaxOffsetRequestHeader {
            topic: "Batchy".into(),
            queue_id: 2,
            bname: None,
        },
    );
    assert_eq!(ext_i64(&b.call(max).await, "offset"), 3);
    // A malformed batch body is refused, not a crash.
    let mut junk = send_request("Batchy", 2, b"\x00\x00\x00\x05junk", "");
    junk.code = RequestCode::SEND_BATCH_MESSAGE.code();
    assert_eq!(b.call(junk).await.code, ResponseCode::MESSAGE_ILLEGAL.code());
    b.stop().await;
}

#[tokio::test]
async fn rocketmq_binary_header_gets_a_reply_in_kind() {
    use rmq_remoting::net::{ClientConfig, RemotingClient};
    use rmq_remoting::SerializeType;
    let b = TestBroker::start().await;
    let client = RemotingClient::new(ClientConfig {
        serialize_type: SerializeType::RocketMq,
        ..Default::default()
    });
    let r = client
        .invoke(&b.addr, send_request("Bin", 0, b"x", ""), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, 0);
    assert_eq!(r.serialize_type, SerializeType::RocketMq);
    assert_eq!(r.ext("queueOffset"), Some("0"));
    client.shutdown();
    b.stop().await;
}

#[tokio::test]
async fn sync_master_without_slave_answers_slave_not_available_but_stores() {
    let b = TestBroker::start_with(|c| c.broker_role = rmq_broker::BrokerRole::SyncMaster).await;
    let r = b.call(send_request("SyncM", 0, b"x", "")).await;
    assert_eq!(r.code, ResponseCode::SLAVE_NOT_AVAILABLE.code(), "{r:?}");
    assert_eq!(
        r.ext("queueOffset"),
        Some("0"),
        "the reply still names where it was stored"
    );
    // WAIT=false skips the replication wait.
    let r = b.call(send_request("SyncM", 0, b"y", "WAIT\u{1}false")).await;
    assert_eq!(r.code, 0);
    let pulled = b.call(pull_request("g", "SyncM", 0, 0, Some("*"), 0, 0)).await;
    assert_eq!(records(&pulled).len(), 2);
    b.stop().await;
}

/// A port p with p − 2 (VIP) and p + 1 (HA) free too, as far as a quick bind can tell.
fn port_with_vip_and_ha_free() -> u16 {
    use std::net::TcpListener;
    for _ in 0..200 {
        let p = TcpListener::bind("0.0.0.0:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if p < 1000 || p == u16::MAX {
            continue;
        }
        let free = |port: u16| TcpListener::bind(("0.0.0.0", port)).is_ok();
        if free(p) && free(p - 2) && free(p + 1) {
            return p;
        }
    }
    panic!("no port with its neighbours free");
}

#[tokio::test]
async fn the_vip_channel_two_below_the_listen_port_serves_the_same_broker() {
    let port = port_with_vip_and_ha_free();
    let b = TestBroker::start_with(|c| c.listen_port = port).await;
    let vip = format!("127.0.0.1:{}", port - 2);
    let sent = b
        .client
        .invoke(&vip, send_request("Vip", 0, b"via vip", ""), TIMEOUT)
        .await
        .expect("the VIP port answers");
    assert_eq!(sent.code, 0, "{sent:?}");
    // The message is the broker's, whichever port it came in on.
    let r = b.call(pull_request("g", "Vip", 0, 0, Some("*"), 0, 0)).await;
    assert_eq!(records(&r)[0].body.as_ref(), b"via vip");
    b.stop().await;
}
