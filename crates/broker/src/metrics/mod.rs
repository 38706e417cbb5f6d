//! [`BrokerMetrics`]: what the broker counts for its Prometheus page (`metricsExporterType=PROM`),
//! with RocketMQ 5's metric names, types and labels.
//!
//! Hot paths record into atomics only: a send bumps its topic's counters and size histogram
//! ([`BrokerMetrics::record_in`]), a pull its (topic, group) counters
//! ([`BrokerMetrics::record_out`]), every request the `rocketmq_rpc_latency` histogram. Each
//! finds its series in a sharded map under a shard's read lock; nothing allocates once a series
//! exists. With metrics off, `enabled()` is false and nothing is recorded.
//!
//! Everything else (lag, connections, storage, replication) is computed from the broker's
//! tables when the page is scraped ([`render`]). `is_system` is decided at scrape time too, so
//! the send path does no name comparisons.

pub mod labels;
pub mod render;
pub mod replication;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rmq_metrics::{Buckets, Family, Histogram, MetricsConfig, RpcLatency};
use rmq_remoting::message::properties::{self, keys};

use crate::topics::{DLQ_PREFIX, RETRY_PREFIX};
use replication::OffsetClock;

/// RocketMQ 5's `message_type` label of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// Plain message.
    Normal = 0,
    /// Carries a sharding key (`__SHARDINGKEY`).
    Fifo = 1,
    /// Delay level or timer properties.
    Delay = 2,
    /// A transaction's half message.
    Transaction = 3,
}

impl MessageType {
    /// All, in label order.
    pub const ALL: [MessageType; 4] = [
        MessageType::Normal,
        MessageType::Fifo,
        MessageType::Delay,
        MessageType::Transaction,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            MessageType::Normal => "normal",
            MessageType::Fifo => "fifo",
            MessageType::Delay => "delay",
            MessageType::Transaction => "transaction",
        }
    }

    /// Classifies a send as RocketMQ 5 does: transaction, then sharding key, then delay.
    pub fn of(raw_properties: &str, half: bool) -> MessageType {
        if half {
            return MessageType::Transaction;
        }
        let has = |k: &str| properties::find(raw_properties, k).is_some();
        if has("__SHARDINGKEY") {
            return MessageType::Fifo;
        }
        let delayed = properties::find(raw_properties, keys::DELAY).is_some_and(|d| d != "0");
        if delayed
            || has("__STARTDELIVERTIME")
            || has("TIMER_DELIVER_MS")
            || has("TIMER_DELAY_SEC")
            || has("TIMER_DELAY_MS")
        {
            return MessageType::Delay;
        }
        MessageType::Normal
    }
}

/// Counters of one (topic, message type).
#[derive(Debug)]
pub(crate) struct InCounters {
    pub(crate) messages: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) size: Histogram,
}

/// A topic's send counters, one set per message type.
#[derive(Debug)]
pub(crate) struct TopicIn {
    pub(crate) by_type: [InCounters; 4],
}

impl TopicIn {
    fn new() -> TopicIn {
        TopicIn {
            by_type: std::array::from_fn(|_| InCounters {
                messages: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
                size: Histogram::new(Buckets::MESSAGE_SIZE_BYTES),
            }),
        }
    }
}

/// Pull counters of one (topic, group).
#[derive(Debug, Default)]
pub(crate) struct OutCounters {
    pub(crate) messages: AtomicU64,
    pub(crate) bytes: AtomicU64,
}

/// The broker's metric recorders.
#[derive(Debug)]
pub struct BrokerMetrics {
    enabled: bool,
    /// topic → counters by message type.
    pub(crate) messages_in: Family<String, TopicIn>,
    /// topic → group → counters.
    pub(crate) messages_out: Family<String, Family<String, OutCounters>>,
    /// Every request's latency.
    pub rpc: RpcLatency,
    /// When the commit log reached which offset (replication time lag); fed by a sampler.
    pub(crate) offset_clock: Mutex<OffsetClock>,
    /// Open remoting connections, counted by the request server.
    pub connections: Arc<AtomicUsize>,
    limit: usize,
}

/// Retry and DLQ topics are not counted in and out (RocketMQ 5 leaves them out too).
fn counted(topic: &str) -> bool {
    !topic.starts_with(RETRY_PREFIX) && !topic.starts_with(DLQ_PREFIX)
}

impl BrokerMetrics {
    /// Recorders for `config` (recording nothing when it is not `PROM`).
    pub fn new(config: &MetricsConfig) -> BrokerMetrics {
        let limit = config.cardinality_limit;
        BrokerMetrics {
            enabled: config.enabled(),
            messages_in: Family::new("rocketmq_messages_in_total", 16, limit),
            messages_out: Family::new("rocketmq_messages_out_total", 16, limit),
            rpc: RpcLatency::new(limit),
            offset_clock: Mutex::new(OffsetClock::default()),
            connections: Arc::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// Whether metrics are recorded (`metricsExporterType=PROM`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Counts stored sends: one per body size in `sizes`, each `size` body bytes.
    pub fn record_in(&self, topic: &str, kind: MessageType, sizes: impl Iterator<Item = u64>) {
        if !self.enabled || !counted(topic) {
            return;
        }
        self.messages_in.with(topic, TopicIn::new, |t| {
            let c = &t.by_type[kind as usize];
            let (mut n, mut bytes) = (0, 0);
            for size in sizes {
                c.size.record(size);
                n += 1;
                bytes += size;
            }
            c.messages.fetch_add(n, Ordering::Relaxed);
            c.bytes.fetch_add(bytes, Ordering::Relaxed);
        });
    }

    /// Counts messages a pull of `group` returned from `topic`, `bytes` of stored records.
    pub fn record_out(&self, topic: &str, group: &str, messages: u64, bytes: u64) {
        if !self.enabled || !counted(topic) {
            return;
        }
        let limit = self.limit;
        self.messages_out.with(
            topic,
            || Family::new("rocketmq_messages_out_total", 1, limit),
            |groups| {
                groups.with(group, OutCounters::default, |c| {
                    c.messages.fetch_add(messages, Ordering::Relaxed);
                    c.bytes.fetch_add(bytes, Ordering::Relaxed);
                })
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> String {
        pairs.iter().map(|(k, v)| format!("{k}\u{1}{v}\u{2}")).collect()
    }

    #[test]
    fn message_types_follow_rocketmq_5() {
        assert_eq!(MessageType::of("", false), MessageType::Normal);
        assert_eq!(
            MessageType::of(&props(&[("DELAY", "3")]), false),
            MessageType::Delay
        );
        assert_eq!(
            MessageType::of(&props(&[("DELAY", "0")]), false),
            MessageType::Normal
        );
        assert_eq!(
            MessageType::of(&props(&[("__SHARDINGKEY", "k"), ("DELAY", "3")]), false),
            MessageType::Fifo
        );
        assert_eq!(
            MessageType::of(&props(&[("DELAY", "3")]), true),
            MessageType::Transaction
        );
    }

    #[test]
    fn counts_only_when_enabled_and_never_retry_topics() {
        let off = BrokerMetrics::new(&MetricsConfig::default());
        off.record_in("t", MessageType::Normal, [10u64].into_iter());
        assert!(off.messages_in.is_empty());
        let mut cfg = MetricsConfig::default();
        cfg.set("metricsExporterType", "PROM").unwrap();
        let on = BrokerMetrics::new(&cfg);
        on.record_in("t", MessageType::Normal, [10u64, 20].into_iter());
        on.record_in("%RETRY%g", MessageType::Normal, [10u64].into_iter());
        on.record_out("t", "g", 2, 300);
        on.record_out("%DLQ%g", "g", 1, 1);
        assert_eq!(on.messages_in.len(), 1);
        let (n, b) = on
            .messages_in
            .with("t", TopicIn::new, |t| {
                let c = &t.by_type[0];
                (
                    c.messages.load(Ordering::Relaxed),
                    c.bytes.load(Ordering::Relaxed),
                )
            })
            .unwrap();
        assert_eq!((n, b), (2, 30));
        assert_eq!(on.messages_out.len(), 1);
    }
}
