//! `mqadmin resetOffsetByTime` end to end against a real `mqnamesrv` and `mqbroker`: a push
//! consumer of our client that stays online consumes N messages, the group is reset to a time
//! before them, and the consumer receives the N messages again (the broker's
//! RESET_CONSUMER_CLIENT_OFFSET push reached it). Then, with the consumer stopped, the same
//! command falls back to writing the stored offsets (Apache's old table).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rmq_client::{ClientConfig, ConsumeResult, Producer, ProducerConfig, PushConsumer, PushConsumerConfig};
use rmq_remoting::body::ConsumeFromWhere;

const N: usize = 10;
const WAIT: Duration = Duration::from_secs(60);

async fn wait_count(count: &AtomicUsize, want: usize, what: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while count.load(Ordering::SeqCst) < want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {} of {want} messages after {WAIT:?}",
            count.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The data rows (after the `#brokerName` header line) of a reset table.
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .skip_while(|l| !l.starts_with("#brokerName"))
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_consumer_is_reset_and_offline_group_falls_back() {
    let single = Single::start(&[]);
    let ns = single.namesrv.addr();
    let broker = single.broker.addr();
    create_topic(&broker, "ResetT", 1);
    wait_route(&ns, "ResetT", "broker-a");
    let before = now_ms() - 1;

    let client = ClientConfig {
        namesrv_addr: ns.clone(),
        ..ClientConfig::default()
    };
    let producer = Producer::start(ProducerConfig {
        client: client.clone(),
        group: "reset_pg".into(),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer starts");
    for i in 0..N {
        let msg = rmq_client::Message::new("ResetT", format!("m{i}").into_bytes());
        producer.send(msg).await.expect("send");
    }
    producer.shutdown().await;

    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let consumer = PushConsumer::builder(PushConsumerConfig {
        client,
        group: "reset_g".into(),
        consume_from_where: ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET,
        persist_consumer_offset_interval: Duration::from_secs(1),
        ..PushConsumerConfig::default()
    })
    .subscribe("ResetT", "*")
    .start(move |_msg| {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            ConsumeResult::Success
        }
    })
    .await
    .expect("consumer starts");
    wait_count(&count, N, "first pass").await;
    // The broker must know the group's offset on the queue before it can reset it.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let ts = before.to_string();
    let out = tokio::task::spawn_blocking({
        let ns = ns.clone();
        let ts = ts.clone();
        move || {
            mqadmin_ok(
                &ns,
                &["resetOffsetByTime", "-g", "reset_g", "-t", "ResetT", "-s", &ts],
            )
        }
    })
    .await
    .unwrap();
    assert!(
        out.contains(&format!(
            "rollback consumer offset by specified group[reset_g], topic[ResetT], force[true], \
             timestamp(string)[{ts}], timestamp(long)[{ts}]"
        )),
        "{out}"
    );
    assert_eq!(rows(&out), vec![vec!["broker-a", "0", "0"]], "{out}");
    wait_count(&count, 2 * N, "after the online reset").await;
    assert_eq!(
        count.load(Ordering::SeqCst),
        2 * N,
        "each message comes back exactly once"
    );
    consumer.shutdown().await;

    // Offline: the broker answers CONSUMER_NOT_ONLINE and the stored offsets are rewritten.
    let out = tokio::task::spawn_blocking(move || {
        wait_until("group offline", WAIT, || {
            let o = mqadmin_ok(
                &ns,
                &["resetOffsetByTime", "-g", "reset_g", "-t", "ResetT", "-s", &ts],
            );
            o.contains("consumerGroup[reset_g]").then_some(o)
        })
    })
    .await
    .unwrap();
    assert!(out.contains("#rollbackOffset"), "{out}");
    let row = &rows(&out)[0];
    assert_eq!(row[0], "broker-a", "{out}");
    assert_eq!(row[2], N.to_string(), "broker offset: {out}");
    assert_eq!(row[3], N.to_string(), "consumer offset before: {out}");
    assert_eq!(row[5], "0", "rolled back to the first message: {out}");
}
