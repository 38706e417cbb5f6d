//! Short TPS histories for the live charts: one ring buffer of `(time, rate)` points per series
//! (`topic/<name>/send`, `broker/<name>/put`, …). Rates come either as they are (a broker's
//! own putTps) or from a growing counter (a topic's summed max offsets), whose first sample is
//! only a baseline. Pure: the sampler passes the clock.

use std::collections::{BTreeMap, HashMap, VecDeque};

/// Most series kept; past it new series are ignored (a cluster with thousands of topics would
/// otherwise grow the console without bound).
pub const MAX_SERIES: usize = 2000;

/// Ring buffers of rates.
#[derive(Debug)]
pub struct Series {
    capacity: usize,
    counters: HashMap<String, (i64, i64)>,
    points: BTreeMap<String, VecDeque<(i64, f64)>>,
}

impl Series {
    /// Keeps the last `capacity` points per series.
    pub fn new(capacity: usize) -> Series {
        Series {
            capacity: capacity.max(2),
            counters: HashMap::new(),
            points: BTreeMap::new(),
        }
    }

    /// Appends a rate measured at `now_ms`.
    pub fn record_rate(&mut self, key: &str, now_ms: i64, rate: f64) {
        if !self.points.contains_key(key) && self.points.len() >= MAX_SERIES {
            return;
        }
        let buf = self.points.entry(key.to_string()).or_default();
        if buf.len() == self.capacity {
            buf.pop_front();
        }
        buf.push_back((now_ms, if rate.is_finite() { rate.max(0.0) } else { 0.0 }));
    }

    /// Feeds a counter that grows by one per message. The first sample of a key is the
    /// baseline; later ones append `(total - previous) / elapsed seconds`. A counter that goes
    /// down (a topic deleted and created again, an offset reset) counts as zero for that step.
    pub fn record_counter(&mut self, key: &str, now_ms: i64, total: i64) {
        match self.counters.insert(key.to_string(), (now_ms, total)) {
            Some((then, before)) if now_ms > then => {
                let rate = (total - before).max(0) as f64 * 1000.0 / (now_ms - then) as f64;
                self.record_rate(key, now_ms, rate);
            }
            Some(_) => {}
            None => self.record_rate(key, now_ms, 0.0),
        }
    }

    /// Every series whose key starts with `prefix`.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a VecDeque<(i64, f64)>)> {
        self.points
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(s: &Series, key: &str) -> Vec<f64> {
        s.with_prefix(key)
            .next()
            .map(|(_, v)| v.iter().map(|p| p.1).collect())
            .unwrap_or_default()
    }

    #[test]
    fn counters_become_rates_after_a_baseline() {
        let mut s = Series::new(10);
        s.record_counter("topic/T/send", 0, 100);
        s.record_counter("topic/T/send", 2_000, 140);
        s.record_counter("topic/T/send", 4_000, 140);
        assert_eq!(values(&s, "topic/T/send"), vec![0.0, 20.0, 0.0]);
    }

    #[test]
    fn a_counter_that_goes_down_is_a_zero_step_then_a_new_baseline() {
        let mut s = Series::new(10);
        s.record_counter("k", 0, 100);
        s.record_counter("k", 1_000, 5);
        s.record_counter("k", 2_000, 15);
        assert_eq!(values(&s, "k"), vec![0.0, 0.0, 10.0]);
    }

    #[test]
    fn buffers_keep_the_last_points_only() {
        let mut s = Series::new(3);
        for i in 0..5 {
            s.record_rate("broker/a/put", i, i as f64);
        }
        assert_eq!(values(&s, "broker/a/put"), vec![2.0, 3.0, 4.0]);
        s.record_rate("broker/a/put", 9, f64::NAN);
        assert_eq!(values(&s, "broker/a/put"), vec![3.0, 4.0, 0.0]);
    }

    #[test]
    fn prefixes_select_families() {
        let mut s = Series::new(3);
        s.record_rate("broker/a/put", 0, 1.0);
        s.record_rate("topic/T/send", 0, 1.0);
        s.record_rate("topic/U/send", 0, 1.0);
        let keys: Vec<&str> = s.with_prefix("topic/").map(|(k, _)| k).collect();
        assert_eq!(keys, ["topic/T/send", "topic/U/send"]);
    }
}
