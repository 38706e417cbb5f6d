//! [`NameServer`]: the running server — the remoting listener, the dead-broker scan and the KV
//! log — around one [`State`] (`crate::state`), the shared value its tasks and handlers hold.
//!
//! Every task is spawned on a [`TaskTracker`] and stops when the server's [`CancellationToken`] is
//! cancelled; [`NameServer::shutdown`] cancels and waits for them. Dropping a `NameServer` without
//! calling `shutdown` still cancels (so a failed test does not leave a server running), it just
//! does not wait.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use rmq_remoting::net::{serve, ServerConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::{ConfigError, NamesrvConfig};
use crate::kv::{KvError, KvStore};
use crate::metrics::NamesrvMetrics;
use crate::processor::NamesrvHandler;
use crate::route::RouteTable;
use crate::state::State;

/// Why the nameserver cannot start.
#[derive(Debug, thiserror::Error)]
pub enum NamesrvError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The KV file cannot be loaded.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// The Prometheus endpoint cannot be bound (the message names the keys to change).
    #[error(transparent)]
    Metrics(#[from] rmq_metrics::MetricsError),
    /// The listener is unusable.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// A running nameserver.
#[derive(Debug)]
pub struct NameServer {
    state: Arc<State>,
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl NameServer {
    /// Validates `config`, loads the KV file and starts serving on `listener`, all in the
    /// background; returns at once. Must be called inside a tokio runtime. `config.listen_port`
    /// is not used here: the listener is already bound.
    pub fn start(config: NamesrvConfig, listener: TcpListener) -> Result<NameServer, NamesrvError> {
        config.validate()?;
        // A small file read once at start; loading before accepting means no request sees an
        // empty table that later fills in.
        let kv = KvStore::load(&config.kv_config_file())?;
        let local_addr = listener.local_addr()?;
        let metrics_listener = if config.metrics.enabled() {
            let m = &config.metrics;
            let host = if m.prom_host.is_empty() {
                "0.0.0.0"
            } else {
                m.prom_host.as_str()
            };
            Some(rmq_metrics::bind(host, m.prom_port)?)
        } else {
            None
        };
        let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
        let node_id = format!(
            "{}:{}",
            rmq_remoting::net::local_ip::local_ipv4(),
            local_addr.port()
        );
        let metrics = NamesrvMetrics::new(&config.metrics, node_id);
        let server_config = ServerConfig {
            idle_timeout: Some(config.idle_timeout),
            max_buffered_request_bytes: config.max_buffered_request_bytes,
            open_connections: metrics.connections.clone(),
            ..ServerConfig::default()
        };
        let state = Arc::new(State::new(config, kv, metrics));
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let handler = Arc::new(NamesrvHandler::new(state.clone()));
        let serve_cancel = cancel.clone();
        tasks.spawn(async move {
            if let Err(e) = serve(listener, handler, server_config, serve_cancel).await {
                warn!(error = %e, "nameserver listener failed");
            }
        });
        tasks.spawn(scan_brokers(state.clone(), cancel.clone()));
        tasks.spawn(log_kv(state.clone(), cancel.clone()));
        if let Some(listener) = metrics_listener {
            let s = state.clone();
            let render: rmq_metrics::server::Render =
                Arc::new(move || crate::metrics::render(&s.metrics, &s.routes()));
            tasks.spawn(rmq_metrics::serve(listener, render, cancel.clone()));
        }
        tasks.close();
        info!(%local_addr, "nameserver started");
        Ok(NameServer {
            state,
            local_addr,
            metrics_addr,
            cancel,
            tasks,
        })
    }

    /// Where `/metrics` is served (`metricsExporterType=PROM`), else `None`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The route tables, for tests and diagnostics. Do not hold the guard across an `.await`.
    pub fn route_table(&self) -> &RwLock<RouteTable> {
        self.state.route_lock()
    }

    /// The KV store, for tests and diagnostics.
    pub fn kv(&self) -> &KvStore {
        &self.state.kv
    }

    /// The current configuration (UPDATE_NAMESRV_CONFIG may have changed it since start).
    pub fn config(&self) -> NamesrvConfig {
        self.state.config().clone()
    }

    /// Stops accepting, closes connections, stops the timers and waits for them to end.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tasks.wait().await;
        info!(local_addr = %self.local_addr, "nameserver stopped");
    }
}

impl Drop for NameServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Every `scan_interval`, drops brokers silent for longer than the expiry.
async fn scan_brokers(state: Arc<State>, cancel: CancellationToken) {
    loop {
        // Read each round: UPDATE_NAMESRV_CONFIG may change it.
        let interval = state.config().scan_interval;
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
        let now = state.now_ms();
        let expired = state.routes_mut().expire(now);
        if !expired.is_empty() {
            let expiry_ms = state.config().broker_expiry.as_millis();
            for addr in expired {
                warn!(broker = %addr, expiry_ms, "broker expired: no registration within the expiry; removed");
            }
        }
    }
}

/// Every `kv_log_interval`, logs the whole KV table.
async fn log_kv(state: Arc<State>, cancel: CancellationToken) {
    loop {
        let interval = state.config().kv_log_interval;
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
        state.kv.log_all();
    }
}
