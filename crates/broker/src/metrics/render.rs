//! The broker's `/metrics` page: the hot-path counters of [`super::BrokerMetrics`] plus the
//! gauges computed now from the broker's tables — connections, consumer lag, storage,
//! replication. Runs on a blocking thread (it stats the store's files).
//!
//! Common labels: `cluster` (brokerClusterName), `node_type="broker"`, `node_id` (brokerName),
//! then `metricsLabel` pairs and `aggregation`. Names, types and labels are RocketMQ 5's; the
//! series RocketMQ 5 does not have (per-queue lag, held pulls, replication, flush time, disk
//! ratio) are marked "(minirmq)" in their help text.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;

use rmq_metrics::{Exposition, Kind};
use rmq_remoting::message::MessageRecord;

use super::labels::{bool_label, consume_mode, language, retry_topic, system_group, system_topic, version};
use super::MessageType;
use crate::ha::Replication;
use crate::state::{now_ms, BrokerState};

/// Renders the whole page.
pub fn render(state: &BrokerState) -> String {
    let cfg = &state.config;
    let mut common = vec![
        ("cluster", cfg.broker_cluster_name.as_str()),
        ("node_type", "broker"),
        ("node_id", cfg.broker_name.as_str()),
    ];
    common.extend(cfg.metrics.extra_labels());
    let mut e = Exposition::new(&common);
    tables(state, &mut e);
    messages_in(state, &mut e);
    messages_out(state, &mut e);
    connections(state, &mut e);
    consumer_lag(state, &mut e);
    state.metrics.rpc.render(&mut e);
    storage(state, &mut e);
    replication(state, &mut e);
    e.finish()
}

fn tables(state: &BrokerState, e: &mut Exposition) {
    e.single(
        "rocketmq_broker_permission",
        "Broker permission bits (brokerPermission: 2 write, 4 read).",
        Kind::Gauge,
        state.permission() as f64,
    );
    e.single(
        "rocketmq_topic_number",
        "Topics on this broker.",
        Kind::Gauge,
        state.topics.len() as f64,
    );
    e.single(
        "rocketmq_consumer_group_number",
        "Subscription groups on this broker.",
        Kind::Gauge,
        state.groups.len() as f64,
    );
    e.single(
        "rocketmq_remoting_connections",
        "(minirmq) Open remoting connections (clients, admin tools, slaves' metadata sync).",
        Kind::Gauge,
        state.metrics.connections.load(Ordering::Relaxed) as f64,
    );
    e.single(
        "rocketmq_held_pulls",
        "(minirmq) Pull requests held by long polling now.",
        Kind::Gauge,
        state.held.held() as f64,
    );
}

fn messages_in(state: &BrokerState, e: &mut Exposition) {
    let mut rows = Vec::new();
    state.metrics.messages_in.for_each(|topic, t| {
        for kind in MessageType::ALL {
            let c = &t.by_type[kind as usize];
            let n = c.messages.load(Ordering::Relaxed);
            if n > 0 {
                rows.push((
                    topic.clone(),
                    kind,
                    n,
                    c.bytes.load(Ordering::Relaxed),
                    c.size.snapshot(),
                ));
            }
        }
    });
    if rows.is_empty() {
        return;
    }
    rows.sort_by(|a, b| (&a.0, a.1 as u8).cmp(&(&b.0, b.1 as u8)));
    let label_sets: Vec<[(&str, &str); 3]> = rows
        .iter()
        .map(|(topic, kind, ..)| {
            [
                ("topic", topic.as_str()),
                ("message_type", kind.label()),
                ("is_system", bool_label(system_topic(topic, &state.config))),
            ]
        })
        .collect();
    e.series(
        "rocketmq_messages_in_total",
        "Messages stored by sends (retry and DLQ topics excluded).",
        Kind::Counter,
        label_sets
            .iter()
            .zip(&rows)
            .map(|(l, row)| (&l[..], row.2 as f64)),
    );
    e.series(
        "rocketmq_throughput_in_total",
        "Message body bytes stored by sends.",
        Kind::Counter,
        label_sets
            .iter()
            .zip(&rows)
            .map(|(l, row)| (&l[..], row.3 as f64)),
    );
    let name = "rocketmq_message_size";
    e.header(
        name,
        "Message body sizes of stored sends, in bytes.",
        Kind::Histogram,
    );
    for (labels, row) in label_sets.iter().zip(&rows) {
        e.histogram(name, labels, &row.4);
    }
}

fn messages_out(state: &BrokerState, e: &mut Exposition) {
    let mut rows = Vec::new();
    state.metrics.messages_out.for_each(|topic, groups| {
        groups.for_each(|group, c| {
            rows.push((
                topic.clone(),
                group.clone(),
                c.messages.load(Ordering::Relaxed),
                c.bytes.load(Ordering::Relaxed),
            ));
        });
    });
    if rows.is_empty() {
        return;
    }
    rows.sort();
    let label_sets: Vec<[(&str, &str); 3]> = rows
        .iter()
        .map(|(topic, group, ..)| {
            let sys = system_topic(topic, &state.config) || system_group(group);
            [
                ("topic", topic.as_str()),
                ("consumer_group", group.as_str()),
                ("is_system", bool_label(sys)),
            ]
        })
        .collect();
    e.series(
        "rocketmq_messages_out_total",
        "Messages returned by pulls (retry and DLQ topics excluded).",
        Kind::Counter,
        label_sets
            .iter()
            .zip(&rows)
            .map(|(l, row)| (&l[..], row.2 as f64)),
    );
    e.series(
        "rocketmq_throughput_out_total",
        "Stored record bytes returned by pulls.",
        Kind::Counter,
        label_sets
            .iter()
            .zip(&rows)
            .map(|(l, row)| (&l[..], row.3 as f64)),
    );
}

fn connections(state: &BrokerState, e: &mut Exposition) {
    let crate::clients::Census { producers, consumers } = state.clients.census();
    let mut by_kind: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (lang, ver) in producers {
        *by_kind.entry((language(lang), version(ver))).or_default() += 1;
    }
    let name = "rocketmq_producer_connections";
    e.header(
        name,
        "Producer connections by client language and version.",
        Kind::Gauge,
    );
    for ((lang, ver), n) in &by_kind {
        e.sample(
            name,
            &[
                ("language", lang),
                ("version", ver),
                ("protocol_type", "remoting"),
            ],
            *n as f64,
        );
    }
    let mut by_group: BTreeMap<(String, &'static str, String, String), usize> = BTreeMap::new();
    for (group, kind, lang, ver) in consumers {
        *by_group
            .entry((group, consume_mode(kind), language(lang), version(ver)))
            .or_default() += 1;
    }
    let name = "rocketmq_consumer_connections";
    e.header(
        name,
        "Consumer connections by group, consume mode, language and version.",
        Kind::Gauge,
    );
    for ((group, mode, lang, ver), n) in &by_group {
        e.sample(
            name,
            &[
                ("consumer_group", group),
                ("language", lang),
                ("version", ver),
                ("consume_mode", mode),
                ("protocol_type", "remoting"),
                ("is_system", bool_label(system_group(group))),
            ],
            *n as f64,
        );
    }
}

/// Lag of one (group, topic): messages behind and the age of the oldest unconsumed one.
struct Lag {
    group: String,
    topic: String,
    is_retry: &'static str,
    is_system: &'static str,
    messages: u64,
    latency_ms: i64,
    queues: Vec<(i32, u64)>,
}

impl Lag {
    fn labels(&self) -> [(&'static str, &str); 4] {
        [
            ("consumer_group", self.group.as_str()),
            ("topic", self.topic.as_str()),
            ("is_retry", self.is_retry),
            ("is_system", self.is_system),
        ]
    }
}

/// Lag of every (group, topic) with committed offsets.
fn lags(state: &BrokerState) -> Vec<Lag> {
    let now = now_ms();
    let mut lags = Vec::new();
    for (key, queues) in state.offsets.to_body().offset_table {
        let Some((topic, group)) = key.split_once('@') else {
            continue;
        };
        let sys = system_topic(topic, &state.config) || system_group(group);
        let mut lag = Lag {
            group: group.to_string(),
            topic: topic.to_string(),
            is_retry: bool_label(retry_topic(topic)),
            is_system: bool_label(sys),
            messages: 0,
            latency_ms: 0,
            queues: Vec::with_capacity(queues.len()),
        };
        for (queue_id, committed) in queues {
            let committed = committed.max(0) as u64;
            let behind = state.store.max_offset(topic, queue_id).saturating_sub(committed);
            if behind > 0 {
                if let Some(t) = state.store.message_store_time(topic, queue_id, committed) {
                    lag.latency_ms = lag.latency_ms.max(now - t);
                }
            }
            lag.messages += behind;
            lag.queues.push((queue_id, behind));
        }
        lags.push(lag);
    }
    lags
}

fn consumer_lag(state: &BrokerState, e: &mut Exposition) {
    let lags = lags(state);
    let name = "rocketmq_consumer_lag_messages";
    e.header(
        name,
        "Messages not yet consumed: sum over queues of max offset minus committed offset.",
        Kind::Gauge,
    );
    for l in &lags {
        e.sample(name, &l.labels(), l.messages as f64);
    }
    let name = "rocketmq_consumer_lag_latency";
    e.header(
        name,
        "Age of the oldest unconsumed message, in milliseconds (0 without lag).",
        Kind::Gauge,
    );
    for l in &lags {
        e.sample(name, &l.labels(), l.latency_ms.max(0) as f64);
    }
    let name = "rocketmq_consumer_queue_lag_messages";
    e.header(
        name,
        "(minirmq) Messages not yet consumed, per queue.",
        Kind::Gauge,
    );
    for l in &lags {
        let [g, t, r, s] = l.labels();
        for (queue_id, behind) in &l.queues {
            let q = queue_id.to_string();
            e.sample(name, &[g, t, ("queue_id", q.as_str()), r, s], *behind as f64);
        }
    }
}

/// Bytes allocated on disk under `dir` (sparse files count what they use).
fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}

fn storage(state: &BrokerState, e: &mut Exposition) {
    let store = &state.store;
    let labels = [("storage_type", "local"), ("storage_medium", "disk")];
    let max = store.max_physical_offset();
    e.series(
        "rocketmq_storage_size",
        "Bytes the store uses on disk (commit log, consume queues, index).",
        Kind::Gauge,
        [(&labels[..], disk_bytes(&state.config.store_path_root_dir) as f64)],
    );
    e.series(
        "rocketmq_storage_flush_behind_bytes",
        "Commit-log bytes written but not yet synced to disk.",
        Kind::Gauge,
        [(&labels[..], max.saturating_sub(store.flushed_offset()) as f64)],
    );
    e.series(
        "rocketmq_storage_dispatch_behind_bytes",
        "Commit-log bytes without consume-queue entries yet.",
        Kind::Gauge,
        [(&labels[..], max.saturating_sub(store.dispatched_offset()) as f64)],
    );
    let earliest = store
        .read_record(store.commit_log_min_offset())
        .and_then(|r| MessageRecord::decode(&r, false).ok())
        .map(|(rec, _)| rec.store_timestamp);
    e.series(
        "rocketmq_storage_message_reserve_time",
        "Age of the oldest retained message, in milliseconds (0 when the log is empty).",
        Kind::Gauge,
        [(&labels[..], earliest.map_or(0, |t| (now_ms() - t).max(0)) as f64)],
    );
    e.series(
        "rocketmq_storage_disk_used_ratio",
        "(minirmq) Used fraction of the file system holding the store.",
        Kind::Gauge,
        [(&labels[..], store.disk_used_ratio())],
    );
    e.series(
        "rocketmq_storage_commitlog_max_offset",
        "(minirmq) Commit-log max physical offset (bytes ever written).",
        Kind::Gauge,
        [(&labels[..], max as f64)],
    );
    e.header(
        "rocketmq_storage_flush_latency",
        "(minirmq) Time of each commit-log fdatasync, in milliseconds.",
        Kind::Histogram,
    );
    e.histogram(
        "rocketmq_storage_flush_latency",
        &labels,
        &store.stats().flush_latency.snapshot(),
    );
}

fn replication(state: &BrokerState, e: &mut Exposition) {
    let Some(Replication::Master(service)) = state.replication.get() else {
        return;
    };
    let status = service.status();
    e.single(
        "rocketmq_ha_connected_slaves",
        "(minirmq) Slaves connected to this master's HA port.",
        Kind::Gauge,
        status.slaves.len() as f64,
    );
    let now = now_ms();
    let clock = state
        .metrics
        .offset_clock
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let rows: Vec<(String, u64, i64)> = status
        .slaves
        .iter()
        .map(|s| {
            let acked = s.acked_offset.unwrap_or(0);
            (
                s.addr.to_string(),
                s.lag,
                clock.lag_ms(now, acked, status.master_offset),
            )
        })
        .collect();
    drop(clock);
    e.header(
        "rocketmq_ha_slave_lag_bytes",
        "(minirmq) Commit-log bytes a slave has not acknowledged yet.",
        Kind::Gauge,
    );
    for (addr, bytes, _) in &rows {
        e.sample(
            "rocketmq_ha_slave_lag_bytes",
            &[("slave_addr", addr)],
            *bytes as f64,
        );
    }
    e.header(
        "rocketmq_ha_slave_lag_time",
        "(minirmq) Age of the oldest commit-log byte a slave lacks, in milliseconds (200 ms resolution).",
        Kind::Gauge,
    );
    for (addr, _, ms) in &rows {
        e.sample("rocketmq_ha_slave_lag_time", &[("slave_addr", addr)], *ms as f64);
    }
}
