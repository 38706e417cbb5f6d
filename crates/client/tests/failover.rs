//! Fault scenario (seeds 002 and 003): two broker groups, each a master and a replicating slave,
//! a producer sending continuously. One master is killed: the producer keeps succeeding on the
//! other group with at most one retry per message, and a consumer drains the dead master's
//! messages from its slave. When the master comes back, its group takes writes again.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rmq_client::pull::max_offset;
use rmq_client::{
    ConsumeFromWhere, ConsumeResult, Message, MessageQueue, Producer, ProducerConfig, PushConsumer,
    PushConsumerConfig, SendResult,
};
use tempfile::TempDir;

const TOPIC: &str = "TopicFailover";

/// Max offsets of the topic's 4 queues at one broker address.
async fn max_offsets(producer: &Producer, addr: &str, broker: &str) -> Vec<i64> {
    let client = rmq_remoting::net::RemotingClient::default();
    let mut out = Vec::new();
    for q in 0..4 {
        let header = rmq_remoting::headers::offset::GetMaxOffsetRequestHeader {
            topic: TOPIC.into(),
            queue_id: q,
            bname: Some(broker.into()),
        };
        let r = client
            .call(addr, &header, None, Duration::from_secs(3))
            .await
            .map(|(h, _)| h.offset);
        out.push(r.unwrap_or(-1));
    }
    client.shutdown();
    let _ = producer;
    out
}

/// Whether the slave's topic table (synced from its master) has the topic.
async fn slave_knows_topic(addr: &str) -> bool {
    let client = rmq_remoting::net::RemotingClient::default();
    let request = rmq_remoting::RemotingCommand::request(rmq_remoting::RequestCode::GET_ALL_TOPIC_CONFIG);
    let r = client.invoke(addr, request, Duration::from_secs(3)).await;
    client.shutdown();
    r.is_ok_and(|r| r.is_success() && String::from_utf8_lossy(&r.body).contains(TOPIC))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_master_producer_moves_on_and_consumer_drains_the_slave() {
    init_logs();
    let ns = start_namesrv().await;
    let dirs: Vec<TempDir> = (0..4).map(|_| TempDir::new().unwrap()).collect();
    let a0 = BrokerProc::start_with(broker_config(&ns.addr, "broker-a", 0, &dirs[0]));
    let b0 = BrokerProc::start_with(broker_config(&ns.addr, "broker-b", 0, &dirs[1]));
    create_topic(&[&a0.addr, &b0.addr], TOPIC, 4).await;
    wait_route(&ns.addr, TOPIC, 2).await;
    let a1 = BrokerProc::start_with(broker_config(&ns.addr, "broker-a", 1, &dirs[2]));
    let b1 = BrokerProc::start_with(broker_config(&ns.addr, "broker-b", 1, &dirs[3]));
    wait_for(Duration::from_secs(20), || async {
        route(&ns.addr, TOPIC)
            .await
            .is_some_and(|r| r.broker_datas.iter().all(|b| b.broker_addrs.len() == 2))
    })
    .await;

    let producer = Producer::start(ProducerConfig {
        client: fast_client(&ns.addr),
        group: "pg_fail".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    // Phase 1: messages on both groups, replicated to the slaves before the failure.
    let mut before = Vec::new();
    for i in 0..200 {
        before.push(
            producer
                .send(Message::new(TOPIC, format!("before-{i}")))
                .await
                .unwrap(),
        );
    }
    assert!(before.iter().any(|r| r.queue.broker_name == "broker-a"));
    let a_master = max_offsets(&producer, &a0.addr, "broker-a").await;
    wait_for(Duration::from_secs(60), || async {
        max_offsets(&producer, &a1.addr, "broker-a").await == a_master
    })
    .await;
    // The slave serves pulls of topics it knows; it learns them from the master's config sync.
    wait_for(Duration::from_secs(30), || async {
        slave_knows_topic(&a1.addr).await
    })
    .await;

    // Phase 2: a producer sending continuously while master a dies.
    let stop = Arc::new(AtomicBool::new(false));
    let during: Arc<Mutex<Vec<rmq_client::Result<SendResult>>>> = Arc::new(Mutex::new(Vec::new()));
    let sender = {
        let (producer, stop, during) = (producer.clone(), stop.clone(), during.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let r = producer.send(Message::new(TOPIC, format!("during-{i}"))).await;
                during.lock().unwrap().push(r);
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    wait_for(Duration::from_secs(10), || async {
        during.lock().unwrap().len() >= 50
    })
    .await;
    let a0_port = a0.addr.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    a0.kill();
    let killed_at = during.lock().unwrap().len();
    wait_for(Duration::from_secs(20), || async {
        during.lock().unwrap().len() >= killed_at + 200
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    sender.await.unwrap();

    let during = std::mem::take(&mut *during.lock().unwrap());
    let mut retried = 0;
    for (i, r) in during.iter().enumerate() {
        let r = r.as_ref().unwrap_or_else(|e| panic!("send {i} failed: {e}"));
        assert!(r.attempts <= 2, "send {i} took {} attempts", r.attempts);
        if r.attempts > 1 {
            retried += 1;
            assert_eq!(
                r.queue.broker_name, "broker-b",
                "the retry went to the other group"
            );
        }
    }
    // Once the dead master is benched or out of the route, sends go straight to broker-b.
    assert!(retried <= 3, "{retried} sends needed a retry");
    assert!(during[killed_at + 20..]
        .iter()
        .all(|r| r.as_ref().unwrap().queue.broker_name == "broker-b"));

    // The consumer drains broker-a's replicated messages from its slave, and broker-b's.
    let mut expected: HashSet<String> = before.iter().map(|r| r.msg_id.clone()).collect();
    expected.extend(
        during
            .iter()
            .flatten()
            .filter(|r| r.queue.broker_name == "broker-b")
            .map(|r| r.msg_id.clone()),
    );
    let seen: Arc<Mutex<HashSet<String>>> = Arc::new(Mutex::new(HashSet::new()));
    let s2 = seen.clone();
    let consumer = PushConsumer::builder(PushConsumerConfig {
        client: fast_client(&ns.addr),
        group: "cg_fail".into(),
        consume_from_where: ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET,
        rebalance_interval: Duration::from_secs(2),
        pull_error_backoff: Duration::from_millis(300),
        ..Default::default()
    })
    .subscribe(TOPIC, "*")
    .start(move |m| {
        let s2 = s2.clone();
        async move {
            s2.lock().unwrap().insert(m.msg_id().to_string());
            ConsumeResult::Success
        }
    })
    .await
    .unwrap();
    wait_for(Duration::from_secs(60), || async {
        let seen = seen.lock().unwrap();
        expected.iter().all(|id| seen.contains(id))
    })
    .await;
    let a_queues: Vec<MessageQueue> = consumer
        .assigned_queues()
        .into_iter()
        .filter(|q| q.broker_name == "broker-a" && q.topic == TOPIC)
        .collect();
    assert_eq!(
        a_queues.len(),
        4,
        "the dead master's queues are still assigned (served by the slave)"
    );

    // The master returns on its old port with its old store: its group takes writes again and
    // the consumer gets what is written there.
    let mut config = broker_config(&ns.addr, "broker-a", 0, &dirs[0]);
    config.listen_port = a0_port;
    let a0 = BrokerProc::start_with(config);
    wait_for(Duration::from_secs(20), || async {
        route(&ns.addr, TOPIC).await.is_some_and(|r| {
            r.broker_datas
                .iter()
                .any(|b| b.broker_name == "broker-a" && b.broker_addrs.contains_key(&0))
        })
    })
    .await;
    let mq = MessageQueue::new(TOPIC, "broker-a", 0);
    wait_for(Duration::from_secs(20), || async {
        producer.instance().update_route(TOPIC).await.ok();
        producer
            .send_to_queue(Message::new(TOPIC, "probe"), &mq)
            .await
            .is_ok()
    })
    .await;
    let mut after = Vec::new();
    for i in 0..40 {
        after.push(
            producer
                .send_to_queue(Message::new(TOPIC, format!("after-{i}")), &mq)
                .await
                .unwrap()
                .msg_id,
        );
    }
    wait_for(Duration::from_secs(30), || async {
        after.iter().all(|id| seen.lock().unwrap().contains(id))
    })
    .await;
    assert!(max_offset(producer.instance(), &mq).await.unwrap() >= 40);

    consumer.shutdown().await;
    producer.shutdown().await;
    a0.stop();
    a1.stop();
    b0.stop();
    b1.stop();
    ns.server.shutdown().await;
}
