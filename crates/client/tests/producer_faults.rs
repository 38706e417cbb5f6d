//! The producer against scripted brokers: a broker answering NO_PERMISSION makes the send move
//! on to the other broker (seed 001); a slow broker is benched by the latency table and avoided
//! (seed 003); a dead nameserver in the list is skipped (seed 000); with
//! `retry_another_broker_when_not_store_ok`, a stored-but-not-OK result is returned when the
//! retry on another broker fails.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmq_client::{ClientConfig, Message, Producer, ProducerConfig, SendResult, SendStatus};
use rmq_remoting::body::{BrokerData, JsonBody, QueueData, TopicRouteData};
use rmq_remoting::headers::send::SendMessageResponseHeader;
use rmq_remoting::net::{serve, Connection, HandlerError, RequestHandler, ServerConfig};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How a scripted broker answers sends.
#[derive(Clone, Copy)]
enum Behaviour {
    Ok,
    NoPermission,
    Slow(Duration),
    /// Stored, but the slave did not acknowledge in time.
    FlushSlaveTimeout,
    /// A code the producer does not retry.
    SystemBusy,
}

struct FakeBroker {
    behaviour: Behaviour,
    sends: AtomicUsize,
}

impl RequestHandler for FakeBroker {
    async fn handle(
        &self,
        _c: &Connection,
        req: RemotingCommand,
    ) -> Result<Option<RemotingCommand>, HandlerError> {
        if req.code != RequestCode::SEND_MESSAGE_V2.code() {
            return Ok(Some(req.reply(ResponseCode::SUCCESS, None)));
        }
        let n = self.sends.fetch_add(1, Ordering::SeqCst);
        let ok = req.reply_with(&SendMessageResponseHeader::new(format!("ID{n}"), 0, n as i64));
        match self.behaviour {
            Behaviour::Ok => Ok(Some(ok)),
            Behaviour::NoPermission => Ok(Some(req.reply(
                ResponseCode::NO_PERMISSION,
                Some("the broker is not writable".into()),
            ))),
            Behaviour::Slow(d) => {
                tokio::time::sleep(d).await;
                Ok(Some(ok))
            }
            Behaviour::FlushSlaveTimeout => {
                let mut stored = ok;
                stored.code = ResponseCode::FLUSH_SLAVE_TIMEOUT.code();
                Ok(Some(stored))
            }
            Behaviour::SystemBusy => Ok(Some(req.reply(
                ResponseCode::SYSTEM_BUSY,
                Some("[REJECTREQUEST]system busy".into()),
            ))),
        }
    }
}

struct FakeNamesrv {
    route: TopicRouteData,
}

impl RequestHandler for FakeNamesrv {
    async fn handle(
        &self,
        _c: &Connection,
        req: RemotingCommand,
    ) -> Result<Option<RemotingCommand>, HandlerError> {
        if req.code == RequestCode::GET_ROUTEINFO_BY_TOPIC.code() {
            return Ok(Some(
                req.reply(ResponseCode::SUCCESS, None)
                    .with_body(self.route.encode()),
            ));
        }
        Ok(Some(req.reply(ResponseCode::SUCCESS, None)))
    }
}

async fn spawn<H: RequestHandler>(handler: Arc<H>, cancel: &CancellationToken) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(serve(listener, handler, ServerConfig::default(), cancel.clone()));
    addr
}

/// A nameserver (behind a dead one) routing topic `T` to two scripted brokers.
async fn cluster(
    first: Behaviour,
    second: Behaviour,
    cancel: &CancellationToken,
) -> (String, Arc<FakeBroker>, Arc<FakeBroker>) {
    let a = Arc::new(FakeBroker {
        behaviour: first,
        sends: AtomicUsize::new(0),
    });
    let b = Arc::new(FakeBroker {
        behaviour: second,
        sends: AtomicUsize::new(0),
    });
    let mut route = TopicRouteData::default();
    for (name, broker) in [("broker-a", &a), ("broker-b", &b)] {
        let addr = spawn(broker.clone(), cancel).await;
        let mut bd = BrokerData::new("C", name);
        bd.broker_addrs.insert(0, addr);
        route.broker_datas.push(bd);
        route.queue_datas.push(QueueData {
            broker_name: name.into(),
            perm: 6,
            read_queue_nums: 4,
            write_queue_nums: 4,
            topic_sys_flag: 0,
        });
    }
    let ns = spawn(Arc::new(FakeNamesrv { route }), cancel).await;
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
