//! Replication inside a running broker: [`start`] runs the [`HaService`] on a master (and
//! installs it as the send path's [`ReplicaWaiter`]) or the [`HaClient`] on a slave (following
//! the master address the nameserver registration or `haMasterAddress` publishes on
//! [`BrokerState::master`]) and records it as the broker's [`Replication`].
//! [`suggest_broker_id`] is the pull reply's slave-read advice.
//!
//! The slave's metadata copy (topic configs, consumer offsets) is [`crate::slave_sync`].

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Buf;
use rmq_remoting::message::record::PHYSICAL_OFFSET_POS;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use super::read_advice::{in_memory_bytes, pulling_cold_data, total_memory, DEFAULT_IN_MEMORY_RATIO_PERCENT};
use super::{HaClient, HaConfig, HaService, ReplicaStatus, Replication};
use crate::config::{BrokerConfig, BrokerRole};
use crate::state::{BrokerState, ReplicaFuture, ReplicaOutcome, ReplicaWaiter};
use crate::store::GetResult;

/// The replication settings of a broker config.
pub fn ha_config(config: &BrokerConfig) -> HaConfig {
    HaConfig {
        slave_timeout: config.slave_timeout,
        ..HaConfig::default()
    }
}

impl ReplicaWaiter for HaService {
    fn wait_for_slave(&self, offset: u64, timeout: Duration) -> ReplicaFuture<'_> {
        Box::pin(async move {
            match self.wait_replicated_within(offset, timeout).await {
                ReplicaStatus::Replicated => ReplicaOutcome::Acked,
                ReplicaStatus::Timeout => ReplicaOutcome::Timeout,
                ReplicaStatus::SlaveNotAvailable => ReplicaOutcome::SlaveNotAvailable,
            }
        })
    }

    fn notify_appended(&self) {
        HaService::notify_appended(self);
    }
}

/// Starts the broker's replication side: binds the HA port on a master (recording the bound
/// port in `state.ha_port` before any registration), or starts the client on a slave.
pub async fn start(
    state: &Arc<BrokerState>,
    cancel: CancellationToken,
    tasks: &TaskTracker,
) -> std::io::Result<Replication> {
    let config = ha_config(&state.config);
    if state.config.broker_role == BrokerRole::Slave {
        crate::slave_sync::learn_replicated_topics(
            state,
            state.store.queues().iter().map(|(t, q)| (t.as_str(), *q)),
        );
        on_replicated_arrivals(state);
        let initial = state.master.borrow().as_ref().map(|m| m.ha_addr.clone());
        let client = HaClient::start(state.store.clone(), config, initial, cancel.clone(), tasks);
        tasks.spawn(follow_master(state.clone(), client.clone(), cancel));
        let _ = state.replication.set(Replication::Slave(client.clone()));
        return Ok(Replication::Slave(client));
    }
    let listener = TcpListener::bind(("0.0.0.0", state.config.ha_port())).await?;
    let _ = state.ha_port.set(listener.local_addr()?.port());
    let service = HaService::start(listener, state.store.clone(), config, cancel, tasks)?;
    state.set_replica_waiter(Arc::new(service.clone()));
    let _ = state.replication.set(Replication::Master(service.clone()));
    info!(ha_addr = %state.ha_server_addr(), role = state.config.broker_role.name(), "replication master ready");
    Ok(Replication::Master(service))
}

/// On a slave, for each queue that replicated bytes filled: makes its topic known (a topic the
/// metadata sync has not brought yet is still served) and wakes the pulls held on it, as the
/// send path does on a master. Holds the state weakly: the store must not keep the broker alive.
fn on_replicated_arrivals(state: &Arc<BrokerState>) {
    let weak = Arc::downgrade(state);
    state
        .store
        .set_arrival_listener(Box::new(move |arrivals: &crate::store::Arrivals| {
            let Some(state) = weak.upgrade() else { return };
            if arrivals.many {
                let all = state.store.queues();
                crate::slave_sync::learn_replicated_topics(&state, all.iter().map(|(t, q)| (t.as_str(), *q)));
                state.held.wake_all();
            }
            crate::slave_sync::learn_replicated_topics(
                &state,
                arrivals.queues.iter().map(|(t, q)| (t.as_str(), *q)),
            );
            for (topic, queue_id) in &arrivals.queues {
                state.held.wake(topic, *queue_id);
            }
        }));
}

/// Hands every master address the registration learns to the client, unless `haMasterAddress`
/// fixed it (as in RocketMQ, a configured address is never replaced).
async fn follow_master(state: Arc<BrokerState>, client: HaClient, cancel: CancellationToken) {
    if state
        .config
        .ha_master_address
        .as_deref()
        .is_some_and(|a| a.len() >= 6)
    {
        return;
    }
    let mut rx = state.master.subscribe();
    loop {
        let ha = rx.borrow_and_update().as_ref().map(|m| m.ha_addr.clone());
        if ha.is_some() {
            client.set_master(ha);
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = rx.changed() => if changed.is_err() { return },
        }
    }
}

/// Bytes of commit log counted as still in memory (40 % of physical memory, read once).
fn in_memory_limit() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let total = total_memory().unwrap_or(8 << 30);
        in_memory_bytes(total, DEFAULT_IN_MEMORY_RATIO_PERCENT)
    })
}

/// `suggestWhichBrokerId` for a pull reply on this broker, master or slave, as Apache computes it:
/// without `slaveReadEnable` always 0 (the master); with it, the group's
/// `whichBrokerWhenConsumeSlowly` (1) when the pull read cold data, else the group's `brokerId`.
pub fn suggest_broker_id(state: &BrokerState, group: &str, result: &GetResult) -> i64 {
    suggest_broker_id_within(state, group, result, in_memory_limit())
}

/// [`suggest_broker_id`] with an explicit in-memory limit in bytes (tests).
pub fn suggest_broker_id_within(state: &BrokerState, group: &str, result: &GetResult, in_memory: u64) -> i64 {
    if !state.config.slave_read_enable {
        return 0;
    }
    let last_phys = result
        .messages
        .last()
        .filter(|m| m.len() >= PHYSICAL_OFFSET_POS + 8)
        .map(|m| (&m[PHYSICAL_OFFSET_POS..]).get_i64().max(0) as u64);
    let cold = last_phys.is_some_and(|p| pulling_cold_data(state.store.max_physical_offset(), p, in_memory));
    let (when_slow, own) = state
        .groups
        .get(group)
        .map_or((1, 0), |g| (g.which_broker_when_consume_slowly, g.broker_id));
    super::read_advice::suggest_broker_id(true, cold, when_slow, own)
}
