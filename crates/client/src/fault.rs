//! Latency fault avoidance (`MQFaultStrategy` + `LatencyFaultToleranceImpl`, protocol.md §7.3),
//! pure: the caller passes the clock as milliseconds on any monotonic scale.
//!
//! After each send attempt the producer reports the broker's latency. A latency at or above
//! `latency_max[i]` benches the broker for `not_available_duration[i]` (the largest such `i`);
//! an exception counts as 30 s of latency, which benches it for 600 s with the default tables.
//! A benched broker is skipped while others are available; when every broker is benched the
//! "least bad" one is still used, so a producer never stops sending for lack of a perfect broker.

use std::collections::HashMap;

/// RocketMQ's latency thresholds in ms.
pub const LATENCY_MAX: [u64; 7] = [50, 100, 550, 1000, 2000, 3000, 15000];
/// How long (ms) a broker is benched at each threshold.
pub const NOT_AVAILABLE_DURATION: [u64; 7] = [0, 0, 30000, 60000, 120000, 180000, 600000];
/// The latency an exception is treated as.
pub const ISOLATION_LATENCY: u64 = 30000;

/// What the table knows about one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultItem {
    /// Broker name.
    pub name: String,
    /// Latency of the last attempt, ms.
    pub current_latency: u64,
    /// The broker is available again from this instant (ms).
    pub start_timestamp: u64,
}

impl FaultItem {
    fn is_available(&self, now: u64) -> bool {
        now >= self.start_timestamp
    }
}

/// The fault table plus the tables that map latency to a bench duration.
#[derive(Debug, Clone)]
pub struct LatencyFaultTolerance {
    latency_max: Vec<u64>,
    not_available_duration: Vec<u64>,
    items: HashMap<String, FaultItem>,
    which_item_worst: usize,
}

impl Default for LatencyFaultTolerance {
    fn default() -> Self {
        Self::new(LATENCY_MAX.to_vec(), NOT_AVAILABLE_DURATION.to_vec())
    }
}

impl LatencyFaultTolerance {
    /// A table with custom thresholds (same length; checked by the producer config).
    pub fn new(latency_max: Vec<u64>, not_available_duration: Vec<u64>) -> Self {
        LatencyFaultTolerance {
            latency_max,
            not_available_duration,
            items: HashMap::new(),
            which_item_worst: 0,
        }
    }

    /// `computeNotAvailableDuration`: the bench time for a latency.
    pub fn not_available_duration(&self, latency: u64) -> u64 {
        self.latency_max
            .iter()
            .zip(&self.not_available_duration)
            .rev()
            .find(|(max, _)| latency >= **max)
            .map_or(0, |(_, d)| *d)
    }

    /// `updateFaultItem`: records the outcome of an attempt at `now`.
    pub fn update(&mut self, broker: &str, latency: u64, isolation: bool, now: u64) {
        let latency = if isolation { ISOLATION_LATENCY } else { latency };
        let duration = self.not_available_duration(latency);
        let item = self.items.entry(broker.to_string()).or_insert_with(|| FaultItem {
            name: broker.to_string(),
            current_latency: 0,
            start_timestamp: 0,
        });
        item.current_latency = latency;
        item.start_timestamp = now + duration;
    }

    /// Whether `broker` may be used at `now` (unknown brokers are).
    pub fn is_available(&self, broker: &str, now: u64) -> bool {
        !matches!(self.items.get(broker), Some(item) if !item.is_available(now))
    }

    /// Forgets a broker.
    pub fn remove(&mut self, broker: &str) {
        self.items.remove(broker);
    }

    /// The item for `broker`, if any.
    pub fn item(&self, broker: &str) -> Option<&FaultItem> {
        self.items.get(broker)
    }

    /// `pickOneAtLeast`: sorts by (available first, lower latency, earlier end of bench) and
    /// rotates through the better half, so load spreads while everything is benched.
    pub fn pick_one_at_least(&mut self, now: u64) -> Option<String> {
        let mut items: Vec<&FaultItem> = self.items.values().collect();
        if items.is_empty() {
            return None;
        }
        items.sort_by(|a, b| {
            b.is_available(now)
                .cmp(&a.is_available(now))
                .then(a.current_latency.cmp(&b.current_latency))
                .then(a.start_timestamp.cmp(&b.start_timestamp))
                .then(a.name.cmp(&b.name))
        });
        let half = items.len() / 2;
        if half == 0 {
            return Some(items[0].name.clone());
        }
        self.which_item_worst = self.which_item_worst.wrapping_add(1);
        Some(items[self.which_item_worst % half].name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_table_matches_rocketmq() {
        let t = LatencyFaultTolerance::default();
        assert_eq!(t.not_available_duration(0), 0);
        assert_eq!(t.not_available_duration(100), 0);
        assert_eq!(t.not_available_duration(549), 0);
        assert_eq!(t.not_available_duration(550), 30000);
        assert_eq!(t.not_available_duration(600), 30000);
        assert_eq!(t.not_available_duration(1000), 60000);
        assert_eq!(t.not_available_duration(2500), 120000);
        assert_eq!(t.not_available_duration(3000), 180000);
        assert_eq!(t.not_available_duration(15000), 600000);
    }

    #[test]
    fn slow_answer_benches_for_30s() {
        let mut t = LatencyFaultTolerance::default();
        t.update("a", 600, false, 1_000);
        assert!(!t.is_available("a", 1_000));
        assert!(!t.is_available("a", 30_999));
        assert!(t.is_available("a", 31_000));
        assert!(t.is_available("b", 1_000));
    }

    #[test]
    fn exception_benches_for_600s() {
        let mut t = LatencyFaultTolerance::default();
        t.update("a", 5, true, 0);
        assert_eq!(t.item("a").unwrap().current_latency, ISOLATION_LATENCY);
        assert!(!t.is_available("a", 599_999));
        assert!(t.is_available("a", 600_000));
    }

    #[test]
    fn fast_answer_clears_bench() {
        let mut t = LatencyFaultTolerance::default();
        t.update("a", 5, true, 0);
        t.update("a", 20, false, 10);
        assert!(t.is_available("a", 10));
    }

    #[test]
    fn pick_one_prefers_available_then_fast() {
        let mut t = LatencyFaultTolerance::default();
        assert_eq!(t.pick_one_at_least(0), None);
        t.update("slow", 2000, false, 0);
        assert_eq!(t.pick_one_at_least(0).as_deref(), Some("slow"));
        t.update("dead", 0, true, 0);
        t.update("ok", 10, false, 0);
        t.update("meh", 600, false, 0);
        // 4 items, half = 2: rotates through the best two ("ok" available, then "meh" lowest latency).
        let picks: Vec<String> = (0..4).filter_map(|_| t.pick_one_at_least(0)).collect();
        assert!(picks.iter().all(|p| p == "ok" || p == "meh"), "{picks:?}");
        assert!(picks.contains(&"ok".to_string()) && picks.contains(&"meh".to_string()));
    }
}
