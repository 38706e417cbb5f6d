//! Replication between two real message stores: the slave's commit log is byte-identical to
//! the master's (across file rolls), its consume queues serve every message, and a slave whose
//! store is closed and reopened mid-stream resumes from its own offset with nothing duplicated
//! or missing.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rmq_broker::ha::{HaClient, HaConfig, HaService, SlaveState};
use rmq_broker::store::{MessageStore, StoreConfig};
use rmq_remoting::message::record::MessageRecord;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const FILE_SIZE: u64 = 64 * 1024;
const TOPICS: [&str; 2] = ["HaTopicA", "HaTopicB"];
const QUEUES: i32 = 4;

fn open(root: &Path) -> Arc<MessageStore> {
    MessageStore::open(StoreConfig {
        root: root.to_path_buf(),
        commit_log_file_size: FILE_SIZE,
        consume_queue_entries_per_file: 1000,
        max_message_size: 8 * 1024,
        preallocate: false,
        ..StoreConfig::default()
    })
    .expect("open store")
}

fn record(i: usize) -> MessageRecord {
    let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
    MessageRecord {
        topic: TOPICS[i % 2].to_string(),
        queue_id: (i / 2) as i32 % QUEUES,
        body: Bytes::from(format!("message-{i:06}-{}", "x".repeat(i % 97))),
        properties: format!("TAGS\u{1}Tag{}\u{2}KEYS\u{1}k{i}\u{2}", i % 3),
        born_host: host,
        store_host: host,
        born_timestamp: 1_700_000_000_000 + i as i64,
        ..Default::default()
    }
}

fn ha_config() -> HaConfig {
    HaConfig {
        heartbeat_interval: Duration::from_millis(300),
        housekeeping_interval: Duration::from_secs(3),
        poll_interval: Duration::from_millis(10),
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(300),
        ..HaConfig::default()
    }
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every commit-log file of `root`, concatenated, cut at `end`.
fn commit_log_bytes(root: &Path, end: u64) -> Vec<u8> {
    let mut names: Vec<_> = std::fs::read_dir(root.join("commitlog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .collect();
    names.sort();
    let mut all = Vec::new();
    for n in names {
        all.extend(std::fs::read(n).unwrap());
    }
    all.truncate(end as usize);
    all
}

/// Every message of every queue, in queue order.
fn all_messages(store: &MessageStore) -> Vec<Bytes> {
    let mut out = Vec::new();
    for topic in TOPICS {
        for q in 0..QUEUES {
            let mut offset = 0;
            loop {
                let r = store.get_messages(topic, q, offset, 32, &|_| true);
                if r.messages.is_empty() {
                    break;
                }
                offset = r.next_begin_offset;
                out.extend(r.messages);
            }
        }
    }
    out
}

struct Master {
    store: Arc<MessageStore>,
    service: HaService,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

async fn start_master(root: &Path) -> Master {
    let store = open(root);
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service = HaService::start(listener, store.clone(), ha_config(), cancel.clone(), &tracker).unwrap();
    Master {
        store,
        service,
        cancel,
        tracker,
    }
}

async fn append_range(master: &Master, from: usize, to: usize) {
    let store = master.store.clone();
    tokio::task::spawn_blocking(move || {
        for i in from..to {
            store.append(&record(i)).expect("append");
        }
    })
    .await
    .unwrap();
    master.service.notify_appended();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slave_log_is_byte_identical_and_serves_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(&dir.path().join("master")).await;
    append_range(&master, 0, 4000).await;

    let slave_store = open(&dir.path().join("slave"));
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let addr = master.service.local_addr().to_string();
    let client = HaClient::start(
        slave_store.clone(),
        ha_config(),
        Some(addr),
        cancel.clone(),
        &tracker,
    );

    // Keep writing while the slave copies.
    append_range(&master, 4000, 10_000).await;
    let end = master.store.max_physical_offset();
    assert!(end > 4 * FILE_SIZE, "the test must span several commit-log files");
    wait_until("slave catches up", || slave_store.max_physical_offset() == end).await;
    wait_until("master sees the ack", || master.service.status().acked_max == end).await;
    assert!(matches!(client.state(), SlaveState::Connected(_)));

    assert_eq!(slave_store.commit_log_min_offset(), 0);
    let (m, s) = (
        commit_log_bytes(&dir.path().join("master"), end),
        commit_log_bytes(&dir.path().join("slave"), end),
    );
    assert_eq!(m.len(), s.len());
    assert!(m == s, "slave commit log differs from the master's");

    let (mm, sm) = (all_messages(&master.store), all_messages(&slave_store));
    assert_eq!(mm.len(), 10_000);
    assert_eq!(sm, mm, "slave consume queues serve the same records");
    for t in TOPICS {
        for q in 0..QUEUES {
            assert_eq!(slave_store.max_offset(t, q), master.store.max_offset(t, q));
        }
    }
    cancel.cancel();
    tracker.close();
    tracker.wait().await;
    master.cancel.cancel();
    master.tracker.close();
    master.tracker.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_slave_resumes_from_its_own_offset() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(&dir.path().join("master")).await;
    let addr = master.service.local_addr().to_string();
    let slave_root = dir.path().join("slave");
    append_range(&master, 0, 3000).await;

    let slave_store = open(&slave_root);
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    HaClient::start(
        slave_store.clone(),
        ha_config(),
        Some(addr.clone()),
        cancel.clone(),
        &tracker,
    );
    let writer = {
        let store = master.store.clone();
        let service = master.service.clone();
        tokio::spawn(async move {
            for chunk in 0..70 {
                let s = store.clone();
                tokio::task::spawn_blocking(move || {
                    for i in 3000 + chunk * 100..3000 + (chunk + 1) * 100 {
                        s.append(&record(i)).unwrap();
                    }
                })
                .await
                .unwrap();
                service.notify_appended();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    // Stop the slave mid-stream, close its store, reopen it and start again.
    wait_until("slave has some data", || {
        slave_store.max_physical_offset() > 2 * FILE_SIZE
    })
    .await;
    cancel.cancel();
    tracker.close();
    tracker.wait().await;
    let stopped_at = slave_store.max_physical_offset();
    slave_store.shutdown().unwrap();
    drop(slave_store);
    let reopened = open(&slave_root);
    // Recovery keeps every complete record; a partial last record (a chunk ends anywhere) is
    // cut and fetched again from the master.
    let recovered = reopened.max_physical_offset();
    assert!(
        recovered <= stopped_at && stopped_at - recovered < 8 * 1024,
        "{recovered} vs {stopped_at}"
    );
    assert!(
        recovered > 2 * FILE_SIZE,
        "a clean shutdown keeps the replicated records"
    );
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    HaClient::start(
        reopened.clone(),
        ha_config(),
        Some(addr),
        cancel.clone(),
        &tracker,
    );
    writer.await.unwrap();
    let end = master.store.max_physical_offset();
    wait_until("restarted slave catches up", || {
        reopened.max_physical_offset() == end
    })
    .await;
    let m = commit_log_bytes(&dir.path().join("master"), end);
    let s = commit_log_bytes(&slave_root, end);
    assert!(m == s, "slave commit log differs after the restart");
    let (mm, sm) = (all_messages(&master.store), all_messages(&reopened));
    assert_eq!(mm.len(), 10_000);
    assert_eq!(sm, mm, "nothing duplicated or missing");
    cancel.cancel();
    tracker.close();
    tracker.wait().await;
    master.cancel.cancel();
}
