//! The message index through the store: a key shared by several messages and time ranges,
//! unique keys across commit-log and index file rolls, retention of index files, and the
//! index after a crash image and after a clean reopen.

mod store_util;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rmq_broker::store::{MessageStore, StoreConfig};
use rmq_remoting::message::MessageRecord;
use store_util::{body, copy_dir, msg, tiny};

fn open(cfg: StoreConfig) -> Arc<MessageStore> {
    MessageStore::open(cfg).unwrap()
}

/// Waits until the index follower has caught up with every dispatched record.
fn wait_indexed(store: &MessageStore) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.indexed_offset() < store.dispatched_offset() {
        assert!(
            Instant::now() < deadline,
            "index follower stuck at {}",
            store.indexed_offset()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn keyed(topic: &str, i: u64, keys: &str, uniq: &str) -> MessageRecord {
    let mut m = msg(topic, 0, &body(i, 120), None);
    m.properties = format!("KEYS\u{1}{keys}\u{2}UNIQ_KEY\u{1}{uniq}");
    m
}

fn query(
    store: &MessageStore,
    topic: &str,
    key: &str,
    max: usize,
    begin: i64,
    end: i64,
) -> Vec<MessageRecord> {
    store
        .query_messages(topic, key, max, begin, end)
        .records
        .iter()
        .map(|r| MessageRecord::decode(r, true).unwrap().0)
        .collect()
}

fn uniq(i: u64) -> String {
    format!("7F00000100002A9F0000000000{i:06X}")
}

#[test]
fn a_key_shared_by_several_messages_and_time_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(tiny(dir.path()));
    let mut shared = Vec::new();
    for i in 0..12u64 {
        let keys = if i % 3 == 0 { "order-1 extra" } else { "order-2" };
        let r = store.append(&keyed("T", i, keys, &uniq(i))).unwrap();
        if i % 3 == 0 {
            shared.push(r);
        }
    }
    store.append(&keyed("U", 99, "order-1", &uniq(99))).unwrap();
    wait_indexed(&store);

    let found = query(&store, "T", "order-1", 64, 0, i64::MAX);
    let offsets: Vec<i64> = found.iter().map(|r| r.physical_offset).collect();
    let want: Vec<i64> = shared.iter().map(|r| r.physical_offset as i64).collect();
    assert_eq!(offsets, want, "every message with the key, in commit-log order");
    assert!(
        found.iter().all(|r| r.topic == "T"),
        "the other topic's key is another key"
    );
    assert_eq!(
        query(&store, "T", "extra", 64, 0, i64::MAX).len(),
        4,
        "second token"
    );
    assert_eq!(query(&store, "T", "order-2", 64, 0, i64::MAX).len(), 8);
    assert_eq!(query(&store, "U", "order-1", 64, 0, i64::MAX).len(), 1);
    assert_eq!(
        query(&store, "T", "order-1", 2, 0, i64::MAX).len(),
        2,
        "maxNum caps"
    );
    assert!(query(&store, "T", "nope", 64, 0, i64::MAX).is_empty());
    let stored = shared[0].store_timestamp;
    assert!(
        query(&store, "T", "order-1", 64, stored + 60_000, i64::MAX).is_empty(),
        "a range after every store time finds nothing"
    );
    assert!(query(&store, "T", "order-1", 64, 0, stored - 60_000).is_empty());
    let by_uniq = query(&store, "T", &uniq(3), 64, 0, i64::MAX);
    assert_eq!(by_uniq.len(), 1);
    assert_eq!(by_uniq[0].physical_offset as u64, shared[1].physical_offset);
    let result = store.query_messages("T", "order-1", 64, 0, i64::MAX);
    assert!(result.index_last_update_timestamp >= stored);
    assert!(result.index_last_update_phy_offset > shared[3].physical_offset as i64);
}

/// Index files of 8 entries (`maxIndexNum`), so that they roll too.
fn rolling(root: &std::path::Path) -> StoreConfig {
    StoreConfig {
        max_index_num: 8,
        ..tiny(root)
    }
}

#[test]
fn unique_keys_across_commit_log_and_index_file_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(rolling(dir.path()));
    let mut results = Vec::new();
    for i in 0..60u64 {
        results.push(store.append(&keyed("T", i, &format!("k{i}"), &uniq(i))).unwrap());
    }
    wait_indexed(&store);
    assert!(store.commit_log_min_offset() == 0 && store.max_physical_offset() > 3 * 4096);
    // Two keys per message, 7 entries per file.
    assert!(
        store.index_file_count() >= 17,
        "{} files",
        store.index_file_count()
    );
    for (i, r) in results.iter().enumerate() {
        let found = query(&store, "T", &uniq(i as u64), 32, 0, i64::MAX);
        assert_eq!(found.len(), 1, "message {i}");
        assert_eq!(found[0].physical_offset as u64, r.physical_offset);
        assert_eq!(query(&store, "T", &format!("k{i}"), 32, 0, i64::MAX).len(), 1);
    }
}

#[test]
fn retention_deletes_index_files_with_the_commit_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(rolling(dir.path()));
    for i in 0..60u64 {
        store.append(&keyed("T", i, "k", &uniq(i))).unwrap();
    }
    wait_indexed(&store);
    store.flush().unwrap();
    let before = store.index_file_count();
    let report = store.clean_expired(SystemTime::now() + Duration::from_secs(73 * 3600));
    assert!(report.commit_log_files >= 3);
    assert!(
        report.index_files > 0 && report.index_files < before,
        "{report:?}"
    );
    assert_eq!(store.index_file_count(), before - report.index_files);
    let on_disk = std::fs::read_dir(dir.path().join("index")).unwrap().count();
    assert_eq!(on_disk, store.index_file_count(), "deleted files are unlinked");
    let min = store.commit_log_min_offset();
    let left = query(&store, "T", "k", 64, 0, i64::MAX);
    assert!(!left.is_empty());
    assert!(
        left.iter().all(|r| r.physical_offset as u64 >= min),
        "only retained records"
    );
    assert!(query(&store, "T", &uniq(0), 32, 0, i64::MAX).is_empty());
    assert_eq!(query(&store, "T", &uniq(59), 32, 0, i64::MAX).len(), 1);
}

#[test]
fn the_index_is_rebuilt_from_a_crash_image_and_kept_over_a_clean_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let store = open(rolling(&live));
    for i in 0..40u64 {
        store.append(&keyed("T", i, "shared", &uniq(i))).unwrap();
    }
    wait_indexed(&store);
    store.flush().unwrap();
    // A crash image: the abort file is there, the active index file is past the checkpoint's
    // index timestamp and is dropped; the follower rebuilds it from the commit log.
    let image = dir.path().join("image");
    copy_dir(&live, &image);
    drop(store);
    let crashed = open(rolling(&image));
    wait_indexed(&crashed);
    for i in 0..40u64 {
        assert_eq!(
            query(&crashed, "T", &uniq(i), 32, 0, i64::MAX).len(),
            1,
            "message {i}"
        );
    }
    let all = query(&crashed, "T", "shared", 64, 0, i64::MAX);
    assert_eq!(all.len(), 40, "no key lost, none repeated");
    crashed.append(&keyed("T", 40, "shared", &uniq(40))).unwrap();
    wait_indexed(&crashed);
    drop(crashed);

    // Clean reopen: the files are kept as they are and nothing needs indexing.
    let files_before = std::fs::read_dir(image.join("index")).unwrap().count();
    let reopened = open(rolling(&image));
    assert_eq!(reopened.indexed_offset(), reopened.dispatched_offset());
    assert_eq!(reopened.index_file_count(), files_before);
    assert_eq!(query(&reopened, "T", "shared", 64, 0, i64::MAX).len(), 41);
}

#[test]
fn messages_are_not_indexed_with_message_index_enable_false() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(StoreConfig {
        message_index_enable: false,
        ..tiny(dir.path())
    });
    store.append(&keyed("T", 1, "k", &uniq(1))).unwrap();
    assert!(query(&store, "T", "k", 64, 0, i64::MAX).is_empty());
    assert!(!dir.path().join("index").exists());
}
