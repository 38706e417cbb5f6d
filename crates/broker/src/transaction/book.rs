//! [`TransactionBook`]: the broker's transaction bookkeeping kept in memory (op-marker ids and
//! the round-robin choice of producer channel for check-backs). It lives in
//! the broker state and needs nothing from it.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

use rmq_remoting::message::id::UniqIdGenerator;

/// The broker's transaction bookkeeping that is not in a store or a table: the id generator of
/// op markers and the round-robin start of the producer channel choice.
#[derive(Debug)]
pub struct TransactionBook {
    ids: UniqIdGenerator,
    channel_pick: AtomicUsize,
}

impl TransactionBook {
    /// A book for a broker whose records carry `ip` as store host.
    /// `now_ms` salts the ids.
    pub fn new(ip: Ipv4Addr, now_ms: i64) -> TransactionBook {
        TransactionBook {
            // The salt tells this broker run's ids from an earlier run's (same address and pid).
            ids: UniqIdGenerator::new(ip, std::process::id(), now_ms as i32),
            channel_pick: AtomicUsize::new(0),
        }
    }

    /// A fresh `UNIQ_KEY` for a record stored at `now_ms`.
    pub fn next_id(&self, now_ms: i64) -> String {
        self.ids.next_id(now_ms)
    }

    /// The next round-robin start.
    pub fn next_pick(&self) -> usize {
        self.channel_pick.fetch_add(1, Ordering::Relaxed)
    }
}
