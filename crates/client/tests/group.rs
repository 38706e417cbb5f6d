//! A consumer group of three on two broker groups × 4 queues: the queues are split 3/3/2 with
//! AllocateMessageQueueAveragely, every message is consumed exactly once in steady state, and the
//! group rebalances when a member joins or leaves.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rmq_client::{
    ClientConfig, ConsumeFromWhere, ConsumeResult, Message, MessageQueue, Producer, ProducerConfig,
    PushConsumer, PushConsumerConfig,
};

const TOPIC: &str = "TopicGroup";

/// msg id → how many times consumed, per member index.
type Tally = Arc<Mutex<HashMap<String, Vec<usize>>>>;

async fn member(namesrv: &str, index: usize, tally: Tally) -> PushConsumer {
    let config = PushConsumerConfig {
        client: fast_client(namesrv),
        group: "cg_three".into(),
        consume_from_where: ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET,
        rebalance_interval: Duration::from_secs(2),
        persist_consumer_offset_interval: Duration::from_millis(500),
        pull_error_backoff: Duration::from_millis(300),
        ..Default::default()
    };
    PushConsumer::builder(config)
        .subscribe(TOPIC, "*")
        .start(move |m| {
            let tally = tally.clone();
            async move {
                tally
                    .lock()
                    .unwrap()
                    .entry(m.msg_id().to_string())
                    .or_default()
                    .push(index);
                ConsumeResult::Success
            }
        })
        .await
        .unwrap()
}

fn topic_queues(c: &PushConsumer) -> Vec<MessageQueue> {
    c.assigned_queues()
        .into_iter()
        .filter(|q| q.topic == TOPIC)
        .collect()
}

/// Waits until the members hold disjoint sets covering all 8 queues with the given sizes.
async fn wait_partition(members: &[&PushConsumer], sizes: &[usize]) {
    wait_for(Duration::from_secs(40), || async {
        let shares: Vec<Vec<MessageQueue>> = members.iter().map(|c| topic_queues(c)).collect();
        let mut got: Vec<usize> = shares.iter().map(Vec::len).collect();
        got.sort_unstable();
        let mut want = sizes.to_vec();
        want.sort_unstable();
        let all: BTreeSet<&MessageQueue> = shares.iter().flatten().collect();
        got == want && all.len() == 8
    })
    .await;
}

async fn send(producer: &Producer, from: usize, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in from..from + n {
        ids.push(
            producer
                .send(Message::new(TOPIC, format!("m{i}")))
                .await
                .unwrap()
                .msg_id,
        );
    }
    ids
}

async fn wait_consumed(tally: &Tally, ids: &[String]) {
    wait_for(Duration::from_secs(40), || async {
        let t = tally.lock().unwrap();
        ids.iter().all(|id| t.contains_key(id))
    })
    .await;
}

fn assert_exactly_once(tally: &Tally, ids: &[String]) {
    let t = tally.lock().unwrap();
    for id in ids {
        assert_eq!(t[id].len(), 1, "message {id} consumed by {:?}", t[id]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_of_three_on_two_brokers_shares_queues_and_rebalances() {
    init_logs();
    let ns = start_namesrv().await;
    let a = BrokerProc::start(&ns.addr, "broker-a");
    let b = BrokerProc::start(&ns.addr, "broker-b");
    create_topic(&[&a.addr, &b.addr], TOPIC, 4).await;
    wait_route(&ns.addr, TOPIC, 2).await;
    let producer = Producer::start(ProducerConfig {
        client: ClientConfig::new(&ns.addr),
        group: "pg_three".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    let tally: Tally = Arc::new(Mutex::new(HashMap::new()));
    let c0 = member(&ns.addr, 0, tally.clone()).await;
    let c1 = member(&ns.addr, 1, tally.clone()).await;
    let c2 = member(&ns.addr, 2, tally.clone()).await;
    wait_partition(&[&c0, &c1, &c2], &[3, 3, 2]).await;

    // Steady state: each message exactly once, spread over both brokers and all members.
    let ids = send(&producer, 0, 240).await;
    wait_consumed(&tally, &ids).await;
    assert_exactly_once(&tally, &ids);
    let per_member: Vec<usize> = (0..3)
        .map(|m| tally.lock().unwrap().values().filter(|v| v.contains(&m)).count())
        .collect();
    assert!(per_member.iter().all(|n| *n > 0), "{per_member:?}");

    // A fourth member joins: 2/2/2/2, still exactly once once settled.
    let c3 = member(&ns.addr, 3, tally.clone()).await;
    wait_partition(&[&c0, &c1, &c2, &c3], &[2, 2, 2, 2]).await;
    let ids = send(&producer, 240, 160).await;
    wait_consumed(&tally, &ids).await;
    assert_exactly_once(&tally, &ids);
    assert!(tally.lock().unwrap().values().any(|v| v.contains(&3)));

    // Two members leave: the other two take every queue, 4/4.
    c0.shutdown().await;
    c3.shutdown().await;
    wait_partition(&[&c1, &c2], &[4, 4]).await;
    let ids = send(&producer, 400, 160).await;
    wait_consumed(&tally, &ids).await;
    assert_exactly_once(&tally, &ids);

    c1.shutdown().await;
    c2.shutdown().await;
    producer.shutdown().await;
    a.stop();
    b.stop();
    ns.server.shutdown().await;
}
