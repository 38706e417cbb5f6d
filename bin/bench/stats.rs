//! What every `rmq-bench` mode measures and how it reports it.
//!
//! [`Recorder`] is shared by the tasks of one run: message counters and two latency histograms
//! (µs), one for the current second and one for the whole run, behind one mutex that is taken
//! once per batch of replies or once per consumed message. [`live`] prints a line each second
//! to stderr (messages/s, p50/p99, failures) from the interval histogram; [`Summary`] is the
//! final report, printed as text ending in a `RESULT key=value …` line for scripts, or as one
//! JSON object with `--json`. Live lines go to stderr so that stdout holds only the summary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

/// A histogram of 1 µs to 60 s at three significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

struct Hists {
    interval: Histogram<u64>,
    total: Histogram<u64>,
}

/// Counters and latencies of one run.
pub struct Recorder {
    ok: AtomicU64,
    failed: AtomicU64,
    // Guards the two histograms only; held for one batch of `record` calls.
    hists: Mutex<Hists>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            hists: Mutex::new(Hists {
                interval: new_histogram(),
                total: new_histogram(),
            }),
        }
    }
}

impl Recorder {
    /// Counts `messages` done and records `latencies_us` (one per request or per message).
    pub fn record(&self, messages: u64, latencies_us: &[u64]) {
        self.ok.fetch_add(messages, Ordering::Relaxed);
        if latencies_us.is_empty() {
            return;
        }
        let mut h = self.hists.lock().expect("histogram lock");
        for &us in latencies_us {
            let us = us.clamp(1, 60_000_000);
            let _ = h.interval.record(us);
            let _ = h.total.record(us);
        }
    }

    /// Counts `messages` failed; prints the first few reasons.
    pub fn fail(&self, messages: u64, what: impl FnOnce() -> String) {
        if self.failed.fetch_add(messages, Ordering::Relaxed) < 5 {
            eprintln!("failed: {}", what());
        }
    }

    /// Messages done so far.
    pub fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Messages failed so far.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// The whole run's latencies.
    pub fn total(&self) -> Histogram<u64> {
        self.hists.lock().expect("histogram lock").total.clone()
    }

    fn take_interval(&self) -> Histogram<u64> {
        let mut h = self.hists.lock().expect("histogram lock");
        let out = h.interval.clone();
        h.interval.reset();
        out
    }
}

/// Prints one line per second to stderr until `stop` is cancelled:
/// `[  3s] send: 123456 msg/s  p50 120 us  p99 900 us  failed 0`.
pub async fn live(label: String, rec: std::sync::Arc<Recorder>, stop: CancellationToken) {
    let start = Instant::now();
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let (mut last_ok, mut last_at) = (0u64, start);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        let ok = rec.ok();
        let h = rec.take_interval();
        let rate = (ok - last_ok) as f64 / now.duration_since(last_at).as_secs_f64();
        (last_ok, last_at) = (ok, now);
        let lat = if h.is_empty() {
            "p50 - p99 -".to_string()
        } else {
            format!(
                "p50 {} us  p99 {} us",
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99)
            )
        };
        eprintln!(
            "[{:>4.0}s] {label}: {rate:.0} msg/s  {lat}  failed {}",
            now.duration_since(start).as_secs_f64(),
            rec.failed()
        );
    }
}

/// The final report of a run: ordered `key = value` fields.
#[derive(Default)]
pub struct Summary {
    // In insertion order (the `RESULT` line keeps it; JSON objects need not).
    fields: Vec<(String, Value)>,
    /// Human lines printed before the `RESULT` line in text mode.
    lines: Vec<String>,
}

impl Summary {
    /// A summary of `mode`.
    pub fn new(mode: &str) -> Self {
        let mut s = Summary::default();
        s.set("mode", mode);
        s
    }

    /// Adds or replaces a field.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        let value = value.into();
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.fields.push((key.to_string(), value)),
        }
        self
    }

    /// Adds a human-readable line (text mode only).
    pub fn line(&mut self, line: String) -> &mut Self {
        self.lines.push(line);
        self
    }

    /// Adds `ok`, `failed`, `secs` and `tps` (messages per second).
    pub fn counts(&mut self, ok: u64, failed: u64, secs: f64) -> &mut Self {
        let tps = if secs > 0.0 { ok as f64 / secs } else { 0.0 };
        self.set("ok", ok)
            .set("failed", failed)
            .set("secs", (secs * 100.0).round() / 100.0)
            .set("tps", tps.round() as u64)
    }

    /// Adds the percentiles of `h` as `<prefix>p50_us` … `<prefix>max_us`.
    pub fn latency(&mut self, prefix: &str, h: &Histogram<u64>) -> &mut Self {
        let q = |q: f64| if h.is_empty() { 0 } else { h.value_at_quantile(q) };
        self.set(&format!("{prefix}p50_us"), q(0.5))
            .set(&format!("{prefix}p90_us"), q(0.9))
            .set(&format!("{prefix}p99_us"), q(0.99))
            .set(&format!("{prefix}p999_us"), q(0.999))
            .set(&format!("{prefix}max_us"), if h.is_empty() { 0 } else { h.max() })
    }

    /// Prints the summary to stdout: one JSON object, or the lines then `RESULT k=v …`.
    pub fn print(&self, json: bool) {
        if json {
            let map: Map<String, Value> = self.fields.iter().cloned().collect();
            println!("{}", Value::Object(map));
            return;
        }
        for l in &self.lines {
            println!("{l}");
        }
        let kv: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect();
        println!("RESULT {}", kv.join(" "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_counts_and_resets_the_interval_only() {
        let r = Recorder::default();
        r.record(32, &[100]);
        r.record(1, &[0, 200]);
        r.fail(2, || "x".into());
        assert_eq!((r.ok(), r.failed()), (33, 2));
        assert_eq!(r.take_interval().len(), 3);
        assert_eq!(r.take_interval().len(), 0);
        assert_eq!(r.total().len(), 3);
        assert_eq!(r.total().min(), 1, "a zero latency is recorded as 1 us");
    }

    #[test]
    fn summary_keeps_field_order_in_the_result_line() {
        let mut s = Summary::new("send");
        s.counts(10, 0, 2.0).set("size", 1024);
        let mut h = new_histogram();
        h.record(50).unwrap();
        s.latency("", &h);
        let keys: Vec<&str> = s.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys[..6], ["mode", "ok", "failed", "secs", "tps", "size"]);
        let get = |k: &str| s.fields.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(get("tps"), Some(Value::from(5)));
        assert_eq!(get("p99_us"), Some(Value::from(50)));
    }
}
