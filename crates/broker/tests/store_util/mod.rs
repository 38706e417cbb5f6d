//! Helpers shared by the store tests: tiny configs, message builders, crash images.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use rmq_broker::store::{FlushDiskType, StoreConfig};
use rmq_remoting::message::MessageRecord;

/// A config with tiny files and timers that stay out of the way (nothing flushes on its own
/// during a test unless asked).
pub fn tiny(root: &Path) -> StoreConfig {
    StoreConfig {
        root: root.to_path_buf(),
        commit_log_file_size: 4096,
        consume_queue_entries_per_file: 8,
        flush_disk_type: FlushDiskType::Async,
        flush_interval: Duration::from_secs(3600),
        consume_queue_flush_interval: Duration::from_secs(3600),
        clean_interval: Duration::from_secs(3600),
        max_message_size: 2048,
        disk_max_used_ratio: 1.0,
        disk_full_ratio: 1.0,
        ..StoreConfig::default()
    }
}

/// A message with a `TAGS` and `KEYS` property.
pub fn msg(topic: &str, queue_id: i32, body: &[u8], tag: Option<&str>) -> MessageRecord {
    let mut properties = format!("KEYS\u{1}k-{}", body.len());
    if let Some(t) = tag {
        properties.push_str(&format!("\u{2}TAGS\u{1}{t}"));
    }
    MessageRecord {
        topic: topic.to_string(),
        queue_id,
        flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: "10.0.0.5:40000".parse().unwrap(),
        store_host: "10.0.0.1:10911".parse().unwrap(),
        body: Bytes::copy_from_slice(body),
        properties,
        ..Default::default()
    }
}

/// A body of `len` bytes derived from `seed`, so every message is distinguishable.
pub fn body(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Copies a store directory (what a crash leaves on disk when the kernel survives: the page
/// cache is what a copy reads). The lock file is copied as a plain file. Files are copied
/// sparsely (all-zero chunks are left as holes): an index file is 420 MB, mostly unwritten.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            copy_sparse(&entry.path(), &target);
        }
    }
}

fn copy_sparse(from: &Path, to: &Path) {
    use std::io::Read;
    use std::os::unix::fs::FileExt;
    let mut src = std::fs::File::open(from).unwrap();
    let dst = std::fs::File::create(to).unwrap();
    dst.set_len(src.metadata().unwrap().len()).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = src.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|b| *b != 0) {
            dst.write_all_at(&buf[..n], at).unwrap();
        }
        at += n as u64;
    }
}

/// Path of a commit-log file.
pub fn log_file(root: &Path, start: u64) -> std::path::PathBuf {
    root.join("commitlog").join(format!("{start:020}"))
}

/// Path of a consume-queue file.
pub fn cq_file(root: &Path, topic: &str, queue_id: i32, start: u64) -> std::path::PathBuf {
    root.join("consumequeue")
        .join(topic)
        .join(queue_id.to_string())
        .join(format!("{start:020}"))
}

/// Every record's bytes in one queue, read through `get_messages`.
pub fn read_queue(store: &rmq_broker::store::MessageStore, topic: &str, queue_id: i32) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut offset = store.min_offset(topic, queue_id);
    loop {
        let r = store.get_messages(topic, queue_id, offset, 32, &|_| true);
        if r.messages.is_empty() && r.next_begin_offset == offset {
            break;
        }
        out.extend(r.messages);
        if r.next_begin_offset <= offset {
            break;
        }
        offset = r.next_begin_offset;
    }
    out
}
