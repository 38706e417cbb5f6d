//! Subscription groups and producer connections over real sockets: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
//! and DELETE_SUBSCRIPTIONGROUP (stored, listed, written to disk before the reply, refused on a
//! slave), what a group's config changes at the broker (`retryMaxTimes` for send-back,
//! `consumeEnable` for pulls), and GET_PRODUCER_CONNECTION_LIST from heartbeats.

mod broker_common;

use std::time::Duration;

use broker_common::*;
use rmq_broker::slave_sync;
use rmq_broker::BrokerRole;
use rmq_remoting::body::{JsonBody, ProducerConnection, SubscriptionGroupWrapper};
use rmq_remoting::headers::admin::{
    DeleteSubscriptionGroupRequestHeader, GetProducerConnectionListRequestHeader,
};
use rmq_remoting::headers::client::{ConsumerSendMsgBackRequestHeader, UnregisterClientRequestHeader};
use rmq_remoting::headers::offset::UpdateConsumerOffsetRequestHeader;
use rmq_remoting::message::{id, MessageRecord};
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

fn update_group(body: &str) -> RemotingCommand {
    RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
        .with_body(body.as_bytes().to_vec())
}

fn delete_group(group: &str, remove_offset: Option<bool>) -> RemotingCommand {
    RemotingCommand::request_with(
        RequestCode::DELETE_SUBSCRIPTIONGROUP,
        &DeleteSubscriptionGroupRequestHeader {
            group_name: group.into(),
            remove_offset,
        },
    )
}

fn commit(group: &str, topic: &str, offset: i64) -> RemotingCommand {
    RemotingCommand::request_with(
        RequestCode::UPDATE_CONSUMER_OFFSET,
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: group.into(),
            topic: topic.into(),
            queue_id: 0,
            commit_offset: offset,
            bname: None,
        },
    )
}

fn producers(group: &str) -> RemotingCommand {
    RemotingCommand::request_with(
        RequestCode::GET_PRODUCER_CONNECTION_LIST,
        &GetProducerConnectionListRequestHeader {
            producer_group: group.into(),
        },
    )
}

async fn groups(b: &TestBroker) -> SubscriptionGroupWrapper {
    let r = b
        .call(RemotingCommand::request(
            RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
        ))
        .await;
    assert_eq!(r.code, 0, "{r:?}");
    SubscriptionGroupWrapper::decode(&r.body).expect("group table body")
}

/// subscriptionGroup.json as it is on disk right now.
fn groups_file(b: &TestBroker) -> SubscriptionGroupWrapper {
    let path = b.dir.path().join("config").join("subscriptionGroup.json");
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    SubscriptionGroupWrapper::decode(&text).expect("file parses")
}

fn send_back(offset: i64, group: &str) -> RemotingCommand {
    RemotingCommand::request_with(
        RequestCode::CONSUMER_SEND_MSG_BACK,
        &ConsumerSendMsgBackRequestHeader {
            offset,
            group: group.into(),
            delay_level: 0,
            origin_msg_id: None,
            origin_topic: None,
            unit_mode: Some(false),
            max_reconsume_times: None,
        },
    )
}

async fn pull_one(b: &TestBroker, topic: &str, offset: i64) -> MessageRecord {
    wait_for(Duration::from_secs(10), || async {
        let r = b
            .call(pull_request("probe", topic, 0, offset, Some("*"), 0, 0))
            .await;
        (r.code == 0).then(|| records(&r).remove(0))
    })
    .await
}

#[tokio::test]
async fn updated_group_is_listed_and_on_disk_before_the_reply() {
    let b = TestBroker::start().await;
    let r = b
        .call(update_group(
            r#"{"groupName":"cg","retryMaxTimes":3,"consumeBroadcastEnable":false}"#,
        ))
        .await;
    assert_eq!(r.code, 0, "{r:?}");
    let listed = groups(&b).await.subscription_group_table["cg"].clone();
    assert_eq!((listed.retry_max_times, listed.retry_queue_nums), (3, 1));
    assert!(!listed.consume_broadcast_enable && listed.consume_enable);
    // Written at once, not at the next periodic flush.
    assert_eq!(groups_file(&b).subscription_group_table["cg"], listed);

    // Replacing, not merging: fields left out go back to their defaults.
    assert_eq!(b.call(update_group(r#"{"groupName":"cg"}"#)).await.code, 0);
    assert_eq!(
        groups(&b).await.subscription_group_table["cg"].retry_max_times,
        16
    );

    for (body, why) in [
        ("{not json", "malformed"),
        ("", "malformed"),
        (r#"{"groupName":"  "}"#, "blank"),
        (r#"{"retryMaxTimes":1}"#, "blank"),
        (r#"{"groupName":"g","retryMaxTimes":"many"}"#, "malformed"),
    ] {
        let r = b.call(update_group(body)).await;
        assert_eq!(r.code, ResponseCode::SYSTEM_ERROR.code(), "{body}: {r:?}");
        let remark = r.remark.unwrap_or_default();
        assert!(remark.contains(why), "{body}: {remark}");
    }

    let dir = b.stop().await;
    let cfg = test_config(dir.path());
    let b = TestBroker::start_in(dir, cfg).await;
    assert_eq!(
        groups(&b).await.subscription_group_table["cg"].retry_max_times,
        16
    );
    b.stop().await;
}

#[tokio::test]
async fn deleted_group_is_gone_and_offsets_go_only_when_asked() {
    let b = TestBroker::start().await;
    let state = b.broker().state().clone();
    // Offsets are only kept for topics the broker knows: the first send creates "Orders".
    assert_eq!(b.call(send_request("Orders", 0, b"x", "")).await.code, 0);
    for g in ["keep_offsets", "drop_offsets"] {
        let body = format!(r#"{{"groupName":"{g}"}}"#);
        assert_eq!(b.call(update_group(&body)).await.code, 0);
        assert_eq!(b.call(commit(g, "Orders", 7)).await.code, 0);
    }

    let r = b.call(delete_group("keep_offsets", None)).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!groups(&b)
        .await
        .subscription_group_table
        .contains_key("keep_offsets"));
    assert!(!groups_file(&b)
        .subscription_group_table
        .contains_key("keep_offsets"));
    assert_eq!(state.offsets.query("keep_offsets", "Orders", 0), Some(7));

    let r = b.call(delete_group("drop_offsets", Some(true))).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!groups(&b)
        .await
        .subscription_group_table
        .contains_key("drop_offsets"));
    assert_eq!(state.offsets.query("drop_offsets", "Orders", 0), None);
    let all = b
        .call(RemotingCommand::request(RequestCode::GET_ALL_CONSUMER_OFFSET))
        .await;
    let text = String::from_utf8_lossy(&all.body).into_owned();
    assert!(
        text.contains("Orders@keep_offsets") && !text.contains("drop_offsets"),
        "{text}"
    );

    // System groups stay; an unknown group is not an error (as in Apache).
    let r = b.call(delete_group("TOOLS_CONSUMER", Some(true))).await;
    assert_eq!(r.code, ResponseCode::SYSTEM_ERROR.code());
    let remark = r.remark.unwrap_or_default();
    assert!(
        remark.contains("TOOLS_CONSUMER") && remark.contains("system group"),
        "{remark}"
    );
    assert!(groups(&b)
        .await
        .subscription_group_table
        .contains_key("TOOLS_CONSUMER"));
    assert_eq!(b.call(delete_group("never_was", None)).await.code, 0);
    // A request without the group name is refused by name.
    let r = b
        .call(RemotingCommand::request(RequestCode::DELETE_SUBSCRIPTIONGROUP))
        .await;
    assert_eq!(r.code, ResponseCode::SYSTEM_ERROR.code());
    assert!(r.remark.unwrap_or_default().contains("groupName"));
    b.stop().await;
}

#[tokio::test]
async fn group_retry_max_times_sends_the_second_failure_to_the_dlq() {
    let b = TestBroker::start_with(|c| c.message_delay_level = "100ms 200ms 300ms 400ms 500ms".into()).await;
    assert_eq!(
        b.call(update_group(r#"{"groupName":"once","retryMaxTimes":1}"#))
            .await
            .code,
        0
    );
    let r = b.call(send_request("Work", 0, b"job", "TAGS\u{1}T")).await;
    assert_eq!(r.code, 0, "{r:?}");
    let (_, phys) = id::decode_offset_msg_id(r.ext("msgId").expect("msgId")).expect("offset msgId");

    // No maxReconsumeTimes in the request: the group's retryMaxTimes decides.
    assert_eq!(b.call(send_back(phys, "once")).await.code, 0);
    let retry = pull_one(&b, "%RETRY%once", 0).await;
    assert_eq!(retry.reconsume_times, 1);
    assert_eq!(b.call(send_back(retry.physical_offset, "once")).await.code, 0);
    let dead = pull_one(&b, "%DLQ%once", 0).await;
    assert_eq!(&dead.body[..], b"job");
    assert_eq!(dead.reconsume_times, 2);
    let more = b
        .call(pull_request("probe", "%RETRY%once", 0, 1, Some("*"), 0, 0))
        .await;
    assert_ne!(more.code, 0, "the second failure was not retried again: {more:?}");
    b.stop().await;
}

#[tokio::test]
async fn a_group_with_consumption_disabled_cannot_pull() {
    let b = TestBroker::start().await;
    assert_eq!(b.call(send_request("Paused", 0, b"x", "")).await.code, 0);
    let off = r#"{"groupName":"paused","consumeEnable":false}"#;
    assert_eq!(b.call(update_group(off)).await.code, 0);
    let r = b
        .call(pull_request("paused", "Paused", 0, 0, Some("*"), 0, 0))
        .await;
    assert_eq!(r.code, ResponseCode::NO_PERMISSION.code(), "{r:?}");
    assert_eq!(
        r.remark.as_deref(),
        Some("subscription group no permission, paused")
    );

    let on = r#"{"groupName":"paused","consumeEnable":true}"#;
    assert_eq!(b.call(update_group(on)).await.code, 0);
    let r = b
        .call(pull_request("paused", "Paused", 0, 0, Some("*"), 0, 0))
        .await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(records(&r).len(), 1);
    b.stop().await;
}

#[tokio::test]
async fn broadcasting_needs_consume_broadcast_enable() {
    use rmq_remoting::body::{ConsumerData, HeartbeatData, MessageModel, SubscriptionData};
    let b = TestBroker::start().await;
    assert_eq!(b.call(send_request("Bc", 0, b"x", "")).await.code, 0);
    let hb = HeartbeatData {
        client_id: "10.0.0.7@bc".into(),
        consumer_data_set: vec![ConsumerData {
            group_name: "bc".into(),
            message_model: MessageModel::BROADCASTING,
            subscription_data_set: vec![SubscriptionData::tag("Bc", "*", 1)],
            ..Default::default()
        }],
        producer_data_set: vec![],
    };
    let off = r#"{"groupName":"bc","consumeBroadcastEnable":false}"#;
    assert_eq!(b.call(update_group(off)).await.code, 0);
    let hb = RemotingCommand::request(RequestCode::HEART_BEAT).with_body(hb.encode());
    assert_eq!(b.call(hb).await.code, 0);
    // A push consumer's pull carries no subscription: the broker uses the heartbeat's, and with
    // it the group's message model.
    let r = b.call(pull_request("bc", "Bc", 0, 0, None, 0, 1)).await;
    assert_eq!(r.code, ResponseCode::NO_PERMISSION.code(), "{r:?}");
    assert_eq!(
        r.remark.as_deref(),
        Some("the consumer group[bc] can not consume by broadcast way")
    );
    let on = r#"{"groupName":"bc","consumeBroadcastEnable":true}"#;
    assert_eq!(b.call(update_group(on)).await.code, 0);
    let r = b.call(pull_request("bc", "Bc", 0, 0, None, 0, 1)).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(records(&r).len(), 1);
    b.stop().await;
}

#[tokio::test]
async fn producer_connections_come_from_heartbeats() {
    let b = TestBroker::start().await;
    let r = b.call(producers("pg")).await;
    assert_eq!(r.code, ResponseCode::SYSTEM_ERROR.code());
    assert_eq!(r.remark.as_deref(), Some("the producer group[pg] not exist"));

    // The heartbeat helper declares producer group "pg".
    assert_eq!(b.call(heartbeat("10.0.0.9@p1", "cg", "T", "*", 1)).await.code, 0);
    let r = b.call(producers("pg")).await;
    assert_eq!(r.code, 0, "{r:?}");
    let pc = ProducerConnection::decode(&r.body).expect("ProducerConnection body");
    let conns: Vec<_> = pc.connection_set.iter().collect();
    assert_eq!(conns.len(), 1, "{pc:?}");
    assert_eq!(conns[0].client_id, "10.0.0.9@p1");
    assert!(conns[0].client_addr.starts_with("127.0.0.1:"), "{pc:?}");
    assert_eq!(conns[0].language, "JAVA");

    let bye = RemotingCommand::request_with(
        RequestCode::UNREGISTER_CLIENT,
        &UnregisterClientRequestHeader {
            client_id: "10.0.0.9@p1".into(),
            producer_group: Some("pg".into()),
            consumer_group: None,
        },
    );
    assert_eq!(b.call(bye).await.code, 0);
    assert_eq!(
        b.call(producers("pg")).await.code,
        ResponseCode::SYSTEM_ERROR.code()
    );
    b.stop().await;
}

#[tokio::test]
async fn slave_refuses_group_changes_and_follows_master_deletes() {
    let master = TestBroker::start().await;
    let slave = TestBroker::start_with(|c| {
        c.broker_role = BrokerRole::Slave;
        c.broker_id = 1;
    })
    .await;
    for req in [
        update_group(r#"{"groupName":"synced"}"#),
        delete_group("synced", None),
    ] {
        let r = slave.call(req).await;
        assert_eq!(r.code, ResponseCode::SYSTEM_ERROR.code(), "{r:?}");
        assert!(r
            .remark
            .unwrap_or_default()
            .starts_with("Can't modify topic or subscription group from slave broker"));
    }

    assert_eq!(
        master.call(update_group(r#"{"groupName":"synced"}"#)).await.code,
        0
    );
    let client = RemotingClient::default();
    slave_sync::sync_once(slave.broker().state(), &client, &master.addr).await;
    assert!(slave.broker().state().groups.get("synced").is_some());
    assert_eq!(master.call(delete_group("synced", None)).await.code, 0);
    slave_sync::sync_once(slave.broker().state(), &client, &master.addr).await;
    assert!(slave.broker().state().groups.get("synced").is_none());
    assert!(slave.broker().state().groups.get("TOOLS_CONSUMER").is_some());
    client.shutdown();
    slave.stop().await;
    master.stop().await;
}
