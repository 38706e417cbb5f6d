//! Disk a store holds with Apache's default file sizes (1 GiB commit-log files, index files of
//! five million entries): blocks are reserved as the writer comes, so a broker that has stored
//! a few messages holds megabytes, not two whole commit-log files. Test suites start dozens of
//! brokers on machines whose disks are already well used, and Apache's 90 % disk guard refuses
//! sends on such a disk.

mod store_util;

use std::path::Path;
use std::time::{Duration, Instant};

use rmq_broker::store::{MessageStore, StoreConfig};
use store_util::{body, msg};

/// Bytes of disk blocks held by the files under `dir`.
fn allocated(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            allocated(&entry.path())
        } else {
            meta.blocks() * 512
        };
    }
    total
}

fn commit_log_files(root: &Path) -> usize {
    std::fs::read_dir(root.join("commitlog")).unwrap().count()
}

#[test]
fn a_store_with_default_file_sizes_holds_megabytes_not_gigabytes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        root: dir.path().to_path_buf(),
        flush_interval: Duration::from_millis(50),
        ..StoreConfig::default()
    };
    assert_eq!(cfg.commit_log_file_size, 1 << 30, "Apache's default");
    let store = MessageStore::open(cfg).unwrap();
    for i in 0..100u64 {
        store
            .append(&msg("T", (i % 4) as i32, &body(i, 512), Some("TagA")))
            .unwrap();
    }
    // The allocator prepares the next commit-log file ahead of need: wait for it, so both
    // files are counted.
    let deadline = Instant::now() + Duration::from_secs(10);
    while commit_log_files(dir.path()) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Blocks held: the data, the allocator's window ahead of the writer (16 MiB, rounded up to
    // 8 MiB reservation chunks), the consume queues' and the index file's first chunks.
    let held = allocated(dir.path());
    assert!(
        held < 64 << 20,
        "{} files in commitlog/, {} MiB of blocks held under {}",
        commit_log_files(dir.path()),
        held >> 20,
        dir.path().display()
    );
    store.shutdown().unwrap();
}
