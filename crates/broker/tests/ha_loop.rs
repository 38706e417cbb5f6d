//! The HA service and client against an in-memory log and hand-made peers: streaming, catching
//! up after appends, heartbeats, the SYNC_MASTER wait, reconnecting and resuming, and stopping on
//! data that does not line up.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use rmq_broker::ha::protocol::{encode_header, encode_report};
use rmq_broker::ha::{HaClient, HaConfig, HaService, LogError, ReplicaLog, ReplicaStatus, SlaveState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A commit log that is one growing byte vector starting at offset 0.
#[derive(Default)]
struct MemLog {
    bytes: Mutex<Vec<u8>>,
}

impl MemLog {
    fn with(data: &[u8]) -> Arc<MemLog> {
        Arc::new(MemLog {
            bytes: Mutex::new(data.to_vec()),
        })
    }
    fn push(&self, data: &[u8]) -> u64 {
        let mut b = self.bytes.lock().unwrap();
        b.extend_from_slice(data);
        b.len() as u64
    }
    fn snapshot(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }
}

impl ReplicaLog for MemLog {
    fn end_offset(&self) -> u64 {
        self.bytes.lock().unwrap().len() as u64
    }
    fn start_offset(&self) -> u64 {
        0
    }
    fn read(&self, from: u64, max_len: usize) -> Result<Bytes, LogError> {
        let b = self.bytes.lock().unwrap();
        let from = (from as usize).min(b.len());
        let to = (from + max_len).min(b.len());
        Ok(Bytes::copy_from_slice(&b[from..to]))
    }
    fn append_at(&self, offset: u64, data: &[u8]) -> Result<(), LogError> {
        let mut b = self.bytes.lock().unwrap();
        if offset != b.len() as u64 {
            return Err(LogError::Mismatch {
                offset,
                expected: b.len() as u64,
            });
        }
        b.extend_from_slice(data);
        Ok(())
    }
}

fn fast_config() -> HaConfig {
    HaConfig {
        transfer_batch_size: 1000,
        heartbeat_interval: Duration::from_millis(200),
        housekeeping_interval: Duration::from_secs(2),
        slave_timeout: Duration::from_millis(500),
        poll_interval: Duration::from_millis(20),
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(400),
        ..HaConfig::default()
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

struct Master {
    log: Arc<MemLog>,
    service: HaService,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Master {
    async fn start(log: Arc<MemLog>) -> Master {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let service =
            HaService::start(listener, log.clone(), fast_config(), cancel.clone(), &tracker).unwrap();
        Master {
            log,
            service,
            cancel,
            tracker,
        }
    }
    fn addr(&self) -> String {
        self.service.local_addr().to_string()
    }
    async fn stop(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

fn start_slave(log: Arc<MemLog>, master: Option<String>) -> (HaClient, CancellationToken, TaskTracker) {
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let client = HaClient::start(log, fast_config(), master, cancel.clone(), &tracker);
    (client, cancel, tracker)
}

#[tokio::test]
async fn a_slave_copies_the_log_and_follows_appends() {
    let master = Master::start(MemLog::with(&pattern(10_500, 1))).await;
    let slave_log = Arc::new(MemLog::default());
    let (client, cancel, _t) = start_slave(slave_log.clone(), Some(master.addr()));
    wait_until("initial copy", || slave_log.end_offset() == 10_500).await;
    for round in 0..20u8 {
        master.log.push(&pattern(777, round));
        master.service.notify_appended();
    }
    let end = master.log.end_offset();
    wait_until("follow appends", || slave_log.end_offset() == end).await;
    assert_eq!(slave_log.snapshot(), master.log.snapshot());
    wait_until("ack reaches the master", || {
        master.service.status().acked_max == end
    })
    .await;
    let status = master.service.status();
    assert_eq!(status.slaves.len(), 1);
    assert_eq!(status.slaves[0].acked_offset, Some(end));
    assert_eq!(status.slaves[0].lag, 0);
    let info = master.service.runtime_info();
    assert!(
        info.contains(&("haSlave0AckOffset".to_string(), end.to_string())),
        "{info:?}"
    );
    assert!(matches!(client.state(), SlaveState::Connected(_)));
    assert!(client
        .runtime_info()
        .contains(&("haSlaveLagBytes".to_string(), "0".to_string())));
    cancel.cancel();
    wait_until("client shut down", || client.state() == SlaveState::ShutDown).await;
    wait_until("slave leaves the table", || {
        master.service.status().slaves.is_empty()
    })
    .await;
    master.stop().await;
}

#[tokio::test]
async fn sync_wait_needs_a_slave_ack() {
    let master = Master::start(MemLog::with(&pattern(100, 0))).await;
    let end = master.log.push(b"record");
    assert_eq!(
        master.service.wait_replicated(end).await,
        ReplicaStatus::SlaveNotAvailable
    );

    let slave_log = Arc::new(MemLog::default());
    let (_client, cancel, _t) = start_slave(slave_log.clone(), Some(master.addr()));
    wait_until("slave connected", || master.service.status().slaves.len() == 1).await;
    let end = master.log.push(b"another record");
    assert_eq!(
        master.service.wait_replicated(end).await,
        ReplicaStatus::Replicated
    );
    assert!(slave_log.end_offset() >= end);

    // A slave that stops reading acknowledges nothing more: the send times out.
    cancel.cancel();
    wait_until("slave gone", || master.service.status().slaves.is_empty()).await;
    let mut fake = TcpStream::connect(master.addr()).await.unwrap();
    fake.write_all(&encode_report(end)).await.unwrap();
    wait_until("fake slave acked", || {
        master
            .service
            .status()
            .slaves
            .iter()
            .any(|s| s.acked_offset == Some(end))
    })
    .await;
    let end = master.log.push(b"unacked");
    assert_eq!(master.service.wait_replicated(end).await, ReplicaStatus::Timeout);
    master.stop().await;
}

#[tokio::test]
async fn the_master_sends_heartbeats_and_nothing_before_the_first_report() {
    let master = Master::start(MemLog::with(&pattern(50, 3))).await;
    let mut fake = TcpStream::connect(master.addr()).await.unwrap();
    let mut buf = [0u8; 12];
    let early = tokio::time::timeout(Duration::from_millis(300), fake.read(&mut buf)).await;
    assert!(early.is_err(), "master must wait for the slave's report");
    fake.write_all(&encode_report(20)).await.unwrap();
    let mut got = vec![0u8; 12 + 30];
    fake.read_exact(&mut got).await.unwrap();
    let mut head = &got[..12];
    assert_eq!((head.get_i64(), head.get_i32()), (20, 30));
    assert_eq!(&got[12..], &pattern(50, 3)[20..]);
    // Idle: a header-only frame at the next transfer offset.
    let mut hb = [0u8; 12];
    fake.read_exact(&mut hb).await.unwrap();
    let mut head = &hb[..];
    assert_eq!((head.get_i64(), head.get_i32()), (50, 0));
    master.stop().await;
}

#[tokio::test]
async fn a_report_beyond_the_master_gets_one_heartbeat_then_close() {
    let master = Master::start(MemLog::with(&pattern(64, 0))).await;
    let mut fake = TcpStream::connect(master.addr()).await.unwrap();
    fake.write_all(&encode_report(1000)).await.unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), fake.read_to_end(&mut all))
        .await
        .unwrap()
        .unwrap();
    let mut head = &all[..];
    assert_eq!(all.len(), 12);
    assert_eq!((head.get_i64(), head.get_i32()), (64, 0));
    master.stop().await;
}

#[tokio::test]
async fn a_slave_ahead_of_its_master_stops_without_touching_its_log() {
    let master = Master::start(MemLog::with(&pattern(100, 0))).await;
    let mut diverged = pattern(100, 0);
    diverged.extend(pattern(50, 9));
    let slave_log = MemLog::with(&diverged);
    let (client, _cancel, _t) = start_slave(slave_log.clone(), Some(master.addr()));
    wait_until("stopped", || matches!(client.state(), SlaveState::Stopped(_))).await;
    let SlaveState::Stopped(reason) = client.state() else {
        unreachable!()
    };
    assert!(reason.contains("mismatch"), "{reason}");
    assert_eq!(slave_log.snapshot(), diverged);
    assert!(client
        .runtime_info()
        .iter()
        .any(|(k, v)| k == "haSlaveState" && v.starts_with("STOPPED")));
    master.stop().await;
}

/// A hand-made master that sends one frame at a chosen offset.
async fn rogue_master(frame_offset: u64) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut report = [0u8; 8];
        s.read_exact(&mut report).await.unwrap();
        let mut out = BytesMut::new();
        encode_header(frame_offset, 4, &mut out);
        out.extend_from_slice(b"data");
        s.write_all(&out).await.unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    });
    (addr, task)
}

#[tokio::test]
async fn a_gap_stops_replication() {
    let (addr, _task) = rogue_master(120).await;
    let slave_log = MemLog::with(&pattern(100, 0));
    let (client, _cancel, _t) = start_slave(slave_log.clone(), Some(addr));
    wait_until("stopped", || matches!(client.state(), SlaveState::Stopped(_))).await;
    let SlaveState::Stopped(reason) = client.state() else {
        unreachable!()
    };
    assert!(reason.contains("gap"), "{reason}");
    assert_eq!(slave_log.end_offset(), 100);
}

#[tokio::test]
async fn the_slave_reconnects_and_resumes_from_its_own_offset() {
    let log = MemLog::with(&pattern(5000, 2));
    let master = Master::start(log.clone()).await;
    let slave_log = Arc::new(MemLog::default());
    let (client, cancel, _t) = start_slave(slave_log.clone(), Some(master.addr()));
    wait_until("first copy", || slave_log.end_offset() == 5000).await;

    // The master goes away; data keeps arriving in its log; it comes back elsewhere.
    master.stop().await;
    wait_until("slave notices", || {
        matches!(client.state(), SlaveState::Connecting(_))
    })
    .await;
    log.push(&pattern(3000, 7));
    let master = Master::start(log.clone()).await;
    client.set_master(Some(master.addr()));
    wait_until("caught up", || slave_log.end_offset() == 8000).await;
    assert_eq!(
        slave_log.snapshot(),
        log.snapshot(),
        "nothing duplicated or missing"
    );

    // A new client over the same slave log (a restarted slave) resumes too.
    cancel.cancel();
    wait_until("first client gone", || client.state() == SlaveState::ShutDown).await;
    let (client2, _c2, _t2) = start_slave(slave_log.clone(), None);
    assert_eq!(client2.state(), SlaveState::NoMaster);
    log.push(&pattern(100, 8));
    client2.set_master(Some(master.addr()));
    wait_until("restart caught up", || slave_log.end_offset() == 8100).await;
    assert_eq!(slave_log.snapshot(), log.snapshot());
    master.stop().await;
}

#[tokio::test]
async fn the_slave_reports_on_connect_and_every_heartbeat_interval() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let slave_log = MemLog::with(&pattern(42, 0));
    let (_client, _cancel, _t) = start_slave(slave_log, Some(addr));
    let (mut s, _) = listener.accept().await.unwrap();
    let mut report = [0u8; 8];
    let started = tokio::time::Instant::now();
    let mut reports = Vec::new();
    // Keep the connection alive with heartbeats so the slave does not give up on us.
    let mut hb = BytesMut::new();
    encode_header(42, 0, &mut hb);
    while started.elapsed() < Duration::from_millis(900) {
        tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut report))
            .await
            .unwrap()
            .unwrap();
        reports.push(i64::from_be_bytes(report));
        s.write_all(&hb).await.unwrap();
    }
    assert_eq!(
        reports[0], 42,
        "the first report comes at once with the slave's max offset"
    );
    assert!(reports.len() >= 4, "a report every 200 ms: {reports:?}");
    assert!(reports.iter().all(|&r| r == 42));
}
