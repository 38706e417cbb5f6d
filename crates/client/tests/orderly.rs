//! Ordered consumption against the real nameserver and broker, in process: a message that keeps
//! failing goes to the group's dead-letter queue after `max_reconsume_times` local attempts, and
//! a queue handed to another member during a rebalance is never consumed by both at once.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rmq_client::{
    ConsumeFromWhere, ConsumeResult, Message, MessageExt, Producer, ProducerConfig, PullConsumer,
    PullConsumerConfig, PullStatus, PushConsumer, PushConsumerConfig,
};

fn orderly_config(namesrv: &str, group: &str) -> PushConsumerConfig {
    PushConsumerConfig {
        client: fast_client(namesrv),
        group: group.to_string(),
        orderly: true,
        consume_from_where: ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET,
        rebalance_interval: Duration::from_secs(2),
        persist_consumer_offset_interval: Duration::from_millis(500),
        pull_error_backoff: Duration::from_millis(300),
        ..Default::default()
    }
}

async fn producer(namesrv: &str, group: &str) -> Producer {
    Producer::start(ProducerConfig {
        client: fast_client(namesrv),
        group: group.into(),
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_failing_max_reconsume_times_goes_to_the_dlq() {
    init_logs();
    let ns = start_namesrv().await;
    let broker = BrokerProc::start(&ns.addr, "broker-a");
    create_topic(&[&broker.addr], "TopicOrderDlq", 1).await;
    wait_route(&ns.addr, "TopicOrderDlq", 1).await;
    let producer = producer(&ns.addr, "pg_order_dlq").await;
    let sent = producer
        .send(Message::new("TopicOrderDlq", "poison"))
        .await
        .unwrap();

    let deliveries: Arc<Mutex<Vec<MessageExt>>> = Arc::new(Mutex::new(Vec::new()));
    let d2 = deliveries.clone();
    let consumer = PushConsumer::builder(PushConsumerConfig {
        max_reconsume_times: 2,
        ..orderly_config(&ns.addr, "cg_order_dlq")
    })
    .subscribe("TopicOrderDlq", "*")
    .start(move |m| {
        let d2 = d2.clone();
        async move {
            d2.lock().unwrap().push(m);
            ConsumeResult::ReconsumeLater
        }
    })
    .await
    .unwrap();

    // Two local attempts a second apart, then straight to the DLQ. Through %RETRY% instead, the
    // message would only come back after the 10 s delay level, and reach the DLQ much later.
    let dlq = "%DLQ%cg_order_dlq";
    wait_for(Duration::from_secs(15), || async {
        route(&ns.addr, dlq).await.is_some()
    })
    .await;
    let pull = PullConsumer::start(PullConsumerConfig {
        client: fast_client(&ns.addr),
        group: "pull_order_dlq".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mqs = pull.fetch_subscribe_queues(dlq).await.unwrap();
    assert_eq!(mqs.len(), 1);
    let r = pull.pull(&mqs[0], "*", 0, 16).await.unwrap();
    assert_eq!(r.status, PullStatus::Found);
    assert_eq!(r.messages.len(), 1);
    assert_eq!(r.messages[0].msg_id(), sent.msg_id);
    assert_eq!(r.messages[0].body().as_ref(), b"poison");
    // It is not delivered again through the retry topic.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(deliveries.lock().unwrap().len(), 2);
    pull.shutdown(&mqs).await;
    consumer.shutdown().await;
    producer.shutdown().await;
    broker.stop();
    ns.server.shutdown().await;
}

/// One callback run: which member, which message, when it started and ended.
#[derive(Debug, Clone)]
struct Run {
    member: &'static str,
    msg_id: String,
    start: Instant,
    end: Option<Instant>,
}

type Runs = Arc<Mutex<Vec<Run>>>;

async fn recording_member(namesrv: &str, member: &'static str, runs: Runs, hold: Duration) -> PushConsumer {
    PushConsumer::builder(orderly_config(namesrv, "cg_handoff"))
        .subscribe("TopicHandoff", "*")
        .start(move |m| {
            let runs = runs.clone();
            async move {
                let index = {
                    let mut r = runs.lock().unwrap();
                    r.push(Run {
                        member,
                        msg_id: m.msg_id().to_string(),
                        start: Instant::now(),
                        end: None,
                    });
                    r.len() - 1
                };
                tokio::time::sleep(hold).await;
                runs.lock().unwrap()[index].end = Some(Instant::now());
                ConsumeResult::Success
            }
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_given_up_mid_callback_is_not_consumed_twice_at_once() {
    init_logs();
    let ns = start_namesrv().await;
    let broker = BrokerProc::start(&ns.addr, "broker-a");
    create_topic(&[&broker.addr], "TopicHandoff", 2).await;
    wait_route(&ns.addr, "TopicHandoff", 1).await;
    let producer = producer(&ns.addr, "pg_handoff").await;
    for q in 0..2 {
        producer
            .send_with_selector(Message::new("TopicHandoff", format!("q{q}")), |_| q)
            .await
            .unwrap();
    }

    // Member A holds both queues and sits in a long callback on each.
    let runs: Runs = Arc::new(Mutex::new(Vec::new()));
    let a = recording_member(&ns.addr, "A", runs.clone(), Duration::from_secs(6)).await;
    wait_for(Duration::from_secs(20), || async {
        runs.lock().unwrap().len() >= 2
    })
    .await;
    // B joins: one queue moves to it while A's callback on that queue is still running.
    let b = recording_member(&ns.addr, "B", runs.clone(), Duration::from_millis(10)).await;
    wait_for(Duration::from_secs(20), || async {
        a.assigned_queues()
            .iter()
            .filter(|q| q.topic == "TopicHandoff")
            .count()
            == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(7)).await;

    let runs = runs.lock().unwrap().clone();
    let far = Instant::now() + Duration::from_secs(3600);
    for x in &runs {
        for y in runs
            .iter()
            .filter(|y| y.member != x.member && y.msg_id == x.msg_id)
        {
            let overlap = x.start < y.end.unwrap_or(far) && y.start < x.end.unwrap_or(far);
            assert!(!overlap, "{} consumed by A and B at once: {runs:?}", x.msg_id);
        }
    }
    b.shutdown().await;
    a.shutdown().await;
    producer.shutdown().await;
    broker.stop();
    ns.server.shutdown().await;
}
