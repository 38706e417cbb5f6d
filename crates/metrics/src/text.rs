//! [`Exposition`]: writes the Prometheus text format (version 0.0.4) that `promtool check
//! metrics` and every Prometheus server read.
//!
//! ```text
//! # HELP rocketmq_messages_in_total Messages stored by sends.
//! # TYPE rocketmq_messages_in_total counter
//! rocketmq_messages_in_total{cluster="c",node_type="broker",node_id="b",topic="t",...} 12
//! # TYPE rocketmq_rpc_latency histogram
//! rocketmq_rpc_latency_bucket{...,le="1"} 3      cumulative, then le="+Inf"
//! rocketmq_rpc_latency_sum{...} 1.25              in the metric's unit
//! rocketmq_rpc_latency_count{...} 3
//! ```
//!
//! Every sample carries the common labels first (`cluster`, `node_type`, `node_id`, the
//! `metricsLabel` pairs, `aggregation`), then its own. Label values are escaped (`\\`, `\"`,
//! `\n`), so names taken from peers cannot break the page. Each metric is written as one block:
//! its HELP and TYPE lines, then all its samples.

use std::fmt::Write;

use crate::histogram::HistogramSnapshot;

/// The metric types used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (name ends in `_total`).
    Counter,
    /// A value now.
    Gauge,
    /// Buckets, sum and count.
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A page being written.
#[derive(Debug)]
pub struct Exposition {
    out: String,
    /// The common labels, rendered once: `k="v",k="v"`.
    common: String,
}

/// Appends `v` escaped for a label value.
fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

impl Exposition {
    /// An empty page whose samples all carry `common` labels (in this order).
    pub fn new(common: &[(&str, &str)]) -> Exposition {
        let mut c = String::new();
        for (i, (k, v)) in common.iter().enumerate() {
            if i > 0 {
                c.push(',');
            }
            c.push_str(k);
            c.push_str("=\"");
            escape_into(&mut c, v);
            c.push('"');
        }
        Exposition {
            out: String::with_capacity(16 * 1024),
            common: c,
        }
    }

    /// Starts the block of metric `name`.
    pub fn header(&mut self, name: &str, help: &str, kind: Kind) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.name());
    }

    fn labels(&mut self, labels: &[(&str, &str)], le: Option<f64>) {
        self.out.push('{');
        self.out.push_str(&self.common);
        let mut first = self.common.is_empty();
        for (k, v) in labels {
            if !first {
                self.out.push(',');
            }
            first = false;
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_into(&mut self.out, v);
            self.out.push('"');
        }
        if let Some(le) = le {
            if !first {
                self.out.push(',');
            }
            self.out.push_str("le=\"");
            write_value(&mut self.out, le);
            self.out.push('"');
        }
        self.out.push('}');
    }

    /// One counter or gauge sample.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        self.labels(labels, None);
        self.out.push(' ');
        write_value(&mut self.out, value);
        self.out.push('\n');
    }

    /// A whole counter or gauge block: the header, then one sample per `(labels, value)`.
    pub fn series<'l>(
        &mut self,
        name: &str,
        help: &str,
        kind: Kind,
        samples: impl IntoIterator<Item = (&'l [(&'l str, &'l str)], f64)>,
    ) {
        self.header(name, help, kind);
        for (labels, value) in samples {
            self.sample(name, labels, value);
        }
    }

    /// A metric with a single unlabelled (common labels only) sample: header and value.
    pub fn single(&mut self, name: &str, help: &str, kind: Kind, value: f64) {
        self.header(name, help, kind);
        self.sample(name, &[], value);
    }

    /// The `_bucket`, `_sum` and `_count` samples of one histogram series.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &HistogramSnapshot) {
        let bucket = format!("{name}_bucket");
        for (le, count) in &h.buckets {
            self.out.push_str(&bucket);
            self.labels(labels, Some(*le));
            let _ = writeln!(self.out, " {count}");
        }
        self.out.push_str(&bucket);
        self.labels(labels, Some(f64::INFINITY));
        let _ = writeln!(self.out, " {}", h.count);
        self.sample(&format!("{name}_sum"), labels, h.sum);
        self.out.push_str(name);
        self.out.push_str("_count");
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", h.count);
    }

    /// The finished page.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::{Buckets, Histogram};

    #[test]
    fn writes_common_labels_first_and_escapes_values() {
        let mut e = Exposition::new(&[("cluster", "C"), ("node_type", "broker")]);
        e.header("rocketmq_messages_in_total", "Messages in.", Kind::Counter);
        e.sample("rocketmq_messages_in_total", &[("topic", "a\"b\\c\nd")], 3.0);
        let page = e.finish();
        assert_eq!(
            page,
            "# HELP rocketmq_messages_in_total Messages in.\n# TYPE rocketmq_messages_in_total counter\n\
             rocketmq_messages_in_total{cluster=\"C\",node_type=\"broker\",topic=\"a\\\"b\\\\c\\nd\"} 3\n"
        );
    }

    #[test]
    fn histograms_are_cumulative_and_end_with_inf() {
        let h = Histogram::new(Buckets::MESSAGE_SIZE_BYTES);
        h.record(10);
        h.record(10 << 20);
        let mut e = Exposition::new(&[]);
        e.header("rocketmq_message_size", "Sizes.", Kind::Histogram);
        e.histogram("rocketmq_message_size", &[("topic", "t")], &h.snapshot());
        let page = e.finish();
        assert!(
            page.contains("rocketmq_message_size_bucket{topic=\"t\",le=\"1024\"} 1\n"),
            "{page}"
        );
        assert!(page.contains("rocketmq_message_size_bucket{topic=\"t\",le=\"4194304\"} 1\n"));
        assert!(page.contains("rocketmq_message_size_bucket{topic=\"t\",le=\"+Inf\"} 2\n"));
        assert!(page.contains("rocketmq_message_size_sum{topic=\"t\"} 10485770\n"));
        assert!(page.contains("rocketmq_message_size_count{topic=\"t\"} 2\n"));
        let mut e = Exposition::new(&[]);
        e.histogram("x", &[], &h.snapshot());
        assert!(e.finish().starts_with("x_bucket{le=\"1024\"} 1\n"));
    }
}
