//! Appends across file boundaries and the filler that ends a file, and reads of the commit
//! log and consume queue at every offset and boundary.

use rmq_broker::store::GetStatus;
use rmq_remoting::message::record::BLANK_MAGIC;
use rmq_remoting::message::MessageRecord;

use super::open;
use super::store_util::{body, msg, read_queue, tiny};

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
            // The pull body is the records back to back, across commit-log files.
            assert_eq!(r.body, r.messages.concat(), "start {start} count {count}");
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
