//! Flushing: the async flush interval and sync-flush group commit.

use std::time::Duration;

use rmq_broker::store::{FlushDiskType, StoreConfig};

use super::open;
use super::store_util::{body, msg, tiny};

#[test]
fn async_flush_syncs_every_flush_interval() {
    use std::sync::atomic::Ordering;
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let periodic = open(StoreConfig {
        flush_interval: Duration::from_millis(200),
        ..tiny(dirs.0.path())
    });
    let hourly = open(tiny(dirs.1.path()));
    for store in [&periodic, &hourly] {
        for i in 0..5 {
            store.append(&msg("T", 0, &body(i, 100), None)).unwrap();
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while periodic.flushed_offset() < periodic.max_physical_offset() {
        assert!(
            std::time::Instant::now() < deadline,
            "no background flush within 5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(periodic.stats().commit_log_syncs.load(Ordering::Relaxed) >= 1);
    // With an hour between flushes nothing is synced yet: the flush above was the timer's.
    std::thread::sleep(Duration::from_millis(300));
    assert!(hourly.flushed_offset() < hourly.max_physical_offset());
    assert_eq!(hourly.stats().commit_log_syncs.load(Ordering::Relaxed), 0);
}

#[test]
fn sync_flush_group_commit_acknowledges_every_writer() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        flush_disk_type: FlushDiskType::Sync,
        commit_log_file_size: 1 << 20,
        ..tiny(dir.path())
    };
    let store = open(cfg);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..50u64 {
                    let r = store.append(&msg("S", t, &body(i, 100), None)).unwrap();
                    store
                        .wait_flushed(r.next_offset(), Duration::from_secs(5))
                        .unwrap();
                    assert!(store.flushed_offset() >= r.next_offset());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let r = store.append(&msg("S", 0, b"callback", None)).unwrap();
    store.on_flushed(
        r.next_offset(),
        Duration::from_secs(5),
        Box::new(move |res| tx.send(res.is_ok()).unwrap()),
    );
    assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap());
    assert_eq!(store.flushed_offset(), store.max_physical_offset());
}
