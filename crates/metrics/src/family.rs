//! [`Family`]: the series of one metric by label key, in a sharded map.
//!
//! The hot path calls [`Family::with`]: it hashes the key once, takes one shard's read lock
//! (shared with every other reader), and runs the closure on the series' atomics. Only the
//! first record of a new key takes the shard's write lock. Keys are looked up by borrowed form
//! (`&str` for a `String` key), so a record allocates nothing once the series exists.
//!
//! A family holds at most `limit` series (RocketMQ 5's `metricsOtelCardinalityLimit`): past it
//! new keys are not recorded and one warning is logged, so a client inventing topic or group
//! names cannot grow the broker's memory through its metrics.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};

/// Default cap on the series of one family (`metricsOtelCardinalityLimit`).
pub const DEFAULT_CARDINALITY_LIMIT: usize = 50_000;

/// Series of one metric, keyed by their labels.
pub struct Family<K, V> {
    name: &'static str,
    hasher: foldhash::fast::FixedState,
    shards: Box<[RwLock<HashMap<K, V, foldhash::fast::FixedState>>]>,
    len: AtomicUsize,
    limit: usize,
    warned: AtomicBool,
}

impl<K, V> std::fmt::Debug for Family<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.name)
            .field("series", &self.len.load(Ordering::Relaxed))
            .finish()
    }
}

impl<K: Hash + Eq, V> Family<K, V> {
    /// An empty family named `name` (for the log line) with `shards` shards (rounded up to a
    /// power of two) and at most `limit` series.
    pub fn new(name: &'static str, shards: usize, limit: usize) -> Family<K, V> {
        let shards = shards.max(1).next_power_of_two();
        Family {
            name,
            hasher: foldhash::fast::FixedState::with_seed(0x5eed_cafe),
            shards: (0..shards)
                .map(|_| RwLock::new(HashMap::with_hasher(foldhash::fast::FixedState::with_seed(1))))
                .collect(),
            len: AtomicUsize::new(0),
            limit,
            warned: AtomicBool::new(false),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &RwLock<HashMap<K, V, foldhash::fast::FixedState>> {
        let h = self.hasher.hash_one(key);
        // The high bits: the map itself uses the low ones.
        &self.shards[(h >> 48) as usize & (self.shards.len() - 1)]
    }

    /// Runs `f` on the series of `key`, creating it with `make` first if needed. `None` when
    /// the series does not exist and the family is at its limit.
    pub fn with<Q, R>(&self, key: &Q, make: impl FnOnce() -> V, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let shard = self.shard(key);
        {
            let map = shard.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(v) = map.get(key) {
                return Some(f(v));
            }
        }
        let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(key) {
            if self.len.load(Ordering::Relaxed) >= self.limit {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        metric = self.name,
                        limit = self.limit,
                        "metric series limit reached; new label values are not recorded (raise metricsOtelCardinalityLimit)"
                    );
                }
                return None;
            }
            self.len.fetch_add(1, Ordering::Relaxed);
            map.insert(key.to_owned(), make());
        }
        map.get(key).map(f)
    }

    /// Visits every series (shard by shard, each under its read lock; keep `f` short).
    pub fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for shard in self.shards.iter() {
            let map = shard.read().unwrap_or_else(PoisonError::into_inner);
            for (k, v) in map.iter() {
                f(k, v);
            }
        }
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether it holds no series.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn records_by_borrowed_key_and_stops_at_the_limit() {
        let f: Family<String, AtomicU64> = Family::new("t", 4, 2);
        for topic in ["a", "b", "a", "c"] {
            f.with(topic, AtomicU64::default, |c| c.fetch_add(1, Ordering::Relaxed));
        }
        let mut seen = Vec::new();
        f.for_each(|k, v| seen.push((k.clone(), v.load(Ordering::Relaxed))));
        seen.sort();
        assert_eq!(seen, vec![("a".to_string(), 2), ("b".to_string(), 1)]);
        assert_eq!(f.len(), 2);
        assert!(f.with("c", AtomicU64::default, |_| ()).is_none());
        assert!(f.with("a", AtomicU64::default, |_| ()).is_some());
    }
}
