//! [`Broker`]: starting and stopping a broker. `start` binds the listener, opens the store
//! (recovering it), loads the config files, and spawns every background task (request server,
//! nameserver registration, offset persistence, client expiry, stats sampling, delayed delivery,
//! a slave's metadata sync), each owned by one [`TaskTracker`] and stopped by one
//! [`CancellationToken`]. `shutdown` unregisters from the nameservers, stops the tasks, writes
//! every config file and shuts the store down cleanly.
//!
//! Config files live in `<storePathRootDir>/config/`: `topics.json`, `consumerOffset.json`,
//! `delayOffset.json`, `subscriptionGroup.json`, each replaced atomically ([`crate::persist`]).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::body::{from_fastjson, TopicConfigSerializeWrapper};
use rmq_remoting::net::{serve, RemotingClient, ServerConfig};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::config::{BrokerConfig, ConfigError};
use crate::groups::SubscriptionGroupWrapper;
use crate::offsets::{DelayOffsetBody, OffsetTableBody};
use crate::persist::{read_with_backup, write_atomic};
use crate::processor::{client, BrokerHandler};
use crate::state::{now_ms, BrokerState};
use crate::store::{MessageStore, StoreError};
use crate::{registration, schedule, slave_sync};

/// Why a broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listen port cannot be bound.
    #[error("cannot listen on port {port}: {source}; is another broker running there?")]
    Bind {
        /// The port.
        port: u16,
        /// The cause.
        source: std::io::Error,
    },
    /// The store cannot be opened.
    #[error("cannot open the message store: {0}")]
    Store(#[from] StoreError),
    /// A config file exists but cannot be read or parsed.
    #[error("cannot load {file}: {reason}")]
    ConfigFile {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

/// A running broker.
pub struct Broker {
    state: Arc<BrokerState>,
    tasks: TaskTracker,
    cancel: CancellationToken,
    addr: SocketAddr,
    namesrv_clients: Vec<(String, RemotingClient)>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn load_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, BrokerError> {
    let bad = |reason: String| BrokerError::ConfigFile {
        file: path.display().to_string(),
        reason,
    };
    match read_with_backup(path).map_err(|e| bad(e.to_string()))? {
        None => Ok(None),
        Some(text) => from_fastjson(text.as_bytes())
            .map(Some)
            .map_err(|e| bad(e.to_string())),
    }
}

/// Writes `name` with a snapshot taken under the file lock, so that of two writers racing (a
/// handler persisting its change, the periodic flush) the later write holds the later snapshot.
fn write_json<T: Serialize>(
    state: &BrokerState,
    name: &str,
    snapshot: impl FnOnce() -> T,
) -> std::io::Result<()> {
    let _guard = state.file_lock.lock().unwrap_or_else(|e| e.into_inner());
    let text = serde_json::to_string_pretty(&snapshot()).map_err(std::io::Error::other)?;
    write_atomic(&state.config_dir.join(name), &text)
}

/// Writes `topics.json` (blocking).
pub fn write_topics(state: &BrokerState) -> std::io::Result<()> {
    write_json(state, "topics.json", || state.topics.wrapper())
}

/// Writes `subscriptionGroup.json` now (blocking): after an admin change, before it is
/// acknowledged.
pub fn write_groups(state: &BrokerState) -> std::io::Result<()> {
    state
        .groups
        .dirty()
        .save_now(|| write_json(state, "subscriptionGroup.json", || state.groups.wrapper()))
}

/// Writes the consumer offsets and subscription groups if they changed (blocking).
pub fn write_offsets(state: &BrokerState) -> std::io::Result<()> {
    state
        .offsets
        .dirty()
        .save_if_dirty(|| write_json(state, "consumerOffset.json", || state.offsets.to_body()))?;
    state
        .groups
        .dirty()
        .save_if_dirty(|| write_json(state, "subscriptionGroup.json", || state.groups.wrapper()))
}

/// Writes the delay offsets if they changed (blocking).
pub fn write_delay_offsets(state: &BrokerState) -> std::io::Result<()> {
    state
        .delay_offsets
        .dirty()
        .save_if_dirty(|| write_json(state, "delayOffset.json", || state.delay_offsets.to_body()))
}

fn load_files(state: &BrokerState) -> Result<(), BrokerError> {
    let dir = &state.config_dir;
    if let Some(w) = load_json::<TopicConfigSerializeWrapper>(&dir.join("topics.json"))? {
        state.topics.load(w);
    }
    if let Some(o) = load_json::<OffsetTableBody>(&dir.join("consumerOffset.json"))? {
        state.offsets.load(o);
        state.offsets.dirty().take();
    }
    if let Some(d) = load_json::<DelayOffsetBody>(&dir.join("delayOffset.json"))? {
        state.delay_offsets.load(d);
    }
    if let Some(g) = load_json::<SubscriptionGroupWrapper>(&dir.join("subscriptionGroup.json"))? {
        state.groups.load(g);
    }
    Ok(())
}

/// Runs `job` on a blocking thread every `period` until `cancel`.
async fn periodic(
    state: Arc<BrokerState>,
    period: Duration,
    cancel: CancellationToken,
    job: fn(&BrokerState) -> std::io::Result<()>,
    what: &'static str,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        let s = state.clone();
        match tokio::task::spawn_blocking(move || job(&s)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, what, "periodic persistence failed; will retry"),
            Err(e) => warn!(error = %e, what, "periodic persistence task failed"),
        }
    }
}

impl Broker {
    /// Binds, opens the store, loads the config files and starts every task; returns at once.
    pub async fn start(config: BrokerConfig) -> Result<Broker, BrokerError> {
        config.validate()?;
        let listener = TcpListener::bind(("0.0.0.0", config.listen_port))
            .await
            .map_err(|source| BrokerError::Bind {
                port: config.listen_port,
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| BrokerError::Bind {
                port: config.listen_port,
                source,
            })?
            .port();
        let ip: IpAddr = config.broker_ip1.parse().map_err(|_| ConfigError {
            key: "brokerIP1",
            reason: format!("{:?} is not an IP address", config.broker_ip1),
        })?;
        let addr = SocketAddr::new(ip, port);
        let store_cfg = config.store_config();
        let store = tokio::task::spawn_blocking(move || MessageStore::open(store_cfg))
            .await
            .map_err(|e| StoreError::Config(format!("store open task failed: {e}")))??;
        let state = Arc::new(BrokerState::new(config, store, addr));
        load_files(&state)?;
        {
            let s = state.clone();
            tokio::task::spawn_blocking(move || write_topics(&s))
                .await
                .map_err(|e| BrokerError::ConfigFile {
                    file: "topics.json".into(),
                    reason: e.to_string(),
                })?
                .map_err(|e| BrokerError::ConfigFile {
                    file: "topics.json".into(),
                    reason: e.to_string(),
                })?;
        }
        let cancel = state.shutdown.clone();
        let tasks = TaskTracker::new();
        let server_cfg = ServerConfig {
            max_connections: state.config.max_connections,
            idle_timeout: Some(state.config.channel_expired_timeout),
            ..ServerConfig::default()
        };
        // HA (replication): binds the HA port before the first registration announces it.
        crate::ha::replication::start(&state, cancel.clone(), &tasks)
            .await
            .map_err(|source| BrokerError::Bind {
                port: state.config.ha_port(),
                source,
            })?;
        let handler = Arc::new(BrokerHandler::new(state.clone()));
        if let Some(vip) = bind_vip(state.config.listen_port).await {
            tasks.spawn(serve_task(
                vip,
                handler.clone(),
                server_cfg.clone(),
                cancel.clone(),
            ));
        }
        tasks.spawn(serve_task(listener, handler, server_cfg, cancel.clone()));
        let namesrv_clients = registration::clients_for(&state.config.namesrv_addrs);
        for (ns, client) in &namesrv_clients {
            tasks.spawn(registration::register_loop(
                state.clone(),
                ns.clone(),
                client.clone(),
                cancel.clone(),
            ));
        }
        let cfg = &state.config;
        tasks.spawn(periodic(
            state.clone(),
            cfg.flush_consumer_offset_interval,
            cancel.clone(),
            write_offsets,
            "consumer offsets",
        ));
        tasks.spawn(periodic(
            state.clone(),
            cfg.flush_delay_offset_interval,
            cancel.clone(),
            write_delay_offsets,
            "delay offsets",
        ));
        tasks.spawn(expire_clients(state.clone(), cancel.clone()));
        tasks.spawn(sample_stats(state.clone(), cancel.clone()));
        if state.is_slave() {
            tasks.spawn(slave_sync::run(state.clone(), cancel.clone()));
        } else {
            for level in 1..=state.max_delay_level() {
                tasks.spawn(schedule::run_level(state.clone(), level, cancel.clone()));
            }
        }
        info!(
            addr = %state.broker_addr,
            name = %state.config.broker_name,
            role = state.config.broker_role.name(),
            namesrv = ?state.config.namesrv_addrs,
            "broker started"
        );
        Ok(Broker {
            state,
            tasks,
            cancel,
            addr,
            namesrv_clients,
        })
    }

    /// `brokerIP1:port` as clients reach it.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ip:port` as registered with the nameservers.
    pub fn broker_addr(&self) -> String {
        self.state.broker_addr.clone()
    }

    /// The shared state (tests, replication wiring).
    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// Spawns a task owned by the broker (stopped and awaited by [`Self::shutdown`]).
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Graceful stop: unregister, stop tasks, persist offsets and topics, shut the store down.
    pub async fn shutdown(self) {
        registration::unregister_all(&self.state, &self.namesrv_clients).await;
        self.cancel.cancel();
        self.state.held.wake_all();
        self.tasks.close();
        if tokio::time::timeout(Duration::from_secs(10), self.tasks.wait())
            .await
            .is_err()
        {
            warn!("some broker tasks did not stop within 10 s");
        }
        for (_, c) in &self.namesrv_clients {
            c.shutdown();
        }
        let state = self.state.clone();
        let done = tokio::task::spawn_blocking(move || {
            state.offsets.dirty().mark();
            state.groups.dirty().mark();
            state.delay_offsets.dirty().mark();
            let files = write_offsets(&state)
                .and_then(|()| write_delay_offsets(&state))
                .and_then(|()| write_topics(&state));
            if let Err(e) = files {
                error!(error = %e, "cannot write config files at shutdown");
            }
            if let Err(e) = state.store.shutdown() {
                error!(error = %e, "store shutdown failed");
            }
        })
        .await;
        if let Err(e) = done {
            error!(error = %e, "shutdown task failed");
        }
        info!(addr = %self.addr, "broker stopped");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // A broker dropped without `shutdown` still stops its tasks.
        self.cancel.cancel();
    }
}

async fn serve_task(
    listener: TcpListener,
    handler: Arc<BrokerHandler>,
    cfg: ServerConfig,
    cancel: CancellationToken,
) {
    if let Err(e) = serve(listener, handler, cfg, cancel).await {
        error!(error = %e, "request server failed");
    }
}

/// The VIP channel (Apache's `fastListenPort`, `listenPort` − 2): Java clients with
/// `vipChannelEnabled` (the default before 4.5) send to it. Same handler, same limits. A port
/// that cannot be bound costs only those clients, so it is a warning, not a failed start; with
/// `listenPort=0` (tests) there is none.
async fn bind_vip(listen_port: u16) -> Option<TcpListener> {
    let port = listen_port.checked_sub(2).filter(|p| *p > 0)?;
    match TcpListener::bind(("0.0.0.0", port)).await {
        Ok(l) => {
            info!(port, "VIP channel listening (listenPort - 2)");
            Some(l)
        }
        Err(e) => {
            warn!(port, error = %e, "cannot listen on the VIP port (listenPort - 2); clients with vipChannelEnabled will not reach this broker");
            None
        }
    }
}

/// Every 10 s (more often for a short `channelExpiredTimeout`), drops client channels silent for
/// `channelExpiredTimeout` and tells their groups' other members.
async fn expire_clients(state: Arc<BrokerState>, cancel: CancellationToken) {
    let expiry = state.config.channel_expired_timeout;
    let timeout = expiry.as_millis() as i64;
    let scan = (expiry / 4).clamp(Duration::from_millis(100), Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(scan) => {}
        }
        for note in state.clients.expire(now_ms(), timeout) {
            client::notify(&state, note);
        }
    }
}

/// Samples the message counters once a second for the TPS figures.
async fn sample_stats(state: Arc<BrokerState>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => state.stats.sample(now_ms()),
        }
    }
}
