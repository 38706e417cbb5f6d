//! Hostile requests against a broker: a batch of empty members that would expand far past
//! `maxMessageSize`, offsets committed for topics and groups that do not exist, send-backs whose
//! group would name an illegal retry or dead-letter topic, and a client-made ROLLBACK sysFlag.

mod broker_common;

use broker_common::*;
use rmq_remoting::headers::client::ConsumerSendMsgBackRequestHeader;
use rmq_remoting::headers::offset::UpdateConsumerOffsetRequestHeader;
use rmq_remoting::message::batch::{self, BatchItem};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

#[tokio::test]
async fn a_batch_of_empty_members_is_refused_while_it_is_decoded() {
    // Apache's default maxMessageSize (the harness lowers it to 1 MiB).
    let b = TestBroker::start_with(|c| c.max_message_size = 4 << 20).await;
    let empty = BatchItem {
        flag: 0,
        body: bytes::Bytes::new(),
        properties: String::new(),
    };
    let body = batch::encode(&vec![empty; 190_650]);
    assert!(body.len() <= 4 << 20);
    let mut req = send_request("Batchy", 0, &body, "");
    req.code = RequestCode::SEND_BATCH_MESSAGE.code();
    req.ext_fields.insert("m".into(), "true".into());
    let reply = b.call(req).await;
    assert_eq!(reply.code, ResponseCode::MESSAGE_ILLEGAL.code());
    let remark = reply.remark.unwrap_or_default();
    assert!(
        remark.contains("the batch would store more than 4194304 bytes"),
        "{remark}"
    );
    // The limit is passed well before the last member: decoding stopped there.
    let at: usize = remark
        .rsplit("member ")
        .next()
        .and_then(|s| s.trim_end_matches(')').parse().ok())
        .expect("member count in the remark");
    assert!(at < 190_650, "{remark}");
}

fn commit(topic: &str, group: &str, queue_id: i32, offset: i64) -> RemotingCommand {
    RemotingCommand::request_with(
        RequestCode::UPDATE_CONSUMER_OFFSET,
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: group.into(),
            topic: topic.into(),
            queue_id,
            commit_offset: offset,
            bname: None,
        },
    )
}

#[tokio::test]
async fn offsets_need_a_known_topic_and_a_legal_group_and_unknown_ones_are_dropped() {
    let b = TestBroker::start().await;
    assert_eq!(b.call(send_request("Known", 0, b"x", "")).await.code, 0);
    let reply = b.call(commit("NoSuchTopic", "g1", 0, 5)).await;
    assert_eq!(reply.code, ResponseCode::TOPIC_NOT_EXIST.code(), "{reply:?}");
    let reply = b.call(commit("Known", "../../g", 0, 5)).await;
    assert_eq!(
        reply.code,
        ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST.code(),
        "{reply:?}"
    );
    let reply = b.call(commit("Known", "g1", 4096, 5)).await;
    assert_eq!(reply.code, ResponseCode::SYSTEM_ERROR.code(), "{reply:?}");
    assert_eq!(b.call(commit("Known", "g1", 0, 5)).await.code, 0);

    // Offsets of topics that no longer exist and of illegal group names (left in the file by
    // an older version, or a deleted topic) are dropped when the table is next written; those
    // of a deleted group stay, as Apache keeps them unless the deletion asks (`-r`).
    let dir = b.stop().await;
    let file = dir.path().join("config").join("consumerOffset.json");
    let text = std::fs::read_to_string(&file).expect("offsets written at shutdown");
    assert!(text.contains("Known@g1"), "{text}");
    let junk = text.replacen(
        "\"offsetTable\": {",
        "\"offsetTable\": {\"Gone@g1\":{\"0\":3},\"Known@nogroup\":{\"0\":4},\"Known@a/b\":{\"0\":4},",
        1,
    );
    assert_ne!(junk, text);
    std::fs::write(&file, junk).unwrap();
    let cfg = test_config(dir.path());
    let b = TestBroker::start_in(dir, cfg).await;
    assert_eq!(b.call(commit("Known", "g1", 0, 6)).await.code, 0);
    let dir = b.stop().await;
    let text = std::fs::read_to_string(dir.path().join("config").join("consumerOffset.json")).unwrap();
    assert!(
        text.contains("Known@g1") && text.contains("Known@nogroup"),
        "{text}"
    );
    assert!(!text.contains("Gone@g1") && !text.contains("Known@a/b"), "{text}");
}

#[tokio::test]
async fn send_back_with_an_illegal_group_creates_no_topic() {
    let b = TestBroker::start().await;
    let sent = b.call(send_request("Orig", 0, b"x", "")).await;
    assert_eq!(sent.code, 0);
    let offset: i64 = {
        let id = sent.ext("msgId").expect("msgId");
        i64::from_str_radix(&id[id.len() - 16..], 16).unwrap()
    };
    for group in ["../../x".to_string(), "G".repeat(121)] {
        let req = RemotingCommand::request_with(
            RequestCode::CONSUMER_SEND_MSG_BACK,
            &ConsumerSendMsgBackRequestHeader {
                offset,
                group: group.clone(),
                delay_level: -1,
                origin_msg_id: None,
                origin_topic: None,
                unit_mode: Some(false),
                max_reconsume_times: None,
            },
        );
        let reply = b.call(req).await;
        assert_eq!(
            reply.code,
            ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST.code(),
            "{reply:?}"
        );
        let remark = reply.remark.unwrap_or_default();
        assert!(!remark.contains("invalid batch"), "{remark}");
    }
    let dir = b.stop().await;
    let topics = std::fs::read_to_string(dir.path().join("config").join("topics.json")).unwrap();
    assert!(
        !topics.contains("%DLQ%") && !topics.contains("%RETRY%"),
        "{topics}"
    );
}

#[tokio::test]
async fn a_rollback_sys_flag_from_a_client_is_refused_and_never_reaches_consumers() {
    let b = TestBroker::start().await;
    assert_eq!(b.call(send_request("Txn", 0, b"first", "")).await.code, 0);
    let mut req = send_request("Txn", 0, b"rolled back", "");
    req.ext_fields.insert("f".into(), "12".into());
    let reply = b.call(req).await;
    assert_eq!(reply.code, ResponseCode::MESSAGE_ILLEGAL.code(), "{reply:?}");
    assert!(reply.remark.unwrap_or_default().contains("ROLLBACK"));
    let pulled = b.call(pull_request("cg", "Txn", 0, 0, Some("*"), 0, 0)).await;
    let bodies: Vec<_> = records(&pulled).into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, vec![bytes::Bytes::from_static(b"first")]);
}
