//! `mqadmin` end to end for subscription groups, topic permissions and connections: the real
//! binary against a real `mqnamesrv` and `mqbroker`, checking what the broker then does (DLQ after
//! the group's retryMaxTimes, NO_PERMISSION when consumption is disabled, the group table, the
//! topic table) rather than only what mqadmin prints.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use rmq_remoting::body::{JsonBody, SubscriptionGroupWrapper, TopicConfigSerializeWrapper};
use rmq_remoting::headers::client::ConsumerSendMsgBackRequestHeader;
use rmq_remoting::headers::pull::PullMessageRequestHeader;
use rmq_remoting::headers::send::SendMessageRequestHeaderV2;
use rmq_remoting::message::{id, MessageRecord};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

const RPC: Duration = Duration::from_secs(10);

/// Runs mqadmin and requires exit code `code`, returning stderr.
fn fails(ns: &str, args: &[&str], code: i32) -> String {
    let o = mqadmin(ns, args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "mqadmin {args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&o),
        stderr(&o)
    );
    stderr(&o)
}

fn call(addr: &str, cmd: RemotingCommand) -> RemotingCommand {
    request(addr, cmd, RPC).unwrap_or_else(|e| panic!("request to {addr}: {e}"))
}

fn send(broker: &str, topic: &str, body: &str) -> i64 {
    let header = SendMessageRequestHeaderV2 {
        a: "pg".into(),
        b: topic.into(),
        c: "TBW102".into(),
        d: 4,
        e: 0,
        f: 0,
        g: 1_700_000_000_000,
        h: 0,
        i: Some("TAGS\u{1}T".into()),
        j: Some(0),
        k: Some(false),
        l: None,
        m: Some(false),
        n: None,
    };
    let cmd = RemotingCommand::request_with(RequestCode::SEND_MESSAGE_V2, &header)
        .with_body(Bytes::copy_from_slice(body.as_bytes()));
    let r = call(broker, cmd);
    assert_eq!(r.code, 0, "send: {r:?}");
    id::decode_offset_msg_id(r.ext("msgId").expect("msgId"))
        .expect("offset msgId")
        .1
}

fn pull(broker: &str, group: &str, topic: &str, offset: i64) -> RemotingCommand {
    let header = PullMessageRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id: 0,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: 4,
        commit_offset: 0,
        suspend_timeout_millis: 0,
        subscription: Some("*".into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        bname: None,
    };
    call(
        broker,
        RemotingCommand::request_with(RequestCode::PULL_MESSAGE, &header),
    )
}

fn pull_one(broker: &str, topic: &str) -> MessageRecord {
    wait_until(&format!("a message in {topic}"), READY_TIMEOUT, || {
        let r = pull(broker, "probe", topic, 0);
        (r.code == 0).then(|| MessageRecord::decode_all(&r.body).expect("pull body").remove(0))
    })
}

fn send_back(broker: &str, offset: i64, group: &str) {
    let header = ConsumerSendMsgBackRequestHeader {
        offset,
        group: group.into(),
        delay_level: 0,
        origin_msg_id: None,
        origin_topic: None,
        unit_mode: Some(false),
        max_reconsume_times: None,
    };
    let r = call(
        broker,
        RemotingCommand::request_with(RequestCode::CONSUMER_SEND_MSG_BACK, &header),
    );
    assert_eq!(r.code, 0, "send back: {r:?}");
}

fn groups(broker: &str) -> SubscriptionGroupWrapper {
    let r = call(
        broker,
        RemotingCommand::request(RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG),
    );
    SubscriptionGroupWrapper::decode(&r.body).expect("group table")
}

fn topics(broker: &str) -> TopicConfigSerializeWrapper {
    let r = call(
        broker,
        RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG),
    );
    TopicConfigSerializeWrapper::decode(&r.body).expect("topic table")
}

#[test]
fn sub_group_commands_change_what_the_broker_enforces() {
    let s = Single::start(&[("messageDelayLevel", "100ms 200ms 300ms 400ms 500ms")]);
    let ns = s.namesrv.addr();
    let broker = s.broker.addr();

    let out = mqadmin_ok(
        &ns,
        &[
            "updateSubGroup",
            "-c",
            "DefaultCluster",
            "-g",
            "cg_cli",
            "-r",
            "1",
        ],
    );
    assert!(
        out.contains(&format!("create subscription group to {broker} success.")),
        "{out}"
    );
    assert!(
        out.contains("SubscriptionGroupConfig [groupName=cg_cli, consumeEnable=true, consumeFromMinEnable=false, consumeBroadcastEnable=false, retryQueueNums=1, retryMaxTimes=1,"),
        "{out}"
    );
    assert_eq!(
        groups(&broker).subscription_group_table["cg_cli"].retry_max_times,
        1
    );

    // retryMaxTimes 1: the first failure is retried, the second goes to the dead-letter queue.
    create_topic(&broker, "GroupWork", 1);
    let phys = send(&broker, "GroupWork", "job");
    send_back(&broker, phys, "cg_cli");
    let retry = pull_one(&broker, "%RETRY%cg_cli");
    assert_eq!(retry.reconsume_times, 1);
    send_back(&broker, retry.physical_offset, "cg_cli");
    let dead = pull_one(&broker, "%DLQ%cg_cli");
    assert_eq!((&dead.body[..], dead.reconsume_times), (&b"job"[..], 2));

    // consumeEnable=false: pulls by the group are refused, naming it.
    let out = mqadmin_ok(
        &ns,
        &["updateSubGroup", "-b", &broker, "-g", "cg_cli", "-s", "false"],
    );
    assert!(out.contains("consumeEnable=false"), "{out}");
    let r = pull(&broker, "cg_cli", "GroupWork", 0);
    assert_eq!(r.code, ResponseCode::NO_PERMISSION.code(), "{r:?}");
    assert_eq!(
        r.remark.as_deref(),
        Some("subscription group no permission, cg_cli")
    );

    let out = mqadmin_ok(&ns, &["deleteSubGroup", "-b", &broker, "-g", "cg_cli", "-r"]);
    assert!(
        out.contains(&format!(
            "delete subscription group [cg_cli] from broker [{broker}] success."
        )),
        "{out}"
    );
    assert!(!groups(&broker).subscription_group_table.contains_key("cg_cli"));

    // -c also removes the group's retry and dead-letter topics from the cluster.
    mqadmin_ok(&ns, &["updateSubGroup", "-b", &broker, "-g", "cg_cli"]);
    let out = mqadmin_ok(&ns, &["deleteSubGroup", "-c", "DefaultCluster", "-g", "cg_cli"]);
    assert!(
        out.contains(&format!(
            "delete subscription group [cg_cli] from broker [{broker}] in cluster [DefaultCluster] success."
        )),
        "{out}"
    );
    assert!(
        out.contains("delete topic [%DLQ%cg_cli] from cluster [DefaultCluster] success."),
        "{out}"
    );
    let table = topics(&broker).topic_config_table;
    assert!(!table.contains_key("%RETRY%cg_cli") && !table.contains_key("%DLQ%cg_cli"));
    assert!(!groups(&broker).subscription_group_table.contains_key("cg_cli"));

    let err = fails(&ns, &["deleteSubGroup", "-b", &broker, "-g", "TOOLS_CONSUMER"], 1);
    assert!(err.contains("system group"), "{err}");
}

#[test]
fn topic_perm_and_cluster_list() {
    let s = Single::start(&[]);
    let ns = s.namesrv.addr();
    let broker = s.broker.addr();
    mqadmin_update_topic(&ns, &broker, "PermTopic", 3);
    wait_route(&ns, "PermTopic", "broker-a");

    let out = mqadmin_ok(
        &ns,
        &["updateTopicPerm", "-b", &broker, "-t", "PermTopic", "-p", "4"],
    );
    assert!(
        out.contains(&format!("update topic perm from 6 to 4 in {broker} success.")),
        "{out}"
    );
    assert!(
        out.contains("TopicConfig [topicName=PermTopic, readQueueNums=3, writeQueueNums=3, perm=R--"),
        "{out}"
    );
    let tc = topics(&broker).topic_config_table["PermTopic"].clone();
    assert_eq!((tc.perm, tc.read_queue_nums, tc.write_queue_nums), (4, 3, 3));
    wait_until("the route to show perm 4", READY_TIMEOUT, || {
        route(&ns, "PermTopic").filter(|r| r.contains(r#""perm":4"#))
    });

    // -c: every master of the cluster.
    let perm_in_cluster = |perm: &str| {
        mqadmin_ok(
            &ns,
            &[
                "updateTopicPerm",
                "-c",
                "DefaultCluster",
                "-t",
                "PermTopic",
                "-p",
                perm,
            ],
        )
    };
    let out = perm_in_cluster("4");
    assert!(out.contains("new perm equals to the old one"), "{out}");
    let out = perm_in_cluster("6");
    assert!(
        out.contains(&format!("update topic perm from 4 to 6 in {broker} success.")),
        "{out}"
    );
    assert_eq!(topics(&broker).topic_config_table["PermTopic"].perm, 6);

    let err = fails(
        &ns,
        &["updateTopicPerm", "-b", &broker, "-t", "NoSuchTopic", "-p", "4"],
        1,
    );
    assert!(
        err.contains("NoSuchTopic") && err.contains("updateTopic"),
        "{err}"
    );

    let out = mqadmin_ok(&ns, &["topicClusterList", "-t", "PermTopic"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["DefaultCluster"], "{out}");
    let err = fails(&ns, &["topicClusterList", "-t", "NoSuchTopic"], 1);
    assert!(err.contains("NoSuchTopic"), "{err}");
}

#[test]
fn connection_commands_list_live_clients() {
    let s = Single::start(&[]);
    let ns = s.namesrv.addr();
    let broker = s.broker.addr();
    create_topic(&broker, "ConnTopic", 2);
    wait_route(&ns, "ConnTopic", "broker-a");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (producer, consumer) = rt.block_on(async {
        let producer = rmq_client::Producer::start(rmq_client::ProducerConfig {
            client: rmq_client::ClientConfig::new(&ns),
            group: "pg_conn".into(),
            ..Default::default()
        })
        .await
        .expect("producer starts");
        producer
            .send(rmq_client::Message::new("ConnTopic", "hello"))
            .await
            .expect("send");
        producer.instance().send_heartbeat_to_all().await;
        let consumer = rmq_client::PushConsumer::builder(rmq_client::PushConsumerConfig {
            client: rmq_client::ClientConfig::new(&ns),
            group: "cg_conn".into(),
            ..Default::default()
        })
        .subscribe("ConnTopic", "TagA || TagB")
        .start(|_msg| async { rmq_client::ConsumeResult::Success })
        .await
        .expect("consumer starts");
        (producer, consumer)
    });

    let out = wait_until("consumerConnection to list the consumer", READY_TIMEOUT, || {
        let o = mqadmin(&ns, &["consumerConnection", "-g", "cg_conn"]);
        o.status.success().then(|| stdout(&o))
    });
    let row: Vec<&str> = out.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(row.len(), 5, "{out}");
    assert_eq!(row[0], "001", "{out}");
    assert!(row[2].starts_with("127.0.0.1:"), "{out}");
    assert!(row[4].starts_with('V'), "version name: {out}");
    assert!(
        out.lines()
            .any(|l| l.contains("Topic: ConnTopic") && l.ends_with("SubExpression: TagA || TagB")),
        "{out}"
    );
    assert!(out.contains("Topic: %RETRY%cg_conn"), "{out}");
    assert!(out.contains("ConsumeType: CONSUME_PASSIVELY"), "{out}");
    assert!(out.contains("MessageModel: CLUSTERING"), "{out}");
    assert!(out.contains("ConsumeFromWhere: "), "{out}");

    let out = mqadmin_ok(&ns, &["producerConnection", "-g", "pg_conn", "-t", "ConnTopic"]);
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows.len(), 1, "{out}");
    let cols: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(cols[0], "0001", "{out}");
    assert!(cols[2].starts_with("127.0.0.1:"), "{out}");

    let err = fails(
        &ns,
        &["producerConnection", "-g", "pg_nobody", "-t", "ConnTopic"],
        1,
    );
    assert!(err.contains("the producer group[pg_nobody] not exist"), "{err}");
    rt.block_on(async {
        consumer.shutdown().await;
        producer.shutdown().await;
    });
    // Nobody online: CONSUMER_NOT_ONLINE, by code name, once the group has a route...
    let err = fails(&ns, &["consumerConnection", "-g", "cg_conn"], 1);
    assert!(err.contains("CONSUMER_NOT_ONLINE"), "{err}");
    // ...and when it never had one.
    let err = fails(&ns, &["consumerConnection", "-g", "cg_never"], 1);
    assert!(err.contains("CONSUMER_NOT_ONLINE"), "{err}");
}

#[test]
fn new_commands_reject_bad_flags_before_connecting() {
    // Nothing listens here: clap refuses these before any request is made (exit code 2).
    let ns = format!("127.0.0.1:{}", free_port());
    let err = fails(&ns, &["updateSubGroup", "-g", "g"], 2);
    assert!(err.contains("--clusterName"), "{err}");
    let err = fails(&ns, &["updateSubGroup", "-b", "h:1", "-c", "C", "-g", "g"], 2);
    assert!(err.contains("cannot be used with"), "{err}");
    let err = fails(&ns, &["updateSubGroup", "-b", "h:1", "-g", "g", "-s", "yes"], 2);
    assert!(
        err.contains("--consumeEnable") && err.contains("true or false"),
        "{err}"
    );
    let err = fails(&ns, &["updateSubGroup", "-b", "h:1", "-g", "g", "-r", "many"], 2);
    assert!(err.contains("--retryMaxTimes"), "{err}");
    let err = fails(&ns, &["deleteSubGroup", "-c", "C"], 2);
    assert!(err.contains("--groupName"), "{err}");
    let err = fails(&ns, &["updateTopicPerm", "-b", "h:1", "-t", "T", "-p", "5"], 2);
    assert!(err.contains("2 (W), 4 (R) or 6 (RW)"), "{err}");
    let err = fails(&ns, &["producerConnection", "-g", "pg"], 2);
    assert!(err.contains("--topic"), "{err}");
    let err = fails(&ns, &["consumerConnection"], 2);
    assert!(err.contains("--consumerGroup"), "{err}");
    let err = fails(&ns, &["topicClusterList"], 2);
    assert!(err.contains("--topic"), "{err}");
    // A valid command line against a dead name server fails at run time instead (exit code 1).
    let err = fails(&ns, &["topicClusterList", "-t", "T"], 1);
    assert!(err.contains("check that the server is running"), "{err}");
}
