//! The master side (RocketMQ's `HAService` + `AcceptSocketService`): accepts slaves on the HA port,
//! runs one [`super::connection`] per slave, keeps the table of connected slaves and their
//! acknowledged offsets, and answers the SYNC_MASTER wait through [`GroupTransfer`].
//!
//! Invariants: a slave is in the table exactly while its connection task runs; the group
//! transfer's slave count follows the table; every task is tracked and exits on cancel.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::group_transfer::{GroupTransfer, ReplicaStatus};
use super::shared::Shared;
use super::{HaConfig, ReplicaLog};

/// One connected slave as the master sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaveStatus {
    /// The slave's socket address.
    pub addr: SocketAddr,
    /// The last offset it reported (`None` before its first report).
    pub acked_offset: Option<u64>,
    /// Bytes it is behind the master's max offset.
    pub lag: u64,
}

/// Replication progress on a master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterStatus {
    /// The master's commit-log max offset.
    pub master_offset: u64,
    /// The highest offset any slave acknowledged (`push2SlaveMaxOffset`).
    pub acked_max: u64,
    /// Connected slaves.
    pub slaves: Vec<SlaveStatus>,
}

/// Handle to the master's replication service; cheap to clone.
#[derive(Clone)]
pub struct HaService {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
}

impl HaService {
    /// Starts accepting slaves on `listener`. Tasks are spawned on `tracker` and end on `cancel`.
    pub fn start(
        listener: TcpListener,
        log: Arc<dyn ReplicaLog>,
        config: HaConfig,
        cancel: CancellationToken,
        tracker: &TaskTracker,
    ) -> std::io::Result<HaService> {
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            log,
            group: GroupTransfer::new(config.slave_fall_behind_max, config.slave_timeout),
            config,
            new_data: Notify::new(),
            slaves: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
        });
        let service = HaService { shared, local_addr };
        tracker.spawn(accept_loop(
            listener,
            service.shared.clone(),
            cancel.clone(),
            tracker.clone(),
        ));
        tracker.spawn(log_progress(service.clone(), cancel));
        info!(addr = %local_addr, "HA service listening for slaves");
        Ok(service)
    }

    /// The HA port's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Wakes the connection writers after an append, so slaves get it without waiting for the
    /// next poll.
    pub fn notify_appended(&self) {
        self.shared.new_data.notify_waiters();
    }

    /// The SYNC_MASTER wait: returns when a slave acknowledged `next_offset` (the end of the
    /// send's record), after the slave timeout, or at once when no slave can take it.
    pub async fn wait_replicated(&self, next_offset: u64) -> ReplicaStatus {
        self.wait_replicated_within(next_offset, self.shared.config.slave_timeout)
            .await
    }

    /// [`Self::wait_replicated`] with an explicit timeout.
    pub async fn wait_replicated_within(
        &self,
        next_offset: u64,
        timeout: std::time::Duration,
    ) -> ReplicaStatus {
        self.notify_appended();
        self.shared.group.wait(next_offset, timeout).await
    }

    /// Whether a slave is connected and close enough for synchronous sends.
    pub fn slave_ok(&self) -> bool {
        let g = &self.shared.group;
        super::group_transfer::slave_ok(
            g.slaves(),
            self.shared.log.end_offset(),
            g.acked(),
            self.shared.config.slave_fall_behind_max,
        )
    }

    /// Replication progress: master offset and every slave's acknowledged offset and lag.
    pub fn status(&self) -> MasterStatus {
        let master_offset = self.shared.log.end_offset();
        let slaves = self
            .shared
            .table()
            .values()
            .map(|e| SlaveStatus {
                addr: e.addr,
                acked_offset: e.acked,
                lag: master_offset.saturating_sub(e.acked.unwrap_or(0)),
            })
            .collect();
        MasterStatus {
            master_offset,
            acked_max: self.shared.group.acked(),
            slaves,
        }
    }

    /// Key/value pairs for GET_BROKER_RUNTIME_INFO: `haMasterOffset`, `haConnectedSlaves`,
    /// `haSlaveAckOffset` (best slave), and per slave `haSlave<i>Addr`, `haSlave<i>AckOffset`,
    /// `haSlave<i>LagBytes`.
    pub fn runtime_info(&self) -> Vec<(String, String)> {
        let s = self.status();
        let mut kv = vec![
            ("haMasterOffset".to_string(), s.master_offset.to_string()),
            ("haConnectedSlaves".to_string(), s.slaves.len().to_string()),
            ("haSlaveAckOffset".to_string(), s.acked_max.to_string()),
        ];
        for (i, slave) in s.slaves.iter().enumerate() {
            let acked = slave.acked_offset.map_or(-1, |o| o as i64);
            kv.push((format!("haSlave{i}Addr"), slave.addr.to_string()));
            kv.push((format!("haSlave{i}AckOffset"), acked.to_string()));
            kv.push((format!("haSlave{i}LagBytes"), slave.lag.to_string()));
        }
        kv
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, addr)) => {
                let _ = stream.set_nodelay(true);
                let id = shared.add(addr);
                info!(slave = %addr, "slave connected to the HA port");
                let shared = shared.clone();
                let cancel = cancel.clone();
                tracker.spawn(async move {
                    super::connection::run(&shared, stream, id, addr, cancel).await;
                    shared.remove(id);
                });
            }
            Err(e) => {
                // Out of file descriptors and similar: pause instead of spinning.
                warn!(error = %e, "HA accept failed");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
                }
            }
        }
    }
}

async fn log_progress(service: HaService, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(service.shared.config.progress_log_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let s = service.status();
        if s.slaves.is_empty() {
            info!(master_offset = s.master_offset, "HA progress: no slave connected");
        }
        for slave in &s.slaves {
            info!(
                master_offset = s.master_offset,
                slave = %slave.addr,
                acked = ?slave.acked_offset,
                lag_bytes = slave.lag,
                "HA progress"
            );
        }
    }
}
