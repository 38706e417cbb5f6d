//! [`BrokerStats`]: message counters and the TPS figures GET_BROKER_RUNTIME_INFO reports
//! (`putTps` / `getTransferedTps` as "10 s, 60 s, 600 s" averages, and the day totals
//! `msgPutTotalTodayMorning` etc.).
//!
//! The hot paths only bump atomics; a once-a-second sampler feeds [`TpsWindow`], pure logic
//! that takes the clock as an argument.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Seconds of history kept (the longest window).
const HISTORY_SECS: usize = 600;
const DAY_MS: i64 = 86_400_000;

/// Samples of the cumulative counters, one a second.
#[derive(Debug, Default)]
pub struct TpsWindow {
    samples: VecDeque<(i64, u64, u64)>,
    today_morning: (u64, u64),
    yesterday_morning: (u64, u64),
    day: i64,
}

impl TpsWindow {
    /// Records the counters at `now_ms`.
    pub fn record(&mut self, now_ms: i64, put: u64, get: u64) {
        let day = now_ms.div_euclid(DAY_MS);
        if self.samples.is_empty() {
            self.day = day;
        } else if day != self.day {
            self.yesterday_morning = self.today_morning;
            self.today_morning = (put, get);
            self.day = day;
        }
        self.samples.push_back((now_ms, put, get));
        while self.samples.len() > HISTORY_SECS + 1 {
            self.samples.pop_front();
        }
    }

    /// Average (put, get) per second over the last `secs` seconds of samples.
    pub fn tps(&self, secs: i64) -> (f64, f64) {
        let Some(&(t1, p1, g1)) = self.samples.back() else {
            return (0.0, 0.0);
        };
        let start = self
            .samples
            .iter()
            .find(|(t, _, _)| t1 - *t <= secs * 1000)
            .copied();
        match start {
            Some((t0, p0, g0)) if t1 > t0 => {
                let dt = (t1 - t0) as f64 / 1000.0;
                ((p1 - p0) as f64 / dt, (g1 - g0) as f64 / dt)
            }
            _ => (0.0, 0.0),
        }
    }

    /// Counter values at the start of today and yesterday.
    pub fn mornings(&self) -> ((u64, u64), (u64, u64)) {
        (self.today_morning, self.yesterday_morning)
    }
}

/// Broker-wide counters.
#[derive(Debug, Default)]
pub struct BrokerStats {
    /// Messages stored by sends.
    pub put_msgs: AtomicU64,
    /// Messages returned by pulls.
    pub get_msgs: AtomicU64,
    /// The sampled history; locked once a second and on runtime-info requests.
    pub window: Mutex<TpsWindow>,
}

impl BrokerStats {
    /// Counts stored messages.
    pub fn add_put(&self, n: u64) {
        self.put_msgs.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts pulled messages.
    pub fn add_get(&self, n: u64) {
        self.get_msgs.fetch_add(n, Ordering::Relaxed);
    }

    /// Takes one sample (called every second).
    pub fn sample(&self, now_ms: i64) {
        let put = self.put_msgs.load(Ordering::Relaxed);
        let get = self.get_msgs.load(Ordering::Relaxed);
        self.window
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(now_ms, put, get);
    }

    /// `"<10s> <60s> <600s>"` figures for puts and gets.
    pub fn tps_strings(&self) -> (String, String) {
        let w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let figures: Vec<(f64, f64)> = [10, 60, 600].iter().map(|s| w.tps(*s)).collect();
        let fmt = |pick: fn(&(f64, f64)) -> f64| {
            figures
                .iter()
                .map(|f| format!("{:.2}", pick(f)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        (fmt(|f| f.0), fmt(|f| f.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tps_over_windows_and_day_rollover() {
        let mut w = TpsWindow::default();
        assert_eq!(w.tps(10), (0.0, 0.0));
        for s in 0..=20i64 {
            w.record(DAY_MS - 20_000 + s * 1000, (s * 100) as u64, (s * 10) as u64);
        }
        let (put, get) = w.tps(10);
        assert!(
            (put - 100.0).abs() < 1e-9 && (get - 10.0).abs() < 1e-9,
            "{put} {get}"
        );
        assert_eq!(w.mornings().0, (2000, 200), "crossed midnight at the last sample");
        for s in 0..700i64 {
            w.record(DAY_MS + 1000 + s * 1000, 5000, 500);
        }
        assert_eq!(w.samples.len(), HISTORY_SECS + 1);
        assert_eq!(w.tps(600), (0.0, 0.0));
    }
}
