//! [`Shared`]: the master side's replication state that the accept loop (`service.rs`), each
//! slave connection (`connection.rs`) and the broker's send path share: the replica log, the
//! config, the group-transfer waiters and the table of connected slaves with what each acked.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::group_transfer::GroupTransfer;
use super::{HaConfig, ReplicaLog};

#[derive(Debug)]
pub(crate) struct SlaveEntry {
    pub(crate) addr: SocketAddr,
    pub(crate) acked: Option<u64>,
}

/// State shared by the accept loop, the connections and the broker's send path.
pub(crate) struct Shared {
    pub(crate) log: Arc<dyn ReplicaLog>,
    pub(crate) config: HaConfig,
    pub(crate) group: GroupTransfer,
    /// Wakes the writers when the broker appended something (they also poll).
    pub(crate) new_data: Notify,
    /// The connection table; held only to update or copy an entry.
    pub(super) slaves: Mutex<BTreeMap<u64, SlaveEntry>>,
    pub(super) next_id: AtomicU64,
}

impl Shared {
    pub(super) fn table(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, SlaveEntry>> {
        self.slaves.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a slave's report and wakes the sends it covers.
    pub(crate) fn on_report(&self, id: u64, offset: u64) {
        if let Some(entry) = self.table().get_mut(&id) {
            entry.acked = Some(offset);
        }
        self.group.on_ack(offset);
    }

    pub(super) fn add(&self, addr: SocketAddr) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.table().insert(id, SlaveEntry { addr, acked: None });
        self.group.slave_connected();
        id
    }

    pub(super) fn remove(&self, id: u64) {
        if self.table().remove(&id).is_some() {
            self.group.slave_disconnected();
        }
    }
}
