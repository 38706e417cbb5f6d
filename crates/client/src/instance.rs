//! [`ClientInstance`]: what a producer or consumer shares with the cluster: one
//! [`RemotingClient`], the nameserver choice, the route cache, the broker address table, the
//! registered producer and consumer groups, and the route and heartbeat tasks.
//!
//! Routes are fetched on first use of a topic and refreshed every `poll_name_server_interval`
//! (`instance/routes.rs`); heartbeats go out every `heartbeat_broker_interval`
//! (`instance/heartbeat.rs`). Requests brokers send to the client are handled by
//! [`crate::broker_requests`]; what the registered members offer is in [`crate::members`].
//!
//! Locks: each guards one table, is held for a lookup or an update and never across `.await`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmq_remoting::body::TopicRouteData;
use rmq_remoting::net::{ClientConfig as NetConfig, RemotingClient};
use rmq_remoting::RemotingCommand;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info};

use crate::broker_requests::handle_server_request;
use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::members::{Checkers, ConsumerMember, Consumers, TransactionMember};
use crate::namesrv::{parse_addr_list, NameServers};
use crate::route::TopicPublishInfo;

mod heartbeat;
mod routes;

/// The shared state of one client (one client id).
pub struct ClientInstance {
    config: ClientConfig,
    client_id: String,
    remoting: RemotingClient,
    namesrv: NameServers,
    // topic → last route seen.
    routes: Mutex<HashMap<String, TopicRouteData>>,
    // broker name → broker id → address.
    brokers: Mutex<HashMap<String, BTreeMap<i64, String>>>,
    // topic → publish list built from the route (or the template route for a new topic).
    publish: Mutex<HashMap<String, Arc<TopicPublishInfo>>>,
    producer_groups: Mutex<HashSet<String>>,
    consumers: Consumers,
    checkers: Checkers,
    cancel: CancellationToken,
    tasks: TaskTracker,
    epoch: Instant,
}

impl ClientInstance {
    /// Connects nothing yet; starts the route and heartbeat tasks.
    pub fn start(config: ClientConfig) -> Result<Arc<Self>> {
        config.validate()?;
        let remoting = RemotingClient::new(NetConfig {
            language: config.language,
            credentials: config.credentials.clone(),
            ..NetConfig::default()
        });
        let consumers: Consumers = Arc::new(Mutex::new(HashMap::new()));
        let checkers: Checkers = Arc::new(Mutex::new(HashMap::new()));
        let handler_consumers = consumers.clone();
        let handler_checkers = checkers.clone();
        // Installed before any connection opens: the client captures it per connection.
        remoting.set_request_handler(Arc::new(move |addr: &str, request: RemotingCommand| {
            handle_server_request(&handler_consumers, &handler_checkers, addr, request)
        }));
        let instance = Arc::new(ClientInstance {
            namesrv: NameServers::new(parse_addr_list(&config.namesrv_addr))?,
            client_id: config.make_client_id(),
            config,
            remoting,
            routes: Mutex::new(HashMap::new()),
            brokers: Mutex::new(HashMap::new()),
            publish: Mutex::new(HashMap::new()),
            producer_groups: Mutex::new(HashSet::new()),
            consumers,
            checkers,
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            epoch: Instant::now(),
        });
        instance
            .tasks
            .spawn(route_task(Arc::downgrade(&instance), instance.cancel.clone()));
        instance
            .tasks
            .spawn(heartbeat_task(Arc::downgrade(&instance), instance.cancel.clone()));
        info!(client_id = %instance.client_id, "client instance started");
        Ok(instance)
    }

    /// `ip@instance`.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The transport.
    pub fn remoting(&self) -> &RemotingClient {
        &self.remoting
    }

    /// The nameservers.
    pub fn namesrv(&self) -> &NameServers {
        &self.namesrv
    }

    /// Milliseconds since the instance started (the fault table's clock).
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Cancelled at shutdown.
    pub(crate) fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Registers a producer group (included in heartbeats).
    pub fn register_producer(&self, group: &str) {
        self.producer_groups
            .lock()
            .expect("producers lock")
            .insert(group.to_string());
    }

    /// Registers the check handler of a transactional producer group (replacing any earlier).
    pub(crate) fn register_checker(&self, group: &str, member: Arc<dyn TransactionMember>) {
        self.checkers
            .lock()
            .expect("checkers lock")
            .insert(group.to_string(), member);
    }

    /// Removes a transactional producer group's check handler.
    pub(crate) fn unregister_checker(&self, group: &str) {
        self.checkers.lock().expect("checkers lock").remove(group);
    }

    pub(crate) fn register_consumer(&self, group: &str, member: Arc<dyn ConsumerMember>) -> Result<()> {
        let mut consumers = self.consumers.lock().expect("consumers lock");
        if consumers.contains_key(group) {
            return Err(ClientError::Invalid(format!(
                "consumer group {group} is already registered"
            )));
        }
        consumers.insert(group.to_string(), member);
        Ok(())
    }

    /// Stops the tasks and closes every connection.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.remoting.shutdown();
        info!(client_id = %self.client_id, "client instance stopped");
    }
}

async fn route_task(instance: std::sync::Weak<ClientInstance>, cancel: CancellationToken) {
    loop {
        let Some(period) = instance.upgrade().map(|i| i.config.poll_name_server_interval) else {
            return;
        };
        if !sleep_or_cancel(period, &cancel).await {
            return;
        }
        let Some(instance) = instance.upgrade() else {
            return;
        };
        for topic in instance.topics_of_interest() {
            if let Err(e) = instance.update_route(&topic).await {
                debug!(topic, error = %e, "route refresh failed");
            }
        }
    }
}

async fn heartbeat_task(instance: std::sync::Weak<ClientInstance>, cancel: CancellationToken) {
    // Consumers send their first heartbeat at start (they need to be in the member list before
    // the first rebalance); producers, as in RocketMQ, with the first period.
    loop {
        let Some(period) = instance.upgrade().map(|i| i.config.heartbeat_broker_interval) else {
            return;
        };
        if !sleep_or_cancel(period, &cancel).await {
            return;
        }
        let Some(instance) = instance.upgrade() else {
            return;
        };
        instance.send_heartbeat_to_all().await;
    }
}

/// Waits `d` unless `cancel` fires first; returns false when cancelled.
pub(crate) async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}
