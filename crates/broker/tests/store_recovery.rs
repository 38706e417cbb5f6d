//! Recovery from crash images: a copy of a live store directory is what a crash leaves when
//! the kernel survives; each test then damages the copy the way a crash or a bad disk would
//! (a torn last record, a flipped byte, a consume queue ahead of or behind the commit log) and
//! checks that the reopened store is consistent and never returns a corrupt record.

mod store_util;

use std::path::Path;

use rmq_broker::store::{AppendResult, GetStatus, MessageStore, RecoveryMode};
use rmq_remoting::message::MessageRecord;
use store_util::{body, copy_dir, cq_file, log_file, msg, read_queue, tiny};

/// Appends `n` messages round-robin over `queues` queues of topic "T" and returns a crash image
/// of the live store in `image`, plus each message's result.
fn crash_image(n: u64, queues: i32, image: &Path) -> Vec<(MessageRecord, AppendResult)> {
    let live = tempfile::tempdir().unwrap();
    let store = MessageStore::open(tiny(live.path())).unwrap();
    let mut out = Vec::new();
    for i in 0..n {
        let m = msg(
            "T",
            (i % queues as u64) as i32,
            &body(i, 120 + (i as usize * 29) % 250),
            Some("TagA"),
        );
        let r = store.append(&m).unwrap();
        out.push((m, r));
    }
    copy_dir(live.path(), image);
    out
}

/// Checks that every queue of "T" holds exactly the records of `expected` (by queue), byte for
/// byte in body, properties and offsets, each passing its CRC.
fn assert_queues_hold(store: &MessageStore, expected: &[(MessageRecord, AppendResult)], queues: i32) {
    for q in 0..queues {
        let want: Vec<_> = expected.iter().filter(|(m, _)| m.queue_id == q).collect();
        let got = read_queue(store, "T", q);
        assert_eq!(got.len(), want.len(), "queue {q}");
        assert_eq!(
            store.max_offset("T", q),
            want.len() as u64,
            "queue {q} max offset"
        );
        for (raw, (m, r)) in got.iter().zip(want) {
            let (rec, _) = MessageRecord::decode(raw, true).expect("a returned record passes its CRC");
            assert_eq!(rec.body, m.body);
            assert_eq!(rec.properties, m.properties);
            assert_eq!(
                (rec.physical_offset as u64, rec.queue_offset as u64),
                (r.physical_offset, r.queue_offset)
            );
        }
    }
}

/// No consume-queue entry may point past the commit log's end.
fn assert_no_entry_past_end(store: &MessageStore, queues: i32) {
    let end = store.max_physical_offset();
    for q in 0..queues {
        let r = store.get_messages("T", q, store.min_offset("T", q), 10_000, &|_| true);
        for m in r.messages {
            let (rec, size) = MessageRecord::decode(&m, true).unwrap();
            assert!(rec.physical_offset as u64 + size as u64 <= end);
        }
    }
}

fn flip(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at as usize] ^= 0x5A;
    std::fs::write(path, bytes).unwrap();
}

fn zero(path: &Path, from: u64, to: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let to = (to as usize).min(bytes.len());
    bytes[from as usize..to].fill(0);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_crash_image_without_damage_recovers_everything() {
    let image = tempfile::tempdir().unwrap();
    let written = crash_image(50, 3, image.path());
    let store = MessageStore::open(tiny(image.path())).unwrap();
    assert_eq!(store.recovery_report().mode, RecoveryMode::Crash);
    assert_eq!(store.recovery_report().cut_reason, None);
    assert_queues_hold(&store, &written, 3);
}

#[test]
fn a_torn_last_record_is_cut() {
    let image = tempfile::tempdir().unwrap();
    let written = crash_image(40, 2, image.path());
    let (_, last) = written.last().unwrap();
    let file = last.physical_offset / 4096 * 4096;
    // The second half of the last record never reached the disk.
    let torn_at = last.physical_offset - file + last.wrote_bytes / 2;
    zero(&log_file(image.path(), file), torn_at, torn_at + last.wrote_bytes);
    let store = MessageStore::open(tiny(image.path())).unwrap();
    let rep = store.recovery_report().clone();
    assert_eq!(rep.end, last.physical_offset);
    assert!(rep.cut_reason.is_some(), "{rep:?}");
    assert_queues_hold(&store, &written[..39], 2);
    assert_no_entry_past_end(&store, 2);
    assert!(store.read_record(last.physical_offset).is_none());
    // Appends continue at the cut, with the lost message's queue offset.
    let lost_queue = written[39].0.queue_id;
    let r = store.append(&msg("T", lost_queue, b"again", None)).unwrap();
    assert_eq!(
        (r.physical_offset, r.queue_offset),
        (last.physical_offset, last.queue_offset)
    );
    drop(store);
    let store = MessageStore::open(tiny(image.path())).unwrap();
    assert_eq!(store.recovery_report().mode, RecoveryMode::Clean);
    assert_eq!(store.max_offset("T", lost_queue), last.queue_offset + 1);
}

#[test]
fn a_flipped_byte_in_the_middle_of_the_last_file_cuts_there() {
    let image = tempfile::tempdir().unwrap();
    let written = crash_image(60, 3, image.path());
    let last_file = written.last().unwrap().1.physical_offset / 4096 * 4096;
    let in_last: Vec<usize> = (0..written.len())
        .filter(|i| written[*i].1.physical_offset >= last_file)
        .collect();
    assert!(in_last.len() >= 3, "the last file holds several records");
    let victim = in_last[in_last.len() / 2];
    let r = &written[victim].1;
    // A byte of the body (IPv4 hosts: the body starts at 88).
    flip(
        &log_file(image.path(), last_file),
        r.physical_offset - last_file + 90,
    );
    let store = MessageStore::open(tiny(image.path())).unwrap();
    let rep = store.recovery_report().clone();
    assert_eq!(rep.end, r.physical_offset);
    assert!(
        rep.cut_reason.as_deref().is_some_and(|s| s.contains("CRC")),
        "{rep:?}"
    );
    assert_queues_hold(&store, &written[..victim], 3);
    assert_no_entry_past_end(&store, 3);
    // The bytes after the cut are gone for good: appending and crashing again cannot bring
    // the old records back.
    let again = store.append(&msg("T", 0, b"x", None)).unwrap();
    assert_eq!(again.physical_offset, r.physical_offset);
}

#[test]
fn a_flipped_byte_in_a_header_length_is_caught_by_the_layout_check() {
    let image = tempfile::tempdir().unwrap();
    let written = crash_image(30, 1, image.path());
    let victim = &written[25].1;
    let file = victim.physical_offset / 4096 * 4096;
    // The topic length byte: the fields no longer add up to TOTALSIZE.
    let topic_len_at = victim.physical_offset - file + 88 + written[25].0.body.len() as u64;
    flip(&log_file(image.path(), file), topic_len_at);
    let store = MessageStore::open(tiny(image.path())).unwrap();
    assert_eq!(store.recovery_report().end, victim.physical_offset);
    assert_queues_hold(&store, &written[..25], 1);
}

#[test]
fn a_consume_queue_ahead_of_the_commit_log_is_trimmed() {
    let image = tempfile::tempdir().unwrap();
    let written = crash_image(45, 3, image.path());
    // The commit log lost its last 10 records (unflushed pages), the queues kept their entries.
    let cut = written[35].1.physical_offset;
    let end = written.last().unwrap().1.next_offset();
    let mut file = cut / 4096 * 4096;
    zero(&log_file(image.path(), file), cut - file, 4096);
    file += 4096;
    while file < end {
        zero(&log_file(image.path(), file), 0, 4096);
        file += 4096;
    }
    let store = MessageStore::open(tiny(image.path())).unwrap();
    let rep = store.recovery_report().clone();
    assert_eq!(rep.end, cut);
    assert!(rep.queues_trimmed >= 1, "{rep:?}");
    assert_queues_hold(&store, &written[..35], 3);
    assert_no_entry_past_end(&store, 3);
    for q in 0..3 {
        let next = written[..35].iter().filter(|(m, _)| m.queue_id == q).count() as u64;
        assert_eq!(
            store.append(&msg("T", q, b"next", None)).unwrap().queue_offset,
            next
        );
    }
}

#[test]
fn a_consume_queue_behind_the_commit_log_is_rebuilt() {
    let image = tempfile::tempdir().unwrap();
    let written = crash_image(45, 3, image.path());
    // Queue 0 lost the tail of its last file, queue 1 lost its files entirely.
    let q0_max = written.iter().filter(|(m, _)| m.queue_id == 0).count() as u64;
    let q0_file = (q0_max - 1) / 8 * 8 * 20;
    zero(&cq_file(image.path(), "T", 0, q0_file), 20, 160);
    std::fs::remove_dir_all(image.path().join("consumequeue/T/1")).unwrap();
    let store = MessageStore::open(tiny(image.path())).unwrap();
    assert_queues_hold(&store, &written, 3);
    let r = store.get_messages("T", 1, 0, 32, &|_| true);
    assert_eq!(r.status, GetStatus::Found);
}

#[test]
fn a_queue_missing_entries_from_before_the_checkpoint_forces_a_full_replay() {
    let live = tempfile::tempdir().unwrap();
    let image = tempfile::tempdir().unwrap();
    let mut written = Vec::new();
    {
        let store = MessageStore::open(tiny(live.path())).unwrap();
        for i in 0..30u64 {
            let m = msg("T", (i % 2) as i32, &body(i, 150), None);
            written.push((m.clone(), store.append(&m).unwrap()));
        }
        store.shutdown().unwrap(); // checkpoint: everything so far is durable
    }
    let store = MessageStore::open(tiny(live.path())).unwrap();
    for i in 30..40u64 {
        let m = msg("T", (i % 2) as i32, &body(i, 150), None);
        written.push((m.clone(), store.append(&m).unwrap()));
    }
    copy_dir(live.path(), image.path());
    drop(store);
    // Queue 0 lost everything, including entries the checkpoint says are durable.
    std::fs::remove_dir_all(image.path().join("consumequeue/T/0")).unwrap();
    let store = MessageStore::open(tiny(image.path())).unwrap();
    assert!(store.recovery_report().full_replay);
    assert_queues_hold(&store, &written, 2);
}

#[test]
fn a_lost_checkpoint_means_a_full_scan() {
    let image = tempfile::tempdir().unwrap();
    let written = crash_image(40, 2, image.path());
    std::fs::remove_file(image.path().join("checkpoint")).unwrap();
    std::fs::remove_file(image.path().join("abort")).unwrap();
    let store = MessageStore::open(tiny(image.path())).unwrap();
    let rep = store.recovery_report();
    assert_eq!((rep.mode, rep.scanned_from), (RecoveryMode::Crash, 0));
    assert_queues_hold(&store, &written, 2);
}

#[test]
fn garbage_after_the_end_in_the_last_file_never_resurfaces() {
    let image = tempfile::tempdir().unwrap();
    let written = crash_image(20, 1, image.path());
    let end = written.last().unwrap().1.next_offset();
    let file = end / 4096 * 4096;
    // A stale copy of an earlier record sits after a zero gap past the end.
    let stale = std::fs::read(log_file(image.path(), file)).unwrap();
    let mut bytes = stale.clone();
    let first_in_file = written.iter().find(|(_, r)| r.physical_offset >= file).unwrap().1;
    let len = first_in_file.wrote_bytes as usize;
    let src = (first_in_file.physical_offset - file) as usize;
    let dst = 4096 - len - 8;
    if dst > (end - file) as usize + 8 {
        bytes.copy_within(src..src + len, dst);
        std::fs::write(log_file(image.path(), file), bytes).unwrap();
    }
    let store = MessageStore::open(tiny(image.path())).unwrap();
    assert_eq!(store.recovery_report().end, end);
    assert_queues_hold(&store, &written, 1);
    drop(store);
    let after = std::fs::read(log_file(image.path(), file)).unwrap();
    assert!(
        after[(end - file) as usize..].iter().all(|b| *b == 0),
        "the tail was zeroed"
    );
}
