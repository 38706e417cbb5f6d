//! The drill's traffic: one producer sending `drill-<seq>` bodies to the topic one after another,
//! and one push consumer group reading them, both with the Rust client's default settings. Every
//! outcome goes into the shared [`Ledger`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use rmq_client::{
    ClientConfig, ConsumeResult, Message, MessageQueue, Producer, ProducerConfig, PushConsumer,
    PushConsumerConfig, SendResult, SendStatus,
};
use tokio::task::JoinHandle;

use crate::drill::ledger::{body, parse_body, Ledger, Send, Stored};
use crate::drill::watch::{wait_for, Steps};

/// Pause between two sends: about 100 messages a second, enough to see every step in the counts
/// without loading a 2-core machine.
const SEND_PAUSE: Duration = Duration::from_millis(10);

/// Bench durations (ms) for the client's latency thresholds (50, 100, 550, 1000, 2000, 3000,
/// 15000 ms): only a failed send (counted as 30 s) or an answer slower than 15 s benches a broker,
/// and then for 10 s. The default benches a broker for 30–180 s after one answer slower than
/// 550 ms and for 600 s after a failure; on a loaded 2-core machine a live group's answers are
/// that slow now and then, and one send of the drill's lost in a CI run to a timeout benched a live
/// group for the rest of the drill, which is not the failure it rehearses. A dead master is still
/// avoided: its sends fail at once and are retried on another group, and the route drops it.
const BENCH_ONLY_FAILURES: [u64; 7] = [0, 0, 0, 0, 0, 0, 10_000];

/// Running producer and consumer.
pub struct Traffic {
    ledger: Arc<Mutex<Ledger>>,
    producer: Producer,
    consumer: Option<PushConsumer>,
    sender: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    next_seq: Arc<AtomicU64>,
    topic: String,
}

fn record(ledger: &Mutex<Ledger>, seq: u64, r: rmq_client::Result<SendResult>) {
    let send = match r {
        Ok(r) if r.status == SendStatus::SendOk => Send {
            at: Instant::now(),
            attempts: r.attempts,
            stored: Some(Stored {
                group: r.queue.broker_name,
                queue_id: r.queue.queue_id,
                queue_offset: r.queue_offset,
            }),
            error: None,
        },
        Ok(r) => Send {
            at: Instant::now(),
            attempts: r.attempts,
            stored: None,
            error: Some(format!("{:?}", r.status)),
        },
        Err(e) => Send {
            at: Instant::now(),
            attempts: 0,
            stored: None,
            error: Some(e.to_string()),
        },
    };
    if let Ok(mut l) = ledger.lock() {
        l.sent(seq, send);
    }
}

/// Sends one `warm-up` message to queue 0 of each group with a producer of its own, until each
/// group answers SEND_OK (at most `timeout`). A fresh broker creates and maps its first commit-log
/// file on its first send; on a loaded machine that answer can take longer than a send's 3 s
/// timeout, and the drill's producer would then avoid that group for minutes (latency fault
/// avoidance). The warm-up bodies are no drill bodies: the tally ignores them.
pub async fn warm_up(
    client: &ClientConfig,
    topic: &str,
    groups: &[&str],
    timeout: Duration,
) -> anyhow::Result<()> {
    let producer = Producer::start(ProducerConfig {
        client: client.clone(),
        group: "drill_warmup".into(),
        ..Default::default()
    })
    .await
    .context("starting the warm-up producer")?;
    let deadline = Instant::now() + timeout;
    let mut result = Ok(());
    for group in groups {
        let mq = MessageQueue::new(topic, *group, 0);
        loop {
            let _ = producer.instance().update_route(topic).await;
            let r = producer.send_to_queue(Message::new(topic, "warm-up"), &mq).await;
            if r.is_ok_and(|r| r.status == SendStatus::SendOk) {
                break;
            }
            if Instant::now() >= deadline {
                result = Err(anyhow::anyhow!(
                    "{group} did not answer a send within {timeout:?}"
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    producer.shutdown().await;
    result
}

impl Traffic {
    /// Starts the consumer group `drill_consumer` on `topic`, then the producer's sending loop.
    pub async fn start(client: &ClientConfig, topic: &str) -> anyhow::Result<Traffic> {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let seen = ledger.clone();
        let consumer = PushConsumer::builder(PushConsumerConfig {
            client: client.clone(),
            group: "drill_consumer".into(),
            ..Default::default()
        })
        .subscribe(topic, "*")
        .start(move |m| {
            let seen = seen.clone();
            async move {
                if let (Some(seq), Ok(mut l)) = (parse_body(m.body()), seen.lock()) {
                    l.delivered(seq);
                }
                ConsumeResult::Success
            }
        })
        .await
        .context("starting the consumer")?;
        let producer = Producer::start(ProducerConfig {
            client: client.clone(),
            group: "drill_producer".into(),
            not_available_duration: BENCH_ONLY_FAILURES.to_vec(),
            ..Default::default()
        })
        .await
        .context("starting the producer")?;
        let stop = Arc::new(AtomicBool::new(false));
        let next_seq = Arc::new(AtomicU64::new(0));
        let sender = {
            let (producer, stop, next_seq, ledger, topic) = (
                producer.clone(),
                stop.clone(),
                next_seq.clone(),
                ledger.clone(),
                topic.to_string(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let seq = next_seq.fetch_add(1, Ordering::Relaxed);
                    let r = producer.send(Message::new(&topic, body(seq))).await;
                    record(&ledger, seq, r);
                    tokio::time::sleep(SEND_PAUSE).await;
                }
            })
        };
        Ok(Traffic {
            ledger,
            producer,
            consumer: Some(consumer),
            sender: Some(sender),
            stop,
            next_seq,
            topic: topic.to_string(),
        })
    }

    /// The ledger (held briefly; the sender and the consumer write to it).
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits (at most 90 s) until 100 messages are stored on each of the two `groups`, then says
    /// that traffic flows: the common first step of every scenario.
    pub async fn wait_flowing(&self, groups: [&str; 2], steps: &Steps) -> anyhow::Result<()> {
        let [a, b] = groups;
        wait_for(
            &format!("100 messages stored on each of {a} and {b}"),
            Duration::from_secs(90),
            || async {
                let l = self.ledger();
                l.stored_on(a) >= 100 && l.stored_on(b) >= 100
            },
        )
        .await?;
        steps.say(format!(
            "traffic flows: {} sends so far, on both groups",
            self.ledger().send_count()
        ));
        Ok(())
    }

    /// Sends one message to queue `queue_id` of `group` (with a fresh route, so a group that just
    /// came back is found); the outcome is recorded like any other send.
    pub async fn send_to(&self, group: &str, queue_id: i32) -> bool {
        let _ = self.producer.instance().update_route(&self.topic).await;
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let mq = MessageQueue::new(&self.topic, group, queue_id);
        let r = self
            .producer
            .send_to_queue(Message::new(&self.topic, body(seq)), &mq)
            .await;
        let ok = r.as_ref().is_ok_and(|r| r.status == SendStatus::SendOk);
        // A probe that did not reach the broker is no send of the drill's traffic.
        if ok {
            record(&self.ledger, seq, r);
        }
        ok
    }

    /// Stops the sending loop (the consumer keeps reading).
    pub async fn stop_sending(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.sender.take() {
            let _ = h.await;
        }
    }

    /// Stops everything.
    pub async fn shutdown(mut self) {
        self.stop_sending().await;
        if let Some(c) = self.consumer.take() {
            c.shutdown().await;
        }
        self.producer.shutdown().await;
    }
}
