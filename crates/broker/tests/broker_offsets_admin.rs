//! Offsets, consumer groups and admin requests over real sockets, plus persistence across a
//! graceful restart.

mod broker_common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker_common::*;
use rmq_remoting::body::{
    from_fastjson, ConsumerConnection, ConsumerIdList, JsonBody, KvTable, LockBatchRequestBody,
    LockBatchResponseBody, MessageQueue, TopicConfigSerializeWrapper,
};
use rmq_remoting::headers::admin::{
    CreateTopicRequestHeader, DeleteTopicInBrokerRequestHeader, GetConsumeStatsRequestHeader,
    GetConsumerConnectionListRequestHeader, GetTopicStatsInfoRequestHeader,
};
use rmq_remoting::headers::client::{GetConsumerListByGroupRequestHeader, UnregisterClientRequestHeader};
use rmq_remoting::headers::offset::{
    GetEarliestMsgStoretimeRequestHeader, GetMinOffsetRequestHeader, QueryConsumerOffsetRequestHeader,
    SearchOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

fn query_offset(group: &str, topic: &str, q: i32) -> RemotingCommand {
    RemotingCommand::request_with(
        RequestCode::QUERY_CONSUMER_OFFSET,
        &QueryConsumerOffsetRequestHeader {
            consumer_group: group.into(),
            topic: topic.into(),
            queue_id: q,
            bname: None,
        },
    )
}

fn update_offset(group: &str, topic: &str, q: i32, offset: i64) -> RemotingCommand {
    RemotingCommand::request_with(
        RequestCode::UPDATE_CONSUMER_OFFSET,
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: group.into(),
            topic: topic.into(),
            queue_id: q,
            commit_offset: offset,
            bname: None,
        },
    )
}

fn create_topic(topic: &str, queues: i32) -> RemotingCommand {
    RemotingCommand::request_with(
        RequestCode::UPDATE_AND_CREATE_TOPIC,
        &CreateTopicRequestHeader {
            topic: topic.into(),
            default_topic: "TBW102".into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: Some(0),
            order: false,
        },
    )
}

#[tokio::test]
async fn offsets_and_topics_survive_a_restart() {
    let b = TestBroker::start().await;
    assert_eq!(b.call(create_topic("Kept", 3)).await.code, 0);
    for _ in 0..5 {
        assert_eq!(b.call(send_request("Kept", 2, b"x", "")).await.code, 0);
    }
    // Never committed, queue starts at 0: offset 0.
    let r = b.call(query_offset("cg", "Kept", 2)).await;
    assert_eq!((r.code, ext_i64(&r, "offset")), (0, 0));
    assert_eq!(b.call(update_offset("cg", "Kept", 2, 4)).await.code, 0);
    // A one-way update (as Java clients send it) is applied too.
    b.client
        .invoke_oneway(&b.addr, update_offset("cg", "Kept", 0, 0))
        .await
        .unwrap();
    wait_for(Duration::from_secs(5), || async {
        (b.broker().state().offsets.query("cg", "Kept", 0) == Some(0)).then_some(())
    })
    .await;
    assert_eq!(ext_i64(&b.call(query_offset("cg", "Kept", 2)).await, "offset"), 4);

    let min = RemotingCommand::request_with(
        RequestCode::GET_MIN_OFFSET,
        &GetMinOffsetRequestHeader {
            topic: "Kept".into(),
            queue_id: 2,
            bname: None,
        },
    );
    assert_eq!(ext_i64(&b.call(min).await, "offset"), 0);
    let earliest = RemotingCommand::request_with(
        RequestCode::GET_EARLIEST_MSG_STORETIME,
        &GetEarliestMsgStoretimeRequestHeader {
            topic: "Kept".into(),
            queue_id: 2,
            bname: None,
        },
    );
    let ts = ext_i64(&b.call(earliest).await, "timestamp");
    assert!(ts > 1_600_000_000_000);
    let search = RemotingCommand::request_with(
        RequestCode::SEARCH_OFFSET_BY_TIMESTAMP,
        &SearchOffsetRequestHeader {
            topic: "Kept".into(),
            queue_id: 2,
            timestamp: ts - 10_000,
            bname: None,
        },
    );
    assert_eq!(ext_i64(&b.call(search).await, "offset"), 0);

    let dir = b.stop().await;
    let file = std::fs::read_to_string(dir.path().join("config/consumerOffset.json")).unwrap();
    assert!(file.contains("Kept@cg"), "{file}");
    let cfg = test_config(dir.path());
    let b = TestBroker::start_in(dir, cfg).await;
    assert_eq!(ext_i64(&b.call(query_offset("cg", "Kept", 2)).await, "offset"), 4);
    assert_eq!(b.broker().state().topics.get("Kept").unwrap().write_queue_nums, 3);
    let pulled = b.call(pull_request("cg", "Kept", 2, 4, Some("*"), 0, 0)).await;
    assert_eq!(records(&pulled).len(), 1);
    // A group that never committed reads from 0 while the queue still starts at 0.
    assert_eq!(b.call(query_offset("other", "Kept", 2)).await.code, 0);
    b.stop().await;
}

#[tokio::test]
async fn admin_topic_requests() {
    let b = TestBroker::start().await;
    assert_eq!(b.call(create_topic("Adm", 2)).await.code, 0);
    let sys = b.call(create_topic("SCHEDULE_TOPIC_XXXX", 2)).await;
    assert_eq!(sys.code, ResponseCode::SYSTEM_ERROR.code());
    assert!(sys.remark.unwrap().contains("conflict with system topic"));
    assert_eq!(
        b.call(create_topic("bad name", 2)).await.code,
        ResponseCode::SYSTEM_ERROR.code()
    );

    let all = b
        .call(RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG))
        .await;
    let w = TopicConfigSerializeWrapper::decode(&all.body).unwrap();
    assert_eq!(w.topic_config_table["Adm"].read_queue_nums, 2);
    assert!(w.topic_config_table.contains_key("TBW102"));

    assert_eq!(b.call(send_request("Adm", 1, b"x", "")).await.code, 0);
    let stats = RemotingCommand::request_with(
        RequestCode::GET_TOPIC_STATS_INFO,
        &GetTopicStatsInfoRequestHeader { topic: "Adm".into() },
    );
    let stats = b.call(stats).await;
    let text = String::from_utf8(stats.body.to_vec()).unwrap();
    assert!(
        text.contains(r#"{"brokerName":"broker-a","queueId":1,"topic":"Adm"}:{"lastUpdateTimestamp":"#),
        "fastjson object keys: {text}"
    );
    assert!(text.contains(r#""maxOffset":1"#));
    let missing = RemotingCommand::request_with(
        RequestCode::GET_TOPIC_STATS_INFO,
        &GetTopicStatsInfoRequestHeader { topic: "Nope".into() },
    );
    assert_eq!(b.call(missing).await.code, ResponseCode::TOPIC_NOT_EXIST.code());

    assert_eq!(b.call(update_offset("cg", "Adm", 1, 1)).await.code, 0);
    let cs = RemotingCommand::request_with(
        RequestCode::GET_CONSUME_STATS,
        &GetConsumeStatsRequestHeader {
            consumer_group: "cg".into(),
            topic: None,
        },
    );
    let cs = String::from_utf8(b.call(cs).await.body.to_vec()).unwrap();
    assert!(cs.contains(r#""brokerOffset":1,"consumerOffset":1"#), "{cs}");

    let cfg = b
        .call(RemotingCommand::request(RequestCode::GET_BROKER_CONFIG))
        .await;
    assert!(cfg.ext("version").is_some());
    assert!(String::from_utf8_lossy(&cfg.body).contains("brokerName=broker-a\n"));

    let rt = b
        .call(RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO))
        .await;
    let kv = KvTable::decode(&rt.body).unwrap();
    for key in [
        "brokerVersionDesc",
        "putTps",
        "getTransferedTps",
        "earliestMessageTimeStamp",
        "commitLogDiskRatio",
        "msgPutTotalTodayNow",
        "sendThreadPoolQueueSize",
        "pageCacheLockTimeMills",
    ] {
        assert!(kv.get(key).is_some(), "runtime info lacks {key}");
    }
    assert_eq!(kv.get("putTps").unwrap().split(' ').count(), 3);
    assert_eq!(kv.get("msgPutTotalTodayNow"), Some("1"));

    let del = RemotingCommand::request_with(
        RequestCode::DELETE_TOPIC_IN_BROKER,
        &DeleteTopicInBrokerRequestHeader { topic: "Adm".into() },
    );
    assert_eq!(b.call(del).await.code, 0);
    assert!(!b.broker().state().topics.contains("Adm"));
    let r = b.call(pull_request("cg", "Adm", 1, 0, Some("*"), 0, 0)).await;
    assert_eq!(r.code, ResponseCode::TOPIC_NOT_EXIST.code());

    for code in [
        RequestCode::GET_ALL_CONSUMER_OFFSET,
        RequestCode::GET_ALL_DELAY_OFFSET,
        RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
    ] {
        let r = b.call(RemotingCommand::request(code)).await;
        assert_eq!(r.code, 0);
        assert!(from_fastjson::<serde_json::Value>(&r.body).is_ok());
    }
    b.stop().await;
}

/// A client on its own connection that records the codes of the requests the broker pushes.
fn recording_client() -> (RemotingClient, Arc<Mutex<Vec<i32>>>) {
    let pushed: Arc<Mutex<Vec<i32>>> = Arc::default();
    let client = RemotingClient::default();
    let seen = pushed.clone();
    client.set_request_handler(Arc::new(move |_, req| {
        seen.lock().unwrap().push(req.code);
        rmq_remoting::net::ServerReply::None
    }));
    (client, pushed)
}

/// Waits until a NOTIFY_CONSUMER_IDS_CHANGED is among the recorded pushes.
async fn wait_notified(pushed: &Mutex<Vec<i32>>) {
    wait_for(Duration::from_secs(5), || async {
        pushed
            .lock()
            .unwrap()
            .contains(&RequestCode::NOTIFY_CONSUMER_IDS_CHANGED.code())
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn groups_membership_notifications_and_locks() {
    let b = TestBroker::start().await;
    // First consumer on its own connection, recording pushed notifications.
    let (c1, pushed) = recording_client();
    assert_eq!(
        c1.invoke(&b.addr, heartbeat("10.0.0.1@a", "cg", "T", "*", 1), TIMEOUT)
            .await
            .unwrap()
            .code,
        0
    );
    let c2 = RemotingClient::default();
    assert_eq!(
        c2.invoke(&b.addr, heartbeat("10.0.0.2@b", "cg", "T", "*", 1), TIMEOUT)
            .await
            .unwrap()
            .code,
        0
    );
    wait_notified(&pushed).await;

    let list = RemotingCommand::request_with(
        RequestCode::GET_CONSUMER_LIST_BY_GROUP,
        &GetConsumerListByGroupRequestHeader {
            consumer_group: "cg".into(),
        },
    );
    let ids = ConsumerIdList::decode(&b.call(list.clone()).await.body).unwrap();
    assert_eq!(
        ids.consumer_id_list,
        vec!["10.0.0.1@a".to_string(), "10.0.0.2@b".to_string()]
    );
    let conns = RemotingCommand::request_with(
        RequestCode::GET_CONSUMER_CONNECTION_LIST,
        &GetConsumerConnectionListRequestHeader {
            consumer_group: "cg".into(),
        },
    );
    let cc = ConsumerConnection::decode(&b.call(conns).await.body).unwrap();
    assert_eq!(cc.connection_set.len(), 2);
    assert!(cc.subscription_table.contains_key("T"));

    // Orderly locks: the first client gets the queue, the second does not.
    let mq = MessageQueue::new("T", "broker-a", 0);
    let lock = |client: &str| {
        let body = LockBatchRequestBody {
            client_id: client.into(),
            consumer_group: "cg".into(),
            mq_set: [mq.clone()].into_iter().collect(),
            only_this_broker: false,
        };
        RemotingCommand::request(RequestCode::LOCK_BATCH_MQ).with_body(body.encode())
    };
    let got = LockBatchResponseBody::decode(&b.call(lock("10.0.0.1@a")).await.body).unwrap();
    assert_eq!(got.lock_ok_mq_set.len(), 1);
    let got = LockBatchResponseBody::decode(&b.call(lock("10.0.0.2@b")).await.body).unwrap();
    assert!(got.lock_ok_mq_set.is_empty());
    let junk = RemotingCommand::request(RequestCode::LOCK_BATCH_MQ).with_body(&b"{not json"[..]);
    assert_eq!(b.call(junk).await.code, ResponseCode::SYSTEM_ERROR.code());

    // Unregistering the second, then closing the first's connection, empties the group.
    let unreg = RemotingCommand::request_with(
        RequestCode::UNREGISTER_CLIENT,
        &UnregisterClientRequestHeader {
            client_id: "10.0.0.2@b".into(),
            producer_group: None,
            consumer_group: Some("cg".into()),
        },
    );
    assert_eq!(c2.invoke(&b.addr, unreg, TIMEOUT).await.unwrap().code, 0);
    c1.shutdown();
    wait_for(Duration::from_secs(5), || async {
        (!b.broker().state().clients.has_consumer_group("cg")).then_some(())
    })
    .await;
    let r = b.call(list).await;
    assert_eq!(r.code, ResponseCode::SYSTEM_ERROR.code());
    assert_eq!(r.remark.as_deref(), Some("no consumer for this group, cg"));
    c2.shutdown();
    b.stop().await;
}

#[tokio::test]
async fn a_silent_consumer_is_dropped_and_its_group_told() {
    let b = TestBroker::start_with(|c| c.channel_expired_timeout = Duration::from_millis(1500)).await;
    let (alive, pushed) = recording_client();
    let silent = RemotingClient::default();
    let hb_silent = heartbeat("10.0.0.9@silent", "cg", "T", "*", 1);
    assert_eq!(silent.invoke(&b.addr, hb_silent, TIMEOUT).await.unwrap().code, 0);
    // The live member heartbeats every 300 ms; the other never again.
    let beat = {
        let (alive, addr) = (alive.clone(), b.addr.clone());
        tokio::spawn(async move {
            loop {
                let hb = heartbeat("10.0.0.1@alive", "cg", "T", "*", 1);
                let _ = alive.invoke(&addr, hb, TIMEOUT).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    let list = RemotingCommand::request_with(
        RequestCode::GET_CONSUMER_LIST_BY_GROUP,
        &GetConsumerListByGroupRequestHeader {
            consumer_group: "cg".into(),
        },
    );
    let ids = |resp: RemotingCommand| ConsumerIdList::decode(&resp.body).unwrap().consumer_id_list;
    wait_for(Duration::from_secs(5), || async {
        (ids(b.call(list.clone()).await).len() == 2).then_some(())
    })
    .await;
    pushed.lock().unwrap().clear();
    // Dropped once silent for the 1.5 s expiry; the live member is told and stays.
    wait_for(Duration::from_secs(10), || async {
        (ids(b.call(list.clone()).await) == vec!["10.0.0.1@alive".to_string()]).then_some(())
    })
    .await;
    wait_notified(&pushed).await;
    beat.abort();
    b.stop().await;
}

#[tokio::test]
async fn runtime_info_tps_follow_traffic() {
    let b = TestBroker::start().await;
    let tps = |kv: &KvTable, key: &str| -> f64 {
        let v = kv.get(key).unwrap_or_else(|| panic!("no {key}"));
        v.split(' ').next().unwrap().parse().unwrap()
    };
    let info = || async {
        let rt = b
            .call(RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO))
            .await;
        KvTable::decode(&rt.body).unwrap()
    };
    let idle = info().await;
    assert_eq!(tps(&idle, "putTps"), 0.0);
    assert_eq!(tps(&idle, "getTransferedTps"), 0.0);
    for i in 0..100 {
        let body = format!("m{i}");
        assert_eq!(b.call(send_request("Tps", 0, body.as_bytes(), "")).await.code, 0);
    }
    let r = b.call(pull_request("cg", "Tps", 0, 0, Some("*"), 0, 0)).await;
    assert_eq!(records(&r).len(), 32);
    // The sampler runs every second; the 10 s figure then counts this traffic.
    let busy = wait_for(Duration::from_secs(5), || async {
        let kv = info().await;
        (tps(&kv, "putTps") > 0.0 && tps(&kv, "getTransferedTps") > 0.0).then_some(kv)
    })
    .await;
    let put = tps(&busy, "putTps");
    // Averaged over the samples of the last 10 s, at least one 1 s tick apart.
    assert!(put <= 110.0, "100 messages cannot make {put} puts/s");
    assert_eq!(busy.get("msgPutTotalTodayNow"), Some("100"));
    assert_eq!(busy.get("msgGetTotalTodayNow"), Some("32"));
    b.stop().await;
}
