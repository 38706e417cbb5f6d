//! [`NameServer`]: the running server — the remoting listener, the dead-broker scan and the KV
//! log — and [`State`], the one shared value its tasks and handlers hold.
//!
//! Every task is spawned on a [`TaskTracker`] and stops when the server's [`CancellationToken`] is
//! cancelled; [`NameServer::shutdown`] cancels and waits for them. Dropping a `NameServer` without
//! calling `shutdown` still cancels (so a failed test does not leave a server running), it just
//! does not wait.

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rmq_remoting::net::{serve, ServerConfig};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::{ConfigError, NamesrvConfig};
use crate::kv::{KvError, KvStore};
use crate::processor::NamesrvHandler;
use crate::route::RouteTable;

/// Why the nameserver cannot start.
#[derive(Debug, thiserror::Error)]
pub enum NamesrvError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The KV file cannot be loaded.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// The listener is unusable.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Shared by the handler and the background tasks.
#[derive(Debug)]
pub(crate) struct State {
    // Changed only by UPDATE_NAMESRV_CONFIG; read by route lookups (orderMessageEnable) and timers.
    config: RwLock<NamesrvConfig>,
    // One lock for the four route tables: a registration must update them together, and route
    // lookups (the hot path) take it shared, so they never wait behind one another.
    routes: RwLock<RouteTable>,
    // The KV table has its own lock inside; it is independent of the routes.
    pub(crate) kv: KvStore,
    // Liveness uses a monotonic clock: a wall-clock jump must not expire every broker.
    started: Instant,
}

impl State {
    pub(crate) fn config(&self) -> RwLockReadGuard<'_, NamesrvConfig> {
        self.config.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn config_mut(&self) -> RwLockWriteGuard<'_, NamesrvConfig> {
        self.config.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn routes(&self) -> RwLockReadGuard<'_, RouteTable> {
        self.routes.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn routes_mut(&self) -> RwLockWriteGuard<'_, RouteTable> {
        self.routes.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Milliseconds since the server started.
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A running nameserver.
#[derive(Debug)]
pub struct NameServer {
    state: Arc<State>,
    local_addr: SocketAddr,
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
        let server_config = ServerConfig {
            idle_timeout: Some(config.idle_timeout),
            ..ServerConfig::default()
        };
        let state = Arc::new(State {
            routes: RwLock::new(RouteTable::new(config.broker_expiry)),
            config: RwLock::new(config),
            kv,
            started: Instant::now(),
        });
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
        tasks.close();
        info!(%local_addr, "nameserver started");
        Ok(NameServer {
            state,
            local_addr,
            cancel,
            tasks,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The route tables, for tests and diagnostics. Do not hold the guard across an `.await`.
    pub fn route_table(&self) -> &RwLock<RouteTable> {
        &self.state.routes
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
