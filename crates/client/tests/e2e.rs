//! The client against the real nameserver and broker, in process: sends of every kind with
//! tags, keys, properties and compression; push and pull consumption; retry of a failed message.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rmq_client::{
    ConsumeFromWhere, ConsumeResult, Message, MessageExt, Producer, ProducerConfig, PullConsumer,
    PullConsumerConfig, PullStatus, PushConsumer, PushConsumerConfig, SendStatus,
};

fn push_config(namesrv: &str, group: &str) -> PushConsumerConfig {
    PushConsumerConfig {
        client: fast_client(namesrv),
        group: group.to_string(),
        consume_from_where: ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET,
        rebalance_interval: Duration::from_secs(2),
        persist_consumer_offset_interval: Duration::from_secs(1),
        pull_error_backoff: Duration::from_millis(300),
        ..Default::default()
    }
}

type Received = Arc<Mutex<Vec<MessageExt>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_of_every_kind_arrive_with_tags_keys_properties_and_bodies() {
    init_logs();
    let ns = start_namesrv().await;
    let broker = BrokerProc::start(&ns.addr, "broker-a");
    create_topic(&[&broker.addr], "TopicE2E", 4).await;
    wait_route(&ns.addr, "TopicE2E", 1).await;

    let producer = Producer::start(ProducerConfig {
        client: fast_client(&ns.addr),
        group: "pg_e2e".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut expected: HashMap<String, Vec<u8>> = HashMap::new();
    // Sync sends with keys, tags and a user property; every 10th body is large (compressed).
    for i in 0..40 {
        let body = if i % 10 == 0 {
            vec![b'a' + (i % 26) as u8; 20_000]
        } else {
            format!("sync-{i}").into_bytes()
        };
        let msg = Message::new("TopicE2E", body.clone())
            .with_tags(if i % 2 == 0 { "TagA" } else { "TagB" })
            .with_keys([format!("key-{i}")])
            .with_property("seq", i.to_string());
        let r = producer.send(msg).await.unwrap();
        assert_eq!(r.status, SendStatus::SendOk);
        assert_eq!(r.msg_id.len(), 32);
        assert_eq!(r.attempts, 1);
        if i % 2 == 0 {
            expected.insert(r.msg_id.clone(), body);
        }
    }
    // Async sends, many in flight.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..50 {
        let tx = tx.clone();
        let msg = Message::new("TopicE2E", format!("async-{i}"))
            .with_tags("TagA")
            .with_keys([format!("akey-{i}")]);
        producer
            .send_async(msg, move |r| tx.send((i, r.map(|r| r.msg_id))).unwrap())
            .await
            .unwrap();
    }
    for _ in 0..50 {
        let (i, id) = rx.recv().await.unwrap();
        let id = id.unwrap();
        expected.insert(id, format!("async-{i}").into_bytes());
    }
    // Batch, chosen queue, selector and one-way.
    let batch: Vec<Message> = (0..5)
        .map(|i| Message::new("TopicE2E", format!("batch-{i}")).with_tags("TagA"))
        .collect();
    let r = producer.send_batch(batch).await.unwrap();
    let ids: Vec<&str> = r.msg_id.split(',').collect();
    assert_eq!(ids.len(), 5);
    for (i, id) in ids.iter().enumerate() {
        expected.insert(id.to_string(), format!("batch-{i}").into_bytes());
    }
    let queues = producer.fetch_publish_queues("TopicE2E").await.unwrap();
    assert_eq!(queues.len(), 4);
    let r = producer
        .send_to_queue(Message::new("TopicE2E", "chosen").with_tags("TagA"), &queues[3])
        .await
        .unwrap();
    assert_eq!(r.queue, queues[3]);
    expected.insert(r.msg_id, b"chosen".to_vec());
    let r = producer
        .send_with_selector(Message::new("TopicE2E", "selected").with_tags("TagA"), |qs| {
            qs.len() + 1
        })
        .await
        .unwrap();
    assert_eq!(r.queue.queue_id, 1);
    expected.insert(r.msg_id, b"selected".to_vec());
    producer
        .send_oneway(Message::new("TopicE2E", "oneway").with_tags("TagA"))
        .await
        .unwrap();

    // A push consumer subscribed to TagA gets exactly the TagA messages.
    let received: Received = Arc::new(Mutex::new(Vec::new()));
    let r2 = received.clone();
    let consumer = PushConsumer::builder(push_config(&ns.addr, "cg_e2e"))
        .subscribe("TopicE2E", "TagA")
        .start(move |m| {
            let r2 = r2.clone();
            async move {
                r2.lock().unwrap().push(m);
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    let want = expected.len() + 1; // + the one-way message
    wait_for(Duration::from_secs(30), || async {
        received.lock().unwrap().len() >= want
    })
    .await;
    let got = received.lock().unwrap().clone();
    let by_id: HashMap<&str, &MessageExt> = got.iter().map(|m| (m.msg_id(), m)).collect();
    assert_eq!(by_id.len(), got.len(), "no duplicates");
    for (id, body) in &expected {
        let m = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("message {id} not consumed"));
        assert_eq!(m.body().as_ref(), &body[..]);
        assert_eq!(m.tags(), Some("TagA"));
        assert_eq!(m.topic(), "TopicE2E");
    }
    let sync0 = got.iter().find(|m| m.keys() == ["key-0"]).unwrap();
    assert_eq!(sync0.property("seq"), Some("0"));
    assert_eq!(sync0.body().len(), 20_000);
    assert!(got.iter().all(|m| m.tags() == Some("TagA")));
    assert!(got.iter().any(|m| m.body().as_ref() == b"oneway"));
    consumer.shutdown().await;

    // A pull consumer reads the queues from explicit offsets and sees every message once.
    let pull = PullConsumer::start(PullConsumerConfig {
        client: fast_client(&ns.addr),
        group: "pull_e2e".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mqs = pull.fetch_subscribe_queues("TopicE2E").await.unwrap();
    assert_eq!(mqs.len(), 4);
    let mut total = 0;
    for mq in &mqs {
        let max = pull.max_offset(mq).await.unwrap();
        assert_eq!(pull.min_offset(mq).await.unwrap(), 0);
        let mut offset = 0;
        while offset < max {
            let r = pull.pull(mq, "*", offset, 16).await.unwrap();
            assert_eq!(r.status, PullStatus::Found);
            total += r.messages.len();
            offset = r.next_begin_offset;
        }
        let r = pull.pull(mq, "*", offset, 16).await.unwrap();
        assert_eq!(r.status, PullStatus::NoNewMsg);
        pull.update_consume_offset(mq, offset);
    }
    assert_eq!(total, 40 + 50 + 5 + 3);
    pull.persist_offsets(&mqs).await;
    wait_for(Duration::from_secs(10), || async {
        pull.fetch_consume_offset(&mqs[0]).await.ok().flatten()
            == Some(pull.max_offset(&mqs[0]).await.unwrap())
    })
    .await;
    pull.shutdown(&mqs).await;
    producer.shutdown().await;
    broker.stop();
    ns.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_message_comes_back_through_the_retry_topic() {
    init_logs();
    let ns = start_namesrv().await;
    let broker = BrokerProc::start(&ns.addr, "broker-a");
    create_topic(&[&broker.addr], "TopicRetry", 2).await;
    wait_route(&ns.addr, "TopicRetry", 1).await;
    let producer = Producer::start(ProducerConfig {
        client: fast_client(&ns.addr),
        group: "pg_retry".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let sent = producer
        .send(Message::new("TopicRetry", "try me").with_keys(["r1"]))
        .await
        .unwrap();

    let deliveries: Received = Arc::new(Mutex::new(Vec::new()));
    let d2 = deliveries.clone();
    let consumer = PushConsumer::builder(push_config(&ns.addr, "cg_retry"))
        .subscribe("TopicRetry", "*")
        .start(move |m| {
            let d2 = d2.clone();
            async move {
                let mut d = d2.lock().unwrap();
                d.push(m);
                if d.len() == 1 {
                    ConsumeResult::ReconsumeLater
                } else {
                    ConsumeResult::Success
                }
            }
        })
        .await
        .unwrap();
    // The first retry level is 10 s on the broker's schedule.
    wait_for(Duration::from_secs(40), || async {
        deliveries.lock().unwrap().len() >= 2
    })
    .await;
    let d = deliveries.lock().unwrap().clone();
    assert_eq!(d[0].msg_id(), sent.msg_id);
    assert_eq!(d[1].msg_id(), sent.msg_id, "the retried message keeps its id");
    assert_eq!(d[1].topic(), "TopicRetry", "the original topic is restored");
    assert_eq!(d[1].body().as_ref(), b"try me");
    assert!(d[1].reconsume_times >= 1);
    consumer.shutdown().await;
    producer.shutdown().await;
    broker.stop();
    ns.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_consumption_keeps_queue_order_and_broadcasting_reaches_everyone() {
    init_logs();
    let ns = start_namesrv().await;
    let broker = BrokerProc::start(&ns.addr, "broker-a");
    create_topic(&[&broker.addr], "TopicOrder", 2).await;
    wait_route(&ns.addr, "TopicOrder", 1).await;
    let producer = Producer::start(ProducerConfig {
        client: fast_client(&ns.addr),
        group: "pg_order".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 0..60 {
        // Orders 0..3, each pinned to a queue by its id.
        let order = i % 4;
        let msg = Message::new("TopicOrder", format!("{order}:{i}"));
        producer.send_with_selector(msg, |_| order).await.unwrap();
    }

    let seen: Arc<Mutex<Vec<(i32, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let ordered = PushConsumer::builder(PushConsumerConfig {
        orderly: true,
        ..push_config(&ns.addr, "cg_order")
    })
    .subscribe("TopicOrder", "*")
    .start(move |m| {
        let s2 = s2.clone();
        async move {
            s2.lock()
                .unwrap()
                .push((m.queue_id, String::from_utf8_lossy(m.body()).into_owned()));
            ConsumeResult::Success
        }
    })
    .await
    .unwrap();
    wait_for(Duration::from_secs(30), || async {
        seen.lock().unwrap().len() >= 60
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    for order in 0..4 {
        let seq: Vec<usize> = seen
            .iter()
            .filter(|(_, b)| b.starts_with(&format!("{order}:")))
            .map(|(_, b)| b.split(':').nth(1).unwrap().parse().unwrap())
            .collect();
        let mut sorted = seq.clone();
        sorted.sort_unstable();
        assert_eq!(seq, sorted, "order {order} consumed in send order");
        assert_eq!(seq.len(), 15);
    }
    ordered.shutdown().await;

    // Broadcasting: two members of one group each get all 60.
    let mut counts = Vec::new();
    let mut members = Vec::new();
    for _ in 0..2 {
        let n = Arc::new(Mutex::new(HashSet::new()));
        let n2 = n.clone();
        let c = PushConsumer::builder(PushConsumerConfig {
            message_model: rmq_client::MessageModel::BROADCASTING,
            ..push_config(&ns.addr, "cg_broadcast")
        })
        .subscribe("TopicOrder", "*")
        .start(move |m| {
            let n2 = n2.clone();
            async move {
                n2.lock().unwrap().insert(m.msg_id().to_string());
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
        counts.push(n);
        members.push(c);
    }
    for n in &counts {
        wait_for(Duration::from_secs(30), || async {
            n.lock().unwrap().len() >= 60
        })
        .await;
    }
    for c in members {
        c.shutdown().await;
    }
    producer.shutdown().await;
    broker.stop();
    ns.server.shutdown().await;
}
