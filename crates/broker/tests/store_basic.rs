//! Message store behaviour on tiny files: appends across file boundaries and the filler, reads
//! at every boundary, tag filtering, search by timestamp, retention, disk full, the lock,
//! clean reopen, sync flush, and byte-identical replication.
//!
//! One file per subject under `store_basic/`: `commit_log` (appends and reads), `pulls`,
//! `disk` (retention, full disk), `lifecycle` (lock, reopen, bad input, topic deletion),
//! `flush` and `replication`.

mod store_util;

#[path = "store_basic/commit_log.rs"]
mod commit_log;
#[path = "store_basic/disk.rs"]
mod disk;
#[path = "store_basic/flush.rs"]
mod flush;
#[path = "store_basic/lifecycle.rs"]
mod lifecycle;
#[path = "store_basic/pulls.rs"]
mod pulls;
#[path = "store_basic/replication.rs"]
mod replication;

use std::sync::Arc;

use rmq_broker::store::{MessageStore, StoreConfig};

fn open(cfg: StoreConfig) -> Arc<MessageStore> {
    MessageStore::open(cfg).unwrap()
}
