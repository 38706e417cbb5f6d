//! [`OffsetClock`]: when the master's commit log reached which offset, so the page can say how
//! old the oldest byte a slave still lacks is (replication lag in time).
//!
//! A slave reports offsets that need not fall on record boundaries (transfers are 32 KiB
//! chunks), so the age cannot be read from a record's store time. Instead a sampler records
//! `(now, max offset)` every [`SAMPLE_PERIOD_MS`] while the log grows; the lag of a slave at
//! offset `acked` is the time since the first sample past `acked`. Precision: one period. Pure
//! code, the clock passed in.

use std::collections::VecDeque;

/// How often the broker samples its max offset.
pub const SAMPLE_PERIOD_MS: u64 = 200;
/// Samples kept (10 minutes at the period): a slave further behind reads as 10 minutes.
const MAX_SAMPLES: usize = 3000;

/// `(epoch ms, max offset)` samples, offsets strictly increasing.
#[derive(Debug, Default)]
pub struct OffsetClock {
    samples: VecDeque<(i64, u64)>,
}

impl OffsetClock {
    /// Records that the log ended at `offset` at `now_ms` (ignored unless it grew).
    pub fn record(&mut self, now_ms: i64, offset: u64) {
        if self.samples.back().is_some_and(|(_, o)| *o >= offset) {
            return;
        }
        self.samples.push_back((now_ms, offset));
        while self.samples.len() > MAX_SAMPLES {
            self.samples.pop_front();
        }
    }

    /// Milliseconds the slave at `acked` is behind a log ending at `end`: 0 when it has
    /// everything or the missing bytes are younger than the last sample.
    pub fn lag_ms(&self, now_ms: i64, acked: u64, end: u64) -> i64 {
        if acked >= end {
            return 0;
        }
        let i = self.samples.partition_point(|(_, o)| *o <= acked);
        match self.samples.get(i) {
            Some((t, _)) => (now_ms - t).max(0),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_the_age_of_the_first_sample_past_the_slave() {
        let mut c = OffsetClock::default();
        c.record(1_000, 100);
        c.record(1_200, 100); // no growth: ignored
        c.record(1_400, 300);
        c.record(1_600, 900);
        assert_eq!(c.lag_ms(2_000, 900, 900), 0, "caught up");
        assert_eq!(c.lag_ms(2_000, 950, 900), 0, "ahead of the samples");
        assert_eq!(c.lag_ms(2_000, 300, 900), 400, "missing bytes written by 1 600");
        assert_eq!(c.lag_ms(2_000, 150, 900), 600);
        assert_eq!(c.lag_ms(2_000, 0, 900), 1_000);
        assert_eq!(c.lag_ms(2_000, 900, 950), 0, "newer than the last sample");
    }
}
