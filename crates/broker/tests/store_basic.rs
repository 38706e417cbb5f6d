//! Message store behaviour on tiny files: appends across file boundaries and the filler, reads
//! at every boundary, tag filtering, search by timestamp, retention, disk full, the lock,
//! clean reopen, sync flush, and byte-identical replication.

mod store_util;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rmq_broker::store::{FlushDiskType, GetStatus, MessageStore, RecoveryMode, StoreConfig, StoreError};
use rmq_remoting::message::record::BLANK_MAGIC;
use rmq_remoting::message::tags::java_hash;
use rmq_remoting::message::MessageRecord;
use store_util::{body, msg, read_queue, tiny};

fn open(cfg: StoreConfig) -> Arc<MessageStore> {
    MessageStore::open(cfg).unwrap()
}

#[test]
fn appends_cross_files_with_a_filler_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(tiny(dir.path()));
    let mut results = Vec::new();
    for i in 0..40u64 {
        let m = msg("T", 0, &body(i, 150 + (i as usize * 37) % 200), Some("TagA"));
        let r = store.append(&m).unwrap();
        assert_eq!(r.queue_offset, i);
        assert_eq!(r.wrote_bytes as usize, m.encoded_len());
        results.push((m, r));
    }
    let mut fillers = 0;
    for pair in results.windows(2) {
        let (prev, next) = (&pair[0].1, &pair[1].1);
        assert_eq!(
            prev.physical_offset / 4096,
            (prev.next_offset() - 1) / 4096,
            "a record never spans two files"
        );
        if next.physical_offset != prev.next_offset() {
            // The gap is a filler running to the end of the file, and the next record starts
            // the next file.
            assert_eq!(next.physical_offset % 4096, 0);
            let filler = store.read_commit_log(prev.next_offset(), 8).unwrap();
            let remaining = next.physical_offset - prev.next_offset();
            assert_eq!(
                i32::from_be_bytes(filler[0..4].try_into().unwrap()) as u64,
                remaining
            );
            assert_eq!(i32::from_be_bytes(filler[4..8].try_into().unwrap()), BLANK_MAGIC);
            assert!(remaining >= 8);
            fillers += 1;
        }
    }
    assert!(fillers >= 2, "40 records of ~300 bytes fill several 4 KiB files");
    for (m, r) in &results {
        let raw = store.read_record(r.physical_offset).unwrap();
        let (rec, size) = MessageRecord::decode(&raw, true).unwrap();
        assert_eq!(size as u64, r.wrote_bytes);
        assert_eq!(rec.physical_offset as u64, r.physical_offset);
        assert_eq!(rec.queue_offset as u64, r.queue_offset);
        assert_eq!(rec.store_timestamp, r.store_timestamp);
        assert_eq!(
            (&rec.body, &rec.topic, &rec.properties),
            (&m.body, &m.topic, &m.properties)
        );
    }
    assert!(
        store.read_record(results[0].1.physical_offset + 1).is_none(),
        "not a record start"
    );
    assert!(store.read_record(store.max_physical_offset()).is_none());
    assert_eq!(
        store
            .stats()
            .messages_put
            .load(std::sync::atomic::Ordering::Relaxed),
        40
    );
}

#[test]
fn reads_at_every_offset_and_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(tiny(dir.path()));
    let mut offsets = Vec::new();
    for i in 0..30u64 {
        offsets.push(
            store
                .append(&msg("T", 1, &body(i, 200), None))
                .unwrap()
                .physical_offset,
        );
    }
    // 30 entries over consume-queue files of 8 entries, commit-log files of 4 KiB.
    for start in 0..30u64 {
        for count in [1usize, 3, 8, 9, 32] {
            let r = store.get_messages("T", 1, start, count, &|_| true);
            assert_eq!(r.status, GetStatus::Found);
            let n = count.min(30 - start as usize);
            assert_eq!(r.messages.len(), n, "start {start} count {count}");
            assert_eq!(r.next_begin_offset, start + n as u64);
            assert_eq!((r.min_offset, r.max_offset), (0, 30));
            for (k, m) in r.messages.iter().enumerate() {
                let (rec, _) = MessageRecord::decode(m, true).unwrap();
                assert_eq!(rec.queue_offset as u64, start + k as u64);
                assert_eq!(rec.physical_offset as u64, offsets[start as usize + k]);
            }
            assert_eq!(
                r.bytes_total,
                r.messages.iter().map(|m| m.len() as u64).sum::<u64>()
            );
        }
    }
    let r = store.get_messages("T", 1, 30, 32, &|_| true);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetStatus::OffsetOverflowOne, 30)
    );
    let r = store.get_messages("T", 1, 31, 32, &|_| true);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetStatus::OffsetOverflowBadly, 30)
    );
    let r = store.get_messages("T", 2, 0, 32, &|_| true);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetStatus::NoMatchedLogicQueue, 0)
    );
    let r = store.get_messages("T", 1, 0, 100, &|_| true);
    assert_eq!(r.messages.len(), 30);
    assert_eq!(read_queue(&store, "T", 1).len(), 30);
    assert_eq!(store.queues(), vec![("T".to_string(), 1)]);
}

#[test]
fn pulls_stop_at_thirty_two_messages() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        commit_log_file_size: 1 << 20,
        consume_queue_entries_per_file: 1000,
        ..tiny(dir.path())
    };
    let store = open(cfg);
    for i in 0..100u64 {
        store.append(&msg("T", 0, &body(i, 10), None)).unwrap();
    }
    let r = store.get_messages("T", 0, 0, 64, &|_| true);
    assert_eq!((r.messages.len(), r.next_begin_offset), (32, 32));
}

#[test]
fn pulls_stop_at_the_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        commit_log_file_size: 4 << 20,
        consume_queue_entries_per_file: 1000,
        max_message_size: 512 * 1024,
        ..tiny(dir.path())
    };
    let store = open(cfg);
    let mut size = 0;
    for i in 0..20u64 {
        size = store
            .append(&msg("T", 0, &body(i, 60_000), None))
            .unwrap()
            .wrote_bytes;
    }
    // About 60 KB each: four fit in the 256 KiB budget, a fifth would not.
    let fit = (rmq_broker::store::BATCH_MAX_BYTES / size) as usize;
    assert_eq!(fit, 4);
    let r = store.get_messages("T", 0, 0, 32, &|_| true);
    assert_eq!((r.messages.len(), r.next_begin_offset), (fit, fit as u64));
    assert!(r.bytes_total <= rmq_broker::store::BATCH_MAX_BYTES);
    // A single record larger than the budget still comes back alone, so a pull never stalls.
    let big = store.append(&msg("T", 1, &body(99, 300_000), None)).unwrap();
    assert!(big.wrote_bytes > rmq_broker::store::BATCH_MAX_BYTES);
    let one = store.get_messages("T", 1, 0, 32, &|_| true);
    assert_eq!(one.messages.len(), 1);
}

#[test]
fn filters_by_tag_code() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(tiny(dir.path()));
    for i in 0..20u64 {
        let tag = if i % 3 == 0 { "TagA" } else { "TagB" };
        store.append(&msg("T", 0, &body(i, 50), Some(tag))).unwrap();
    }
    store.append(&msg("T", 0, b"untagged", None)).unwrap();
    let a = java_hash("TagA") as i64;
    let r = store.get_messages("T", 0, 0, 32, &|code| code == a);
    assert_eq!(r.status, GetStatus::Found);
    assert_eq!(r.messages.len(), 7);
    for m in &r.messages {
        assert_eq!(MessageRecord::decode(m, true).unwrap().0.tags(), Some("TagA"));
    }
    assert_eq!(r.next_begin_offset, 21, "the whole queue was scanned");
    let r = store.get_messages("T", 0, 1, 1, &|code| code == a);
    assert_eq!(
        (r.messages.len(), r.next_begin_offset),
        (1, 4),
        "stops right after the first match"
    );
    let r = store.get_messages("T", 0, 0, 32, &|code| code == java_hash("TagC") as i64);
    assert_eq!((r.status, r.next_begin_offset), (GetStatus::NoMatchedMessage, 21));
    let r = store.get_messages("T", 0, 20, 32, &|code| code == 0);
    assert_eq!(r.messages.len(), 1, "no tag has code 0");
}

#[test]
fn searches_by_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(tiny(dir.path()));
    assert_eq!(store.offset_by_timestamp("T", 0, 0), 0, "unknown queue");
    for i in 0..12u64 {
        store.append(&msg("T", 0, &body(i, 40), None)).unwrap();
        if i % 3 == 2 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let ts: Vec<i64> = (0..12)
        .map(|o| store.message_store_time("T", 0, o).unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(store.earliest_store_time("T", 0), Some(ts[0]));
    for (o, t) in ts.iter().enumerate() {
        let first = ts.iter().position(|x| x == t).unwrap() as u64;
        assert_eq!(store.offset_by_timestamp("T", 0, *t), first, "exact match at {o}");
    }
    assert_eq!(
        store.offset_by_timestamp("T", 0, ts[0] - 1000),
        0,
        "before everything: the first"
    );
    assert_eq!(
        store.offset_by_timestamp("T", 0, ts[11] + 1000),
        11,
        "after everything: the last"
    );
    // Between two groups: the closer neighbour.
    let (left, right) = (ts[2], ts[3]);
    if right - left >= 3 {
        assert_eq!(store.offset_by_timestamp("T", 0, left + 1), 2);
        assert_eq!(store.offset_by_timestamp("T", 0, right - 1), 3);
    }
}

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

#[test]
fn a_slave_fed_raw_chunks_builds_a_byte_identical_log_and_queues() {
    let (mdir, sdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = open(tiny(mdir.path()));
    let slave = open(tiny(sdir.path()));
    for i in 0..50u64 {
        let tag = ["TagA", "TagB"][i as usize % 2];
        master
            .append(&msg(
                ["X", "Y"][i as usize % 2],
                (i % 3) as i32,
                &body(i, 100 + (i as usize * 53) % 300),
                Some(tag),
            ))
            .unwrap();
        if i % 10 == 0 {
            let batch: Vec<_> = (0..3)
                .map(|k| msg("Z", 0, &body(1000 + i + k, 40), None))
                .collect();
            master.append_batch(&batch).unwrap();
        }
    }
    // Odd chunk sizes split records, as HA's 32 KiB transfers do.
    for (round, chunk) in [700usize, 333, 4096, 57].iter().cycle().enumerate() {
        let from = slave.max_physical_offset();
        if from == master.max_physical_offset() {
            break;
        }
        assert!(round < 10_000);
        let bytes = master.read_commit_log(from, *chunk).unwrap();
        assert!(
            from / 4096 == (from + bytes.len() as u64 - 1) / 4096,
            "a read never crosses a file"
        );
        slave.append_raw_at(from, &bytes).unwrap();
    }
    assert!(matches!(
        slave.append_raw_at(7, b"x"),
        Err(StoreError::OffsetMismatch { .. })
    ));
    let end = master.max_physical_offset();
    let mut at = 0;
    while at < end {
        let m = master.read_commit_log(at, 1 << 20).unwrap();
        assert_eq!(
            slave.read_commit_log(at, 1 << 20).unwrap(),
            m,
            "commit log differs at {at}"
        );
        at += m.len() as u64;
    }
    assert_eq!(master.queues(), slave.queues());
    for (topic, q) in master.queues() {
        assert_eq!(
            read_queue(&master, &topic, q),
            read_queue(&slave, &topic, q),
            "{topic}/{q}"
        );
        let a = java_hash("TagA") as i64;
        let (rm, rs) = (
            master.get_messages(&topic, q, 0, 32, &|c| c == a),
            slave.get_messages(&topic, q, 0, 32, &|c| c == a),
        );
        assert_eq!(rm, rs);
    }
    // Garbage from a "master" is cut off again and reported.
    let from = slave.max_physical_offset();
    let mut junk = 200i32.to_be_bytes().to_vec();
    junk.extend_from_slice(&[0xAB; 196]);
    assert!(matches!(
        slave.append_raw_at(from, &junk),
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(slave.max_physical_offset(), from);
    drop(slave);
    let slave = open(tiny(sdir.path()));
    assert_eq!(slave.max_physical_offset(), end);
}

#[test]
fn an_empty_slave_starts_at_the_masters_last_file() {
    let (mdir, sdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = open(tiny(mdir.path()));
    for i in 0..40u64 {
        master.append(&msg("T", 0, &body(i, 250), None)).unwrap();
    }
    let start = master.max_physical_offset() / 4096 * 4096;
    let slave = open(tiny(sdir.path()));
    let bytes = master.read_commit_log(start, 1 << 20).unwrap();
    slave.append_raw_at(start, &bytes).unwrap();
    assert_eq!(slave.max_physical_offset(), master.max_physical_offset());
    let (min, max) = (slave.min_offset("T", 0), slave.max_offset("T", 0));
    assert_eq!(max, 40);
    assert_eq!(
        read_queue(&slave, "T", 0),
        read_queue(&master, "T", 0)[min as usize..].to_vec()
    );
}
