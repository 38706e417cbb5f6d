//! [`Histogram`]: a fixed array of atomic bucket counters plus an atomic sum, recorded with
//! Relaxed ordering and no lock.
//!
//! Values are recorded as integers in a raw unit (bytes, microseconds) and shown in the unit of
//! the metric's name (bytes, milliseconds) by multiplying with [`Buckets::scale`], so recording
//! a latency is two `fetch_add`s and no float work. Bucket `i` counts values `<= bounds[i]`
//! (Prometheus' `le`); the last slot counts the rest (`+Inf`).

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the buckets, in the raw unit, and the factor to the displayed unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Buckets {
    /// Inclusive upper bounds, ascending, in the raw unit.
    pub bounds: &'static [u64],
    /// Raw unit → displayed unit (1.0 for bytes; 0.001 for µs shown as ms).
    pub scale: f64,
}

impl Buckets {
    /// RocketMQ 5's `rocketmq_rpc_latency` buckets: 1, 3, 5, 7, 10, 100, 1000, 2000, 3000 ms,
    /// recorded in microseconds.
    pub const RPC_LATENCY_MS: Buckets = Buckets {
        bounds: &[
            1_000, 3_000, 5_000, 7_000, 10_000, 100_000, 1_000_000, 2_000_000, 3_000_000,
        ],
        scale: 0.001,
    };

    /// RocketMQ 5's `rocketmq_message_size` buckets: 1 KiB, 4 KiB, 512 KiB, 1, 2 and 4 MiB.
    pub const MESSAGE_SIZE_BYTES: Buckets = Buckets {
        bounds: &[1 << 10, 4 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20],
        scale: 1.0,
    };

    /// Commit-log sync times (not a RocketMQ 5 metric): 0.1 ms to 1 s, recorded in microseconds.
    pub const FLUSH_LATENCY_MS: Buckets = Buckets {
        bounds: &[
            100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 100_000, 500_000, 1_000_000,
        ],
        scale: 0.001,
    };
}

/// One histogram series.
#[derive(Debug)]
pub struct Histogram {
    buckets: Buckets,
    /// Non-cumulative counts; `counts[bounds.len()]` is the overflow bucket.
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

/// A point-in-time copy, cumulative as the exposition format wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(le, cumulative count)` for each finite bound, in the displayed unit.
    pub buckets: Vec<(f64, u64)>,
    /// Every value recorded (the `+Inf` bucket and `_count`).
    pub count: u64,
    /// Sum of the values, in the displayed unit.
    pub sum: f64,
}

impl Histogram {
    /// An empty histogram over `buckets`.
    pub fn new(buckets: Buckets) -> Histogram {
        Histogram {
            buckets,
            counts: (0..=buckets.bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Records one value in the raw unit.
    pub fn record(&self, raw: u64) {
        let i = self.buckets.bounds.partition_point(|b| *b < raw);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(raw, Ordering::Relaxed);
    }

    /// Records a duration at microsecond resolution (for buckets recorded in µs).
    pub fn record_duration(&self, d: std::time::Duration) {
        self.record(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// The buckets it was made with.
    pub fn buckets(&self) -> Buckets {
        self.buckets
    }

    /// Cumulative counts and the sum. The count is the sum of the bucket counts read, so
    /// `+Inf` always equals `_count` even while other threads record.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0u64;
        let mut buckets = Vec::with_capacity(self.buckets.bounds.len());
        for (bound, count) in self.buckets.bounds.iter().zip(self.counts.iter()) {
            running += count.load(Ordering::Relaxed);
            buckets.push((*bound as f64 * self.buckets.scale, running));
        }
        running += self.counts[self.buckets.bounds.len()].load(Ordering::Relaxed);
        HistogramSnapshot {
            buckets,
            count: running,
            sum: self.sum.load(Ordering::Relaxed) as f64 * self.buckets.scale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_first_bucket_whose_bound_holds_them() {
        let h = Histogram::new(Buckets::RPC_LATENCY_MS);
        h.record(0);
        h.record(1_000); // exactly 1 ms: le="1"
        h.record(1_001);
        h.record(9_000_000); // past every bound
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(s.buckets[0], (1.0, 2));
        assert_eq!(s.buckets[1], (3.0, 3));
        assert_eq!(s.buckets.last().copied(), Some((3000.0, 3)));
        assert!((s.sum - 9_002.001).abs() < 1e-9, "{}", s.sum);
    }

    #[test]
    fn byte_buckets_are_shown_unscaled() {
        let h = Histogram::new(Buckets::MESSAGE_SIZE_BYTES);
        h.record(100);
        h.record(4096);
        h.record(4097);
        let s = h.snapshot();
        assert_eq!(s.buckets[0], (1024.0, 1));
        assert_eq!(s.buckets[1], (4096.0, 2));
        assert_eq!(s.buckets[2], (524_288.0, 3));
        assert_eq!(s.sum, 8293.0);
    }
}
