//! [`BrokerState`]: the one shared handle of a running broker. Every table has its own lock
//! (inside its type), held for one operation and never across `.await`.
//!
//! Seams for replication: a SYNC_MASTER waits for slaves through the [`ReplicaWaiter`] installed
//! with [`BrokerState::set_replica_waiter`]; a slave learns its master from [`BrokerState::master`]
//! (a watch channel fed by nameserver registration or `haMasterAddress`).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::clients::ClientRegistry;
use crate::config::{BrokerConfig, BrokerRole};
use crate::filter::SelectorCache;
use crate::groups::GroupTable;
use crate::locks::QueueLocks;
use crate::long_poll::HeldPulls;
use crate::offsets::{ConsumerOffsets, DelayOffsets};
use crate::stats::BrokerStats;
use crate::store::MessageStore;
use crate::topics::TopicTable;

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How waiting for a slave ended (SYNC_MASTER sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaOutcome {
    /// A slave acknowledged the offset.
    Acked,
    /// No slave connected, or the slave is too far behind (SLAVE_NOT_AVAILABLE).
    SlaveNotAvailable,
    /// No acknowledgement within `slaveTimeout` (FLUSH_SLAVE_TIMEOUT).
    Timeout,
}

/// Boxed future returned by [`ReplicaWaiter::wait_for_slave`].
pub type ReplicaFuture<'a> = Pin<Box<dyn Future<Output = ReplicaOutcome> + Send + 'a>>;

/// What the send path needs from replication: wait until a slave has every byte below
/// `offset`, or give up after `timeout`.
pub trait ReplicaWaiter: Send + Sync + 'static {
    /// Resolves once a slave acknowledged `offset` (exclusive end of the record), or with why not.
    fn wait_for_slave(&self, offset: u64, timeout: Duration) -> ReplicaFuture<'_>;

    /// Called after every local append, so replication can ship the bytes without polling.
    fn notify_appended(&self) {}
}

/// Where a slave's master is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterAddrs {
    /// The master's remoting address (`ip:port`), for the metadata sync.
    pub broker_addr: String,
    /// The master's HA address (`ip:haPort`).
    pub ha_addr: String,
}

/// Everything a running broker shares between its tasks and request handlers.
pub struct BrokerState {
    /// The configuration it started with.
    pub config: BrokerConfig,
    /// The message store.
    pub store: Arc<MessageStore>,
    /// Topic configs.
    pub topics: TopicTable,
    /// Committed consumer offsets.
    pub offsets: ConsumerOffsets,
    /// Delivery progress of the delay levels.
    pub delay_offsets: DelayOffsets,
    /// Subscription groups.
    pub groups: GroupTable,
    /// Producers and consumers.
    pub clients: ClientRegistry,
    /// Orderly consumers' queue locks.
    pub locks: QueueLocks,
    /// Long-polling pulls.
    pub held: HeldPulls,
    /// Counters.
    pub stats: BrokerStats,
    /// Prometheus recorders (recording nothing unless `metricsExporterType=PROM`).
    pub metrics: crate::metrics::BrokerMetrics,
    /// Compiled SQL92 selectors by expression text.
    pub selectors: SelectorCache,
    /// Transaction bookkeeping (op marker ids, check channel choice).
    pub transactions: crate::transaction::book::TransactionBook,
    /// Delay levels in ms (level `i+1` = entry `i`).
    pub delay_levels: Vec<u64>,
    /// One notifier per delay level: a message was parked at that level.
    pub schedule_wake: Vec<Notify>,
    /// `brokerIP1:listenPort` as written into records.
    pub store_host: SocketAddr,
    /// `brokerIP1:listenPort` as registered.
    pub broker_addr: String,
    /// Hex of the store host (address + port), the constant head of every offset message id.
    msg_id_prefix: String,
    /// The bound HA port (set by replication when it listens; else from the config).
    pub ha_port: OnceLock<u16>,
    /// Broker permission bits (`brokerPermission`), changeable at run time.
    pub permission: AtomicI32,
    /// Bumped to make every registration loop register at once.
    pub register_signal: watch::Sender<u64>,
    /// A slave's master, as learnt from the nameservers (or `haMasterAddress`).
    pub master: watch::Sender<Option<MasterAddrs>>,
    /// Epoch ms at start.
    pub start_ms: i64,
    /// The plain ACL, when `aclEnable` (set once at start).
    pub acl: OnceLock<crate::acl::Acl>,
    /// Cancelled when the broker shuts down.
    pub shutdown: CancellationToken,
    /// `<store root>/config`.
    pub config_dir: PathBuf,
    /// Serializes writers of the files under `config_dir` (held only on blocking threads).
    pub(crate) file_lock: std::sync::Mutex<()>,
    replica: OnceLock<Arc<dyn ReplicaWaiter>>,
    /// HA (replication): the master's service or the slave's client, set once at start.
    pub replication: OnceLock<crate::ha::Replication>,
    queue_picker: AtomicU32,
}

impl BrokerState {
    /// Assembles the state; tables start empty except for system entries.
    pub fn new(config: BrokerConfig, store: Arc<MessageStore>, store_host: SocketAddr) -> BrokerState {
        let now = now_ms();
        let delay_levels = config.delay_levels();
        let config_dir = config.store_path_root_dir.join("config");
        let (register_signal, _) = watch::channel(0);
        let master = config.ha_master_address.clone().map(|ha| MasterAddrs {
            broker_addr: String::new(),
            ha_addr: ha,
        });
        let (master, _) = watch::channel(master);
        BrokerState {
            topics: TopicTable::new(&config, now),
            offsets: ConsumerOffsets::default(),
            delay_offsets: DelayOffsets::default(),
            groups: GroupTable::new(config.auto_create_subscription_group, now),
            clients: ClientRegistry::default(),
            locks: QueueLocks::default(),
            held: HeldPulls::new(config.max_held_pulls),
            stats: BrokerStats::default(),
            metrics: crate::metrics::BrokerMetrics::new(&config.metrics),
            selectors: SelectorCache::default(),
            transactions: crate::transaction::book::TransactionBook::new(
                match store_host.ip() {
                    std::net::IpAddr::V4(ip) => ip,
                    std::net::IpAddr::V6(_) => std::net::Ipv4Addr::LOCALHOST,
                },
                now_ms(),
            ),
            schedule_wake: delay_levels.iter().map(|_| Notify::new()).collect(),
            delay_levels,
            broker_addr: store_host.to_string(),
            msg_id_prefix: {
                let full = rmq_remoting::message::id::offset_msg_id(&store_host, 0);
                full[..full.len() - 16].to_string()
            },
            store_host,
            ha_port: OnceLock::new(),
            permission: AtomicI32::new(config.broker_permission),
            register_signal,
            master,
            start_ms: now,
            acl: OnceLock::new(),
            shutdown: CancellationToken::new(),
            config_dir,
            file_lock: std::sync::Mutex::new(()),
            replica: OnceLock::new(),
            replication: OnceLock::new(),
            queue_picker: AtomicU32::new(0),
            store,
            config,
        }
    }

    /// Installs the replication waiter (once; later calls are ignored).
    pub fn set_replica_waiter(&self, waiter: Arc<dyn ReplicaWaiter>) {
        let _ = self.replica.set(waiter);
    }

    /// The replication waiter, if replication runs.
    pub fn replica_waiter(&self) -> Option<&Arc<dyn ReplicaWaiter>> {
        self.replica.get()
    }

    /// Tells replication (if any) that the commit log grew.
    pub fn notify_appended(&self) {
        if let Some(r) = self.replica.get() {
            r.notify_appended();
        }
    }

    /// The offset message id of a record at `physical_offset` (same as
    /// `rmq_remoting::message::id::offset_msg_id`, without formatting the host per message).
    pub fn offset_msg_id(&self, physical_offset: u64) -> String {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut id = String::with_capacity(self.msg_id_prefix.len() + 16);
        id.push_str(&self.msg_id_prefix);
        for shift in (0..16).rev() {
            id.push(HEX[((physical_offset >> (shift * 4)) & 0xF) as usize] as char);
        }
        id
    }

    /// Whether this broker is a slave.
    pub fn is_slave(&self) -> bool {
        self.config.broker_role == BrokerRole::Slave
    }

    /// The broker permission bits now.
    pub fn permission(&self) -> i32 {
        self.permission.load(Ordering::Relaxed)
    }

    /// `brokerIP2:haPort` as registered with the nameservers.
    pub fn ha_server_addr(&self) -> String {
        let port = self
            .ha_port
            .get()
            .copied()
            .unwrap_or_else(|| self.config.ha_port());
        format!("{}:{}", self.config.broker_ip2(), port)
    }

    /// Makes every registration loop register now (after a topic change).
    pub fn request_register(&self) {
        self.register_signal.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Publishes the master's addresses if they changed.
    pub fn set_master(&self, addrs: MasterAddrs) {
        self.master.send_if_modified(|cur| {
            if cur.as_ref() == Some(&addrs) {
                false
            } else {
                *cur = Some(addrs);
                true
            }
        });
    }

    /// A writable queue for a send that left the choice to the broker.
    pub fn pick_queue(&self, write_queue_nums: i32) -> i32 {
        (self.queue_picker.fetch_add(1, Ordering::Relaxed) % write_queue_nums.max(1) as u32) as i32
    }

    /// Delay of `level` (1-based, clamped to the table).
    pub fn delay_of(&self, level: i32) -> u64 {
        let idx = (level.max(1) as usize).min(self.delay_levels.len()) - 1;
        self.delay_levels[idx]
    }

    /// Highest delay level.
    pub fn max_delay_level(&self) -> i32 {
        self.delay_levels.len() as i32
    }
}

impl std::fmt::Debug for BrokerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerState")
            .field("broker_addr", &self.broker_addr)
            .finish_non_exhaustive()
    }
}
