//! What a pull returns: the message and byte budgets, tag filtering, the record filter, and
//! search by timestamp.

use std::time::Duration;

use rmq_broker::store::{GetStatus, StoreConfig};
use rmq_remoting::message::tags::java_hash;
use rmq_remoting::message::MessageRecord;

use super::open;
use super::store_util::{body, msg, tiny};

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
fn records_refused_by_the_record_filter_leave_no_bytes_in_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(tiny(dir.path()));
    for i in 0..20u64 {
        store
            .append(&msg("T", 0, &body(i, 60 + i as usize), None))
            .unwrap();
    }
    // Keep the records of even queue offsets only, judged on their bytes.
    let even = |rec: &[u8]| MessageRecord::decode(rec, true).unwrap().0.queue_offset % 2 == 0;
    let r = store.get_messages_filtered("T", 0, 0, 32, &|_| true, &even);
    assert_eq!(r.status, GetStatus::Found);
    let offsets: Vec<i64> = r
        .messages
        .iter()
        .map(|m| MessageRecord::decode(m, true).unwrap().0.queue_offset)
        .collect();
    assert_eq!(offsets, (0..20).step_by(2).collect::<Vec<i64>>());
    assert_eq!(r.body, r.messages.concat());
    assert_eq!(r.bytes_total, r.body.len() as u64);
    assert_eq!(r.next_begin_offset, 20);
    let none = store.get_messages_filtered("T", 0, 0, 32, &|_| true, &|_| false);
    assert_eq!((none.status, none.body.len()), (GetStatus::NoMatchedMessage, 0));
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
