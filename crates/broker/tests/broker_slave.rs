//! A slave broker over real sockets: it refuses writes and admin changes, answers pulls whatever
//! `slaveReadEnable` says, and copies its master's topics, offsets and groups (the metadata sync).

mod broker_common;

use broker_common::*;
use rmq_broker::slave_sync;
use rmq_broker::state::MasterAddrs;
use rmq_broker::BrokerRole;
use rmq_remoting::headers::admin::CreateTopicRequestHeader;
use rmq_remoting::headers::offset::UpdateConsumerOffsetRequestHeader;
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

fn create(topic: &str) -> RemotingCommand {
    RemotingCommand::request_with(
        RequestCode::UPDATE_AND_CREATE_TOPIC,
        &CreateTopicRequestHeader {
            topic: topic.into(),
            default_topic: "TBW102".into(),
            read_queue_nums: 2,
            write_queue_nums: 2,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: None,
            order: false,
        },
    )
}

#[tokio::test]
async fn slave_refuses_changes_and_syncs_metadata_from_master() {
    let master = TestBroker::start().await;
    let slave = TestBroker::start_with(|c| {
        c.broker_role = BrokerRole::Slave;
        c.broker_id = 1;
    })
    .await;
    assert_eq!(master.call(create("Synced")).await.code, 0);
    let commit = RemotingCommand::request_with(
        RequestCode::UPDATE_CONSUMER_OFFSET,
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: "cg".into(),
            topic: "Synced".into(),
            queue_id: 1,
            commit_offset: 9,
            bname: None,
        },
    );
    assert_eq!(master.call(commit.clone()).await.code, 0);
    assert_eq!(
        master
            .call(heartbeat("10.0.0.1@x", "cg", "Synced", "*", 1))
            .await
            .code,
        0
    );

    // Slaves do not take admin changes or sends.
    let r = slave.call(create("Nope")).await;
    assert_eq!(r.code, ResponseCode::SYSTEM_ERROR.code());
    assert!(r
        .remark
        .unwrap()
        .starts_with("Can't modify topic or subscription group from slave broker"));
    assert_eq!(
        slave.call(send_request("Synced", 0, b"x", "")).await.code,
        ResponseCode::SERVICE_NOT_AVAILABLE.code()
    );
    // A commit sent to a slave is not stored there.
    assert_eq!(slave.call(commit).await.code, 0);
    assert_eq!(slave.broker().state().offsets.query("cg", "Synced", 1), None);

    let client = RemotingClient::default();
    slave.broker().state().set_master(MasterAddrs {
        broker_addr: master.addr.clone(),
        ha_addr: master.broker().state().ha_server_addr(),
    });
    slave_sync::sync_once(slave.broker().state(), &client, &master.addr).await;
    let s = slave.broker().state();
    assert_eq!(s.topics.get("Synced").map(|t| t.read_queue_nums), Some(2));
    assert_eq!(s.offsets.query("cg", "Synced", 1), Some(9));
    assert!(s.groups.get("cg").is_some());
    assert!(s.topics.contains("%RETRY%cg"));
    let r = slave
        .call(pull_request("cg", "Synced", 0, 0, Some("*"), 0, 0))
        .await;
    // Nothing is replicated (no HA link here): an empty queue, not a refusal.
    assert_eq!(r.code, ResponseCode::PULL_NOT_FOUND.code(), "{r:?}");
    assert_eq!(r.ext("suggestWhichBrokerId"), Some("0"));
    client.shutdown();
    slave.stop().await;
    master.stop().await;
}
