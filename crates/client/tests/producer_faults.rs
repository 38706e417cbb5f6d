//! The producer against scripted brokers: a broker answering NO_PERMISSION makes the send move
//! on to the other broker (seed 001); a slow broker is benched by the latency table and avoided
//! (seed 003); a dead nameserver in the list is skipped (seed 000); with
//! `retry_another_broker_when_not_store_ok`, a stored-but-not-OK result is returned when the
//! retry on another broker fails.

mod scripted;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rmq_client::{ClientConfig, Message, Producer, ProducerConfig, SendResult, SendStatus};
use scripted::{route, spawn, Behaviour, FakeBroker, ScriptedNamesrv, RW};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A nameserver (behind a dead one) routing topic `T` to two scripted brokers.
async fn cluster(
    first: Behaviour,
    second: Behaviour,
    cancel: &CancellationToken,
) -> (String, Arc<FakeBroker>, Arc<FakeBroker>) {
    let a = Arc::new(FakeBroker::new(first));
    let b = Arc::new(FakeBroker::new(second));
    let a_addr = spawn(a.clone(), cancel).await;
    let b_addr = spawn(b.clone(), cancel).await;
    let ns = Arc::new(ScriptedNamesrv::default());
    ns.set(
        "T",
        route(&[("broker-a", &a_addr, RW), ("broker-b", &b_addr, RW)]),
    );
    let ns = spawn(ns, cancel).await;
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    (format!("{dead};{ns}"), a, b)
}

async fn producer(namesrv: &str, fault_avoidance: bool) -> Producer {
    Producer::start(ProducerConfig {
        client: ClientConfig::new(namesrv),
        group: "pg_faults".into(),
        send_latency_fault_enable: fault_avoidance,
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn no_permission_moves_on_to_the_other_broker() {
    for fault_avoidance in [false, true] {
        let cancel = CancellationToken::new();
        let (ns, bad, good) = cluster(Behaviour::NoPermission, Behaviour::Ok, &cancel).await;
        let p = producer(&ns, fault_avoidance).await;
        for i in 0..16 {
            let r = p.send(Message::new("T", format!("m{i}"))).await.unwrap();
            assert_eq!(r.status, SendStatus::SendOk);
            assert_eq!(r.queue.broker_name, "broker-b");
            assert!(r.attempts <= 2);
        }
        assert_eq!(good.sends.load(Ordering::SeqCst), 16);
        assert!(
            bad.sends.load(Ordering::SeqCst) >= 1,
            "round robin reached the refusing broker"
        );
        // Only the answering broker's failure code is retried; the send never fails.
        p.shutdown().await;
        cancel.cancel();
    }
}

#[tokio::test]
async fn a_slow_broker_is_benched_and_avoided() {
    let cancel = CancellationToken::new();
    let (ns, slow, fast) = cluster(
        Behaviour::Slow(Duration::from_millis(600)),
        Behaviour::Ok,
        &cancel,
    )
    .await;
    let p = producer(&ns, true).await;
    for i in 0..24 {
        let r = p.send(Message::new("T", format!("m{i}"))).await.unwrap();
        assert_eq!(r.status, SendStatus::SendOk);
    }
    // The first send that reached the slow broker (600 ms ≥ 550 ms) benched it for 30 s.
    assert_eq!(slow.sends.load(Ordering::SeqCst), 1);
    assert_eq!(fast.sends.load(Ordering::SeqCst), 23);
    p.shutdown().await;

    // Without fault avoidance the round robin keeps using it.
    let p = producer(&ns, false).await;
    for i in 0..8 {
        p.send(Message::new("T", format!("n{i}"))).await.unwrap();
    }
    assert_eq!(slow.sends.load(Ordering::SeqCst), 1 + 4);
    p.shutdown().await;
    cancel.cancel();
}

/// Sends `n` messages with `retry_another_broker_when_not_store_ok` and round robin; returns the
/// results.
async fn send_retrying_not_ok(
    ns: &str,
    send_timeout: Duration,
    n: usize,
) -> Vec<rmq_client::Result<SendResult>> {
    let p = Producer::start(ProducerConfig {
        client: ClientConfig::new(ns),
        group: "pg_not_ok".into(),
        send_latency_fault_enable: false,
        retry_another_broker_when_not_store_ok: true,
        send_timeout,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut results = Vec::new();
    for i in 0..n {
        results.push(p.send(Message::new("T", format!("m{i}"))).await);
    }
    p.shutdown().await;
    results
}

#[tokio::test]
async fn a_stored_but_not_ok_result_survives_a_failed_retry() {
    // broker-a stores with FLUSH_SLAVE_TIMEOUT, broker-b then refuses with a non-retryable code.
    let cancel = CancellationToken::new();
    let (ns, stored, busy) = cluster(Behaviour::FlushSlaveTimeout, Behaviour::SystemBusy, &cancel).await;
    let results = send_retrying_not_ok(&ns, Duration::from_secs(3), 8).await;
    let ok: Vec<&SendResult> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    // Every send that reached broker-a was stored there; its result is what the caller gets.
    assert_eq!(ok.len(), stored.sends.load(Ordering::SeqCst));
    assert!(!ok.is_empty(), "round robin reached broker-a: {results:?}");
    for r in &ok {
        assert_eq!(r.status, SendStatus::FlushSlaveTimeout);
        assert_eq!(r.queue.broker_name, "broker-a");
    }
    // Sends that started on broker-b fail there at once (SYSTEM_BUSY is not retried).
    assert_eq!(busy.sends.load(Ordering::SeqCst), 8);
    cancel.cancel();

    // The retry times out instead: the stored result is still returned.
    let cancel = CancellationToken::new();
    let (ns, stored, _slow) = cluster(
        Behaviour::FlushSlaveTimeout,
        Behaviour::Slow(Duration::from_secs(5)),
        &cancel,
    )
    .await;
    let results = send_retrying_not_ok(&ns, Duration::from_millis(800), 6).await;
    let ok: Vec<&SendResult> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ok.len(), stored.sends.load(Ordering::SeqCst));
    assert!(!ok.is_empty(), "round robin reached broker-a: {results:?}");
    assert!(ok.iter().all(|r| r.status == SendStatus::FlushSlaveTimeout));
    cancel.cancel();
}
