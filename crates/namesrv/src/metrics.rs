//! The nameserver's `/metrics` page (`metricsExporterType=PROM` in `namesrv.conf`, an
//! extension: Apache's nameserver has no exporter). Same common labels as a broker's, with
//! `node_type="nameserver"` and `node_id` the nameserver's `ip:listenPort`, and no `cluster`.
//!
//! Recorded per request: `rocketmq_rpc_latency` (as on a broker). Computed per scrape: the
//! route table's sizes and the open connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rmq_metrics::{Exposition, Kind, MetricsConfig, RpcLatency};

use crate::route::RouteTable;

/// The nameserver's recorders.
#[derive(Debug)]
pub(crate) struct NamesrvMetrics {
    enabled: bool,
    /// Every request's latency.
    pub(crate) rpc: RpcLatency,
    /// Open remoting connections, counted by the request server.
    pub(crate) connections: Arc<AtomicUsize>,
    /// `ip:listenPort`.
    node_id: String,
    /// `metricsLabel` and `metricsInDelta` as labels.
    extra: Vec<(String, String)>,
}

impl NamesrvMetrics {
    pub(crate) fn new(config: &MetricsConfig, node_id: String) -> NamesrvMetrics {
        NamesrvMetrics {
            enabled: config.enabled(),
            rpc: RpcLatency::new(config.cardinality_limit),
            connections: Arc::new(AtomicUsize::new(0)),
            node_id,
            extra: config
                .extra_labels()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Whether requests are timed.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }
}

/// Renders the page from the recorders and the route table (the caller holds its read lock
/// only for this call).
pub(crate) fn render(m: &NamesrvMetrics, routes: &RouteTable) -> String {
    let mut common = vec![("node_type", "nameserver"), ("node_id", m.node_id.as_str())];
    common.extend(m.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut e = Exposition::new(&common);
    let (topics, live, groups, clusters) = (
        routes.topic_count(),
        routes.live_count(),
        routes.group_count(),
        routes.cluster_count(),
    );
    e.single(
        "rocketmq_topic_number",
        "Topics with routes on this nameserver.",
        Kind::Gauge,
        topics as f64,
    );
    e.single(
        "rocketmq_namesrv_live_brokers",
        "(minirmq) Broker addresses registered and alive.",
        Kind::Gauge,
        live as f64,
    );
    e.single(
        "rocketmq_namesrv_broker_groups",
        "(minirmq) Broker groups (broker names) known.",
        Kind::Gauge,
        groups as f64,
    );
    e.single(
        "rocketmq_namesrv_clusters",
        "(minirmq) Clusters known.",
        Kind::Gauge,
        clusters as f64,
    );
    e.single(
        "rocketmq_remoting_connections",
        "(minirmq) Open remoting connections (brokers, clients, admin tools).",
        Kind::Gauge,
        m.connections.load(Ordering::Relaxed) as f64,
    );
    m.rpc.render(&mut e);
    e.finish()
}
