//! [`State`]: the one value the nameserver's handler and background tasks share — the config,
//! the route tables, the KV table, the start instant and the metrics — with the reason for each
//! lock written on its field.

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::time::Instant;

use crate::config::NamesrvConfig;
use crate::kv::KvStore;
use crate::metrics::NamesrvMetrics;
use crate::route::RouteTable;

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
    // Atomics only; see `crate::metrics`.
    pub(crate) metrics: NamesrvMetrics,
}

impl State {
    /// The state of a server starting now with `config`, the loaded KV table and its metrics;
    /// the route tables start empty.
    pub(crate) fn new(config: NamesrvConfig, kv: KvStore, metrics: NamesrvMetrics) -> State {
        State {
            metrics,
            routes: RwLock::new(RouteTable::new(config.broker_expiry)),
            config: RwLock::new(config),
            kv,
            started: Instant::now(),
        }
    }

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

    /// The route tables' lock itself, for [`crate::NameServer::route_table`].
    pub(crate) fn route_lock(&self) -> &RwLock<RouteTable> {
        &self.routes
    }

    /// Milliseconds since the server started.
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}
