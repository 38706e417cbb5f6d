//! Disk space: retention of expired files (and the min offsets it moves), and appends refused
//! on a full disk.

use std::time::{Duration, SystemTime};

use rmq_broker::store::{GetStatus, RecoveryMode, StoreConfig, StoreError};

use super::open;
use super::store_util::{body, msg, tiny};

#[test]
fn retention_deletes_expired_files_and_moves_min_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(tiny(dir.path()));
    let mut results = Vec::new();
    for i in 0..60u64 {
        results.push(store.append(&msg("T", 0, &body(i, 200), None)).unwrap());
    }
    store.flush().unwrap();
    let files_before = std::fs::read_dir(dir.path().join("commitlog")).unwrap().count();
    assert!(files_before >= 4);
    let nothing = store.clean_expired(SystemTime::now());
    assert_eq!(
        (nothing.commit_log_files, nothing.consume_queue_files),
        (0, 0),
        "files are young"
    );

    let report = store.clean_expired(SystemTime::now() + Duration::from_secs(73 * 3600));
    let last_file_start = store.max_physical_offset() / 4096 * 4096;
    assert!(report.commit_log_files >= 3);
    assert!(report.consume_queue_files >= 1);
    assert_eq!(
        store.commit_log_min_offset(),
        last_file_start,
        "all but the file being written"
    );
    let min = store.min_offset("T", 0);
    let first_kept = results
        .iter()
        .position(|r| r.physical_offset >= last_file_start)
        .unwrap() as u64;
    assert_eq!(min, first_kept);
    assert!(store.read_record(results[0].physical_offset).is_none());
    let r = store.get_messages("T", 0, 0, 32, &|_| true);
    assert_eq!((r.status, r.next_begin_offset), (GetStatus::OffsetTooSmall, min));
    let r = store.get_messages("T", 0, min, 32, &|_| true);
    assert_eq!(r.status, GetStatus::Found);
    assert_eq!(r.messages.len() as u64, 60 - min);
    // Appends go on, and a reopen agrees.
    let next = store.append(&msg("T", 0, b"after", None)).unwrap();
    assert_eq!(next.queue_offset, 60);
    drop(store);
    let store = open(tiny(dir.path()));
    assert_eq!(store.recovery_report().mode, RecoveryMode::Clean);
    assert_eq!((store.min_offset("T", 0), store.max_offset("T", 0)), (min, 61));
}

#[test]
fn refuses_appends_when_the_disk_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(StoreConfig {
        disk_full_ratio: 1e-9,
        ..tiny(dir.path())
    });
    assert!(!store.is_writable());
    assert!(matches!(
        store.append(&msg("T", 0, b"x", None)),
        Err(StoreError::DiskFull { .. })
    ));
    assert!(store.disk_used_ratio() > 0.0);
    // Under pressure, retention deletes the oldest file even though nothing expired.
    drop(store);
    let store = open(StoreConfig {
        disk_max_used_ratio: 1e-9,
        ..tiny(dir.path())
    });
    for i in 0..40u64 {
        store.append(&msg("T", 0, &body(i, 200), None)).unwrap();
    }
    store.flush().unwrap();
    let min_before = store.commit_log_min_offset();
    assert_eq!(store.clean_expired(SystemTime::now()).commit_log_files, 1);
    assert_eq!(store.commit_log_min_offset(), min_before + 4096);
}
