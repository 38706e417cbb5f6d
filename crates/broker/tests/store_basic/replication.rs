//! A slave fed the master's raw bytes: a byte-identical log and queues, and where an empty
//! slave starts.

use rmq_broker::store::StoreError;
use rmq_remoting::message::tags::java_hash;

use super::open;
use super::store_util::{body, msg, read_queue, tiny};

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
