//! [`RouteTable`]: everything the nameserver knows about brokers and topics, built only from the
//! brokers' registrations (nameservers never talk to each other).
//!
//! Four tables, as Apache's `RouteInfoManager` keeps them:
//!
//! * `clusters`: cluster name → broker names;
//! * `groups`: broker name → [`BrokerData`] (cluster, and addresses by broker id; 0 = master);
//! * `live`: broker address → [`LiveBroker`] (last update, data version, the connection it
//!   registered on, HA address);
//! * `topics`: topic → broker name → [`QueueData`].
//!
//! Invariants kept by every method:
//!
//! * every address in a group is in `live` (an address leaves both at once), so "present in the
//!   group" means "alive";
//! * a group with no address left does not exist, and neither does its queue data nor its name in
//!   its cluster; an empty cluster or topic is removed;
//! * queue data come only from masters. A group whose master is gone keeps the master's last
//!   queue data while any slave remains, which is what lets the route show it read-only
//!   (see [`RouteTable::topic_route`]).
//!
//! The table is plain synchronous code: time comes in as `now_ms` from any monotonic clock and the
//! caller does the locking, so tests drive expiry deterministically.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use rmq_remoting::body::route::MASTER_ID;
use rmq_remoting::body::{BrokerData, DataVersion, QueueData, TopicConfig};

mod view;

#[cfg(test)]
mod tests;

/// What a live broker last told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveBroker {
    /// When it last registered or confirmed its data version (caller's clock, ms).
    pub last_update_ms: u64,
    /// Version of its topic table at that time.
    pub data_version: DataVersion,
    /// Id of the connection it registered on; closing that connection drops the broker.
    pub conn_id: u64,
    /// `ip:haPort` its slaves replicate from.
    pub ha_server_addr: String,
}

/// One REGISTER_BROKER, already decoded and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// Cluster name.
    pub cluster: String,
    /// Broker (group) name.
    pub broker_name: String,
    /// `ip:port` of the broker.
    pub broker_addr: String,
    /// 0 = master, > 0 = slave.
    pub broker_id: i64,
    /// `ip:haPort`.
    pub ha_server_addr: String,
    /// Version of the topic table in this registration.
    pub data_version: DataVersion,
    /// The topics (the whole table, or only changed ones after a topic update).
    pub topics: Vec<TopicConfig>,
    /// The connection the registration arrived on.
    pub conn_id: u64,
}

/// What a slave learns from registering: its master, if that master is registered and alive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterOutcome {
    /// The master's broker address.
    pub master_addr: Option<String>,
    /// The master's HA address.
    pub ha_server_addr: Option<String>,
}

/// The route tables. See the module docs for the invariants.
#[derive(Debug, Clone)]
pub struct RouteTable {
    expiry_ms: u64,
    clusters: BTreeMap<String, BTreeSet<String>>,
    groups: BTreeMap<String, BrokerData>,
    live: HashMap<String, LiveBroker>,
    topics: BTreeMap<String, BTreeMap<String, QueueData>>,
}

impl RouteTable {
    /// An empty table whose brokers expire after `broker_expiry` of silence.
    pub fn new(broker_expiry: Duration) -> Self {
        RouteTable {
            expiry_ms: u64::try_from(broker_expiry.as_millis()).unwrap_or(u64::MAX),
            clusters: BTreeMap::new(),
            groups: BTreeMap::new(),
            live: HashMap::new(),
            topics: BTreeMap::new(),
        }
    }

    /// Changes the expiry (UPDATE_NAMESRV_CONFIG); applies from the next scan.
    pub fn set_broker_expiry(&mut self, broker_expiry: Duration) {
        self.expiry_ms = u64::try_from(broker_expiry.as_millis()).unwrap_or(u64::MAX);
    }

    /// Applies a registration (Apache `RouteInfoManager.registerBroker`).
    pub fn register(&mut self, reg: Registration, now_ms: u64) -> RegisterOutcome {
        self.clusters
            .entry(reg.cluster.clone())
            .or_default()
            .insert(reg.broker_name.clone());
        let group = self
            .groups
            .entry(reg.broker_name.clone())
            .or_insert_with(|| BrokerData::new(reg.cluster.clone(), reg.broker_name.clone()));
        // A broker that changed role (slave promoted to id 0 by hand, or the reverse) keeps its
        // address; drop the old id so the address is listed once.
        group
            .broker_addrs
            .retain(|&id, addr| id == reg.broker_id || *addr != reg.broker_addr);
        let previous = group.broker_addrs.insert(reg.broker_id, reg.broker_addr.clone());
        let first = previous.is_none();
        if let Some(old) = previous.filter(|old| *old != reg.broker_addr) {
            // Another process took over this id; the old address is no longer part of the group.
            self.live.remove(&old);
        }

        if reg.broker_id == MASTER_ID {
            let changed = match self.live.get(&reg.broker_addr) {
                Some(live) => live.data_version != reg.data_version,
                None => true,
            };
            // Only a new table version (or a first registration) overwrites queue data, so a
            // wiped write permission survives the periodic re-registrations of an unchanged table.
            if changed || first {
                for tc in &reg.topics {
                    let queue = QueueData {
                        broker_name: reg.broker_name.clone(),
                        perm: tc.perm,
                        read_queue_nums: tc.read_queue_nums,
                        topic_sys_flag: tc.topic_sys_flag,
                        write_queue_nums: tc.write_queue_nums,
                    };
                    self.topics
                        .entry(tc.topic_name.clone())
                        .or_default()
                        .insert(reg.broker_name.clone(), queue);
                }
            }
        }

        self.live.insert(
            reg.broker_addr.clone(),
            LiveBroker {
                last_update_ms: now_ms,
                data_version: reg.data_version,
                conn_id: reg.conn_id,
                ha_server_addr: reg.ha_server_addr.clone(),
            },
        );

        if reg.broker_id == MASTER_ID {
            return RegisterOutcome::default();
        }
        let master = self.groups.get(&reg.broker_name).and_then(|g| g.master_addr());
        match master.and_then(|m| Some((m, self.live.get(m)?))) {
            Some((addr, live)) if self.is_alive(live, now_ms) => RegisterOutcome {
                master_addr: Some(addr.to_string()),
                ha_server_addr: Some(live.ha_server_addr.clone()),
            },
            _ => RegisterOutcome::default(),
        }
    }

    fn is_alive(&self, live: &LiveBroker, now_ms: u64) -> bool {
        now_ms.saturating_sub(live.last_update_ms) <= self.expiry_ms
    }

    /// UNREGISTER_BROKER: removes `broker_addr` if it still holds `broker_id` in `broker_name`.
    /// Returns whether anything was removed.
    pub fn unregister(&mut self, broker_name: &str, broker_addr: &str, broker_id: i64) -> bool {
        let holds = self
            .groups
            .get(broker_name)
            .and_then(|g| g.broker_addrs.get(&broker_id))
            .is_some_and(|a| a == broker_addr);
        if holds {
            self.remove_addr(broker_addr);
        }
        holds
    }

    /// QUERY_DATA_VERSION: whether `version` differs from what `broker_addr` last registered, and
    /// the stored version. An unchanged version counts as a sign of life.
    pub fn query_data_version(
        &mut self,
        broker_addr: &str,
        version: &DataVersion,
        now_ms: u64,
    ) -> (bool, Option<DataVersion>) {
        match self.live.get_mut(broker_addr) {
            Some(live) if live.data_version == *version => {
                live.last_update_ms = now_ms;
                (false, Some(live.data_version))
            }
            Some(live) => (true, Some(live.data_version)),
            None => (true, None),
        }
    }

    /// Drops every broker silent for more than the expiry (Apache compares strictly, so a broker
    /// exactly at the limit stays). Returns the dropped addresses.
    pub fn expire(&mut self, now_ms: u64) -> Vec<String> {
        let dead: Vec<String> = self
            .live
            .iter()
            .filter(|(_, l)| !self.is_alive(l, now_ms))
            .map(|(addr, _)| addr.clone())
            .collect();
        for addr in &dead {
            self.remove_addr(addr);
        }
        dead
    }

    /// Drops every broker that registered on connection `conn_id`. Returns their addresses.
    pub fn connection_closed(&mut self, conn_id: u64) -> Vec<String> {
        let gone: Vec<String> = self
            .live
            .iter()
            .filter(|(_, l)| l.conn_id == conn_id)
            .map(|(addr, _)| addr.clone())
            .collect();
        for addr in &gone {
            self.remove_addr(addr);
        }
        gone
    }

    /// Removes one address everywhere; a group left without addresses goes with its queue data.
    fn remove_addr(&mut self, addr: &str) {
        self.live.remove(addr);
        let mut emptied = Vec::new();
        for (name, group) in self.groups.iter_mut() {
            group.broker_addrs.retain(|_, a| a != addr);
            if group.broker_addrs.is_empty() {
                emptied.push(name.clone());
            }
        }
        for name in emptied {
            self.groups.remove(&name);
            // Every cluster, not only the group's first: a broker name that re-registered under
            // another cluster is listed in both.
            self.clusters.retain(|_, names| {
                names.remove(&name);
                !names.is_empty()
            });
            self.topics.retain(|_, queues| {
                queues.remove(&name);
                !queues.is_empty()
            });
        }
    }

    /// The live-table entry of `broker_addr`.
    pub fn live_broker(&self, broker_addr: &str) -> Option<&LiveBroker> {
        self.live.get(broker_addr)
    }

    /// Number of topics with queue data.
    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// Number of broker groups (broker names).
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Number of clusters.
    pub fn cluster_count(&self) -> usize {
        self.clusters.len()
    }

    /// Number of live broker addresses.
    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// The addresses of broker name `broker_name`.
    pub fn broker_data(&self, broker_name: &str) -> Option<&BrokerData> {
        self.groups.get(broker_name)
    }

    /// The stored queue data of `topic` on `broker_name` (as registered, before any route view).
    pub fn queue_data(&self, topic: &str, broker_name: &str) -> Option<&QueueData> {
        self.topics.get(topic)?.get(broker_name)
    }

    /// Broker names of `cluster`.
    pub fn cluster_brokers(&self, cluster: &str) -> Option<&BTreeSet<String>> {
        self.clusters.get(cluster)
    }
}
