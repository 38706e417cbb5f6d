//! [`Broker`]: starting and stopping a broker. `start` binds the listener, opens the store
//! (recovering it), loads the config files, and spawns every background task (request server,
//! nameserver registration, offset persistence, client expiry, stats sampling, delayed delivery,
//! the transaction check-back, a slave's metadata sync), each owned by one [`TaskTracker`] and stopped by one
//! [`CancellationToken`]. `shutdown` unregisters from the nameservers, stops the tasks, writes
//! every config file and shuts the store down cleanly.
//!
//! Config files live in `<storePathRootDir>/config/`: `topics.json`, `consumerOffset.json`,
//! `delayOffset.json`, `subscriptionGroup.json`, each replaced atomically ([`crate::tables`]).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::body::{from_fastjson, TopicConfigSerializeWrapper};
use rmq_remoting::net::{serve, RemotingClient, ServerConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::config::{BrokerConfig, ConfigError};
use crate::groups::SubscriptionGroupWrapper;
use crate::offsets::{DelayOffsetBody, OffsetTableBody};
use crate::persist::read_with_backup;
use crate::processor::{client, BrokerHandler};
use crate::state::{now_ms, BrokerState};
use crate::store::{MessageStore, StoreError};
use crate::tables::{write_delay_offsets, write_offsets, write_topics};
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
    /// The Prometheus endpoint cannot be bound (the message names the keys to change).
    #[error(transparent)]
    Metrics(#[from] rmq_metrics::MetricsError),
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
    metrics_addr: Option<SocketAddr>,
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

/// How often the ACL file is checked for changes (Apache's watcher period).
const ACL_WATCH_PERIOD: Duration = Duration::from_secs(5);

/// Reloads the ACL file when it changes; a broken file keeps the last good rules.
async fn watch_acl(state: Arc<BrokerState>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(ACL_WATCH_PERIOD) => {}
        }
        let s = state.clone();
        let outcome =
            tokio::task::spawn_blocking(move || s.acl.get().and_then(|acl| acl.reload_if_changed())).await;
        match outcome {
            Ok(Some(Ok(()))) => info!("ACL file changed; reloaded"),
            Ok(Some(Err(e))) => {
                error!(error = %e, "ACL file changed but cannot be used; the last good rules stay in force until it is fixed")
            }
            Ok(None) => {}
            Err(e) => warn!(error = %e, "ACL reload task failed"),
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
        // Bound before the store opens, so a taken port fails the start at once.
        let metrics_listener = if config.metrics.enabled() {
            let m = &config.metrics;
            let host = if m.prom_host.is_empty() {
                &config.broker_ip1
            } else {
                &m.prom_host
            };
            Some(rmq_metrics::bind(host, m.prom_port)?)
        } else {
            None
        };
        let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
        let store_cfg = config.store_config();
        let store = tokio::task::spawn_blocking(move || MessageStore::open(store_cfg))
            .await
            .map_err(|e| StoreError::Config(format!("store open task failed: {e}")))??;
        let state = Arc::new(BrokerState::new(config, store, addr));
        load_files(&state)?;
        if state.config.acl_enable {
            let path = crate::acl::Acl::file_path(&state.config.rocketmq_home);
            let acl = crate::acl::Acl::open(path.clone()).map_err(|reason| BrokerError::ConfigFile {
                file: path.display().to_string(),
                reason: format!("{reason}; fix the file or set aclEnable=false"),
            })?;
            info!(path = %path.display(), "plain ACL on");
            let _ = state.acl.set(acl);
        }
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
            open_connections: state.metrics.connections.clone(),
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
        if state.acl.get().is_some() {
            tasks.spawn(watch_acl(state.clone(), cancel.clone()));
        }
        tasks.spawn(sample_stats(state.clone(), cancel.clone()));
        if let Some(listener) = metrics_listener {
            let s = state.clone();
            let render: rmq_metrics::server::Render = Arc::new(move || crate::metrics::render::render(&s));
            tasks.spawn(rmq_metrics::serve(listener, render, cancel.clone()));
            if !state.is_slave() {
                tasks.spawn(sample_offsets(state.clone(), cancel.clone()));
            }
        }
        if state.is_slave() {
            tasks.spawn(slave_sync::run(state.clone(), cancel.clone()));
        } else {
            for level in 1..=state.max_delay_level() {
                tasks.spawn(schedule::run_level(state.clone(), level, cancel.clone()));
            }
            tasks.spawn(crate::transaction::check::run(state.clone(), cancel.clone()));
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
            metrics_addr,
            namesrv_clients,
        })
    }

    /// Where `/metrics` is served (`metricsExporterType=PROM`), else `None`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
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

/// Samples the commit log's max offset for the replication time lag of the metrics page.
async fn sample_offsets(state: Arc<BrokerState>, cancel: CancellationToken) {
    let period = Duration::from_millis(crate::metrics::replication::SAMPLE_PERIOD_MS);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {
                let offset = state.store.max_physical_offset();
                state
                    .metrics
                    .offset_clock
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .record(now_ms(), offset);
            }
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
