//! Opening and reopening a store: the directory lock, a clean reopen, bad input, topic deletion.

use rmq_broker::store::{MessageStore, RecoveryMode, StoreError};

use super::open;
use super::store_util::{body, msg, read_queue, tiny};

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(tiny(dir.path()));
    assert!(matches!(
        MessageStore::open(tiny(dir.path())),
        Err(StoreError::Locked(_))
    ));
    drop(store);
    open(tiny(dir.path()));
}

#[test]
fn clean_reopen_keeps_everything_and_continues_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(tiny(dir.path()));
    for i in 0..25u64 {
        store
            .append(&msg("T", (i % 3) as i32, &body(i, 180), None))
            .unwrap();
    }
    let batch: Vec<_> = (0..4u64)
        .map(|i| msg("B", 0, &body(100 + i, 60), Some("x")))
        .collect();
    let b = store.append_batch(&batch).unwrap();
    assert_eq!(
        (
            b.summary.queue_offset,
            b.summary.message_count,
            b.physical_offsets.len()
        ),
        (0, 4, 4)
    );
    assert!(b.physical_offsets.windows(2).all(|w| w[1] > w[0]));
    let before: Vec<_> = (0..3).map(|q| read_queue(&store, "T", q)).collect();
    let end = store.max_physical_offset();
    store.shutdown().unwrap();
    assert!(matches!(
        store.append(&msg("T", 0, b"x", None)),
        Err(StoreError::ShutDown)
    ));
    drop(store);
    assert!(!dir.path().join("abort").exists());
    let store = open(tiny(dir.path()));
    let rep = store.recovery_report();
    assert_eq!(
        (rep.mode, rep.end, rep.records_replayed),
        (RecoveryMode::Clean, end, 0)
    );
    for q in 0..3 {
        assert_eq!(read_queue(&store, "T", q), before[q as usize]);
    }
    assert_eq!(read_queue(&store, "B", 0).len(), 4);
    assert_eq!(store.append(&msg("T", 0, b"next", None)).unwrap().queue_offset, 9);
}

#[test]
fn rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(tiny(dir.path()));
    assert!(matches!(
        store.append(&msg("T", 0, &[0u8; 2049], None)),
        Err(StoreError::MessageTooLarge { .. })
    ));
    assert!(matches!(store.append_batch(&[]), Err(StoreError::BadBatch(_))));
    let mixed = [msg("T", 0, b"a", None), msg("T", 1, b"b", None)];
    assert!(matches!(store.append_batch(&mixed), Err(StoreError::BadBatch(_))));
    assert!(store.append(&msg("../x", 0, b"a", None)).is_err());
    let long_topic = "t".repeat(200);
    assert!(matches!(
        store.append(&msg(&long_topic, 0, b"a", None)),
        Err(StoreError::BadMessage(_))
    ));
    assert_eq!(store.max_physical_offset(), 0, "nothing was written");
}

#[test]
fn deletes_a_topic() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(tiny(dir.path()));
    store.append(&msg("Gone", 0, b"a", None)).unwrap();
    store.append(&msg("Kept", 0, b"b", None)).unwrap();
    assert!(store.delete_topic("Gone").unwrap());
    assert!(!store.delete_topic("Gone").unwrap());
    assert_eq!(store.max_offset("Gone", 0), 0);
    assert!(!dir.path().join("consumequeue/Gone").exists());
    assert_eq!(store.queues(), vec![("Kept".to_string(), 0)]);
}
