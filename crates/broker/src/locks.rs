//! [`QueueLocks`]: which client of a consumer group owns which message queue, for orderly
//! consumers (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ). A lock lasts 60 s unless renewed
//! (`rocketmq.broker.rebalance.lockMaxLiveTime`); an expired lock can be taken by anyone.
//! Pure logic: the clock comes in as an argument.

use std::collections::HashMap;
use std::sync::Mutex;

/// Lock lifetime, ms.
pub const LOCK_MAX_LIVE_MS: i64 = 60_000;

/// A queue as clients name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueKey {
    /// Topic.
    pub topic: String,
    /// Broker name.
    pub broker_name: String,
    /// Queue id.
    pub queue_id: i32,
}

#[derive(Debug, Clone)]
struct Holder {
    client_id: String,
    last_update_ms: i64,
}

/// Per-group queue ownership; the lock guards the whole table and is held for one batch.
#[derive(Debug, Default)]
pub struct QueueLocks {
    groups: Mutex<HashMap<String, HashMap<QueueKey, Holder>>>,
}

impl QueueLocks {
    /// Locks what it can of `queues` for `client_id`; returns the queues the client now holds
    /// (newly locked, renewed, or taken over from an expired holder).
    pub fn lock(&self, group: &str, client_id: &str, queues: &[QueueKey], now_ms: i64) -> Vec<QueueKey> {
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        let table = groups.entry(group.to_string()).or_default();
        let mut granted = Vec::new();
        for q in queues {
            let free = match table.get(q) {
                None => true,
                Some(h) => h.client_id == client_id || now_ms - h.last_update_ms > LOCK_MAX_LIVE_MS,
            };
            if free {
                table.insert(
                    q.clone(),
                    Holder {
                        client_id: client_id.to_string(),
                        last_update_ms: now_ms,
                    },
                );
                granted.push(q.clone());
            }
        }
        granted
    }

    /// Releases the queues `client_id` holds among `queues`.
    pub fn unlock(&self, group: &str, client_id: &str, queues: &[QueueKey]) {
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(table) = groups.get_mut(group) {
            for q in queues {
                if table.get(q).is_some_and(|h| h.client_id == client_id) {
                    table.remove(q);
                }
            }
        }
    }

    /// The holder of a queue if its lock is live.
    pub fn holder(&self, group: &str, q: &QueueKey, now_ms: i64) -> Option<String> {
        let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        let h = groups.get(group)?.get(q)?;
        (now_ms - h.last_update_ms <= LOCK_MAX_LIVE_MS).then(|| h.client_id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(id: i32) -> QueueKey {
        QueueKey {
            topic: "T".into(),
            broker_name: "b".into(),
            queue_id: id,
        }
    }

    #[test]
    fn exclusive_until_expiry_or_unlock() {
        let l = QueueLocks::default();
        assert_eq!(l.lock("g", "c1", &[q(0), q(1)], 0), vec![q(0), q(1)]);
        assert_eq!(l.lock("g", "c2", &[q(1), q(2)], 1000), vec![q(2)]);
        assert_eq!(
            l.lock("g", "c1", &[q(1)], 2000),
            vec![q(1)],
            "renewal by the holder"
        );
        assert_eq!(
            l.lock("other", "c2", &[q(1)], 2000),
            vec![q(1)],
            "groups are independent"
        );
        l.unlock("g", "c2", &[q(1)]);
        assert_eq!(
            l.holder("g", &q(1), 2000).as_deref(),
            Some("c1"),
            "only the holder unlocks"
        );
        l.unlock("g", "c1", &[q(1)]);
        assert_eq!(l.holder("g", &q(1), 2000), None);
        assert_eq!(
            l.lock("g", "c2", &[q(0)], LOCK_MAX_LIVE_MS),
            Vec::<QueueKey>::new()
        );
        assert_eq!(
            l.lock("g", "c2", &[q(0)], LOCK_MAX_LIVE_MS + 1),
            vec![q(0)],
            "expired lock taken over"
        );
    }
}
