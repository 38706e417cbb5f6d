//! [`ClientInstance`]: what a producer or consumer shares with the cluster: one
//! [`RemotingClient`], the nameserver choice, the route cache, the broker address table, the
//! heartbeat task and the handler of NOTIFY_CONSUMER_IDS_CHANGED.
//!
//! Routes are fetched on first use of a topic and refreshed every `poll_name_server_interval`.
//! Each route refresh overwrites the addresses of the broker names it mentions, so a master the
//! nameserver dropped disappears from the table and its queues are pulled from a slave; a broker
//! name that no cached route mentions any more is dropped from the table (`cleanOfflineBroker`).
//! Heartbeats go to every broker address when a consumer is registered (consumers pull from
//! slaves too), to masters only otherwise.
//!
//! Locks: each guards one table, is held for a lookup or an update and never across `.await`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmq_remoting::body::route::MASTER_ID;
use rmq_remoting::body::{ConsumerData, HeartbeatData, JsonBody, ProducerData, TopicRouteData};
use rmq_remoting::headers::client::{NotifyConsumerIdsChangedRequestHeader, UnregisterClientRequestHeader};
use rmq_remoting::net::{ClientConfig as NetConfig, RemotingClient};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::namesrv::{parse_addr_list, NameServers};
use crate::route::{default_topic_route, TopicPublishInfo};

/// What a consumer registered with the instance offers to it.
pub(crate) trait ConsumerMember: Send + Sync {
    /// Its heartbeat entry.
    fn consumer_data(&self) -> ConsumerData;
    /// Asks for a rebalance now (NOTIFY_CONSUMER_IDS_CHANGED, a route change).
    fn request_rebalance(&self);
}

type Consumers = Arc<Mutex<HashMap<String, Arc<dyn ConsumerMember>>>>;

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
            ..NetConfig::default()
        });
        let consumers: Consumers = Arc::new(Mutex::new(HashMap::new()));
        let handler_consumers = consumers.clone();
        // Installed before any connection opens: the client captures it per connection.
        remoting.set_request_handler(Arc::new(move |addr: &str, request: RemotingCommand| {
            handle_server_request(&handler_consumers, addr, request)
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

    /// Fetches the route of `topic` now and updates every table; `Ok(None)` when the topic does
    /// not exist.
    pub async fn update_route(&self, topic: &str) -> Result<Option<TopicRouteData>> {
        let route = self
            .namesrv
            .query_route(&self.remoting, topic, self.config.request_timeout)
            .await?;
        let Some(route) = route else {
            return Ok(None);
        };
        let changed = {
            // Both tables in one step (routes, then brokers: the only place taking both), so a
            // concurrent refresh cannot see a broker name dropped that its own route still lists.
            let mut routes = self.routes.lock().expect("routes lock");
            let changed = routes.get(topic) != Some(&route);
            routes.insert(topic.to_string(), route.clone());
            let mut brokers = self.brokers.lock().expect("brokers lock");
            for bd in &route.broker_datas {
                brokers.insert(bd.broker_name.clone(), bd.broker_addrs.clone());
            }
            for name in clean_offline_brokers(&routes, &mut brokers) {
                info!(broker = %name, "broker group in no route any more; forgotten");
            }
            changed
        };
        let info = Arc::new(TopicPublishInfo::from_route(topic, &route));
        self.publish
            .lock()
            .expect("publish lock")
            .insert(topic.to_string(), info);
        if changed {
            debug!(topic, "route changed");
            let members: Vec<_> = self
                .consumers
                .lock()
                .expect("consumers lock")
                .values()
                .cloned()
                .collect();
            for member in members {
                if member
                    .consumer_data()
                    .subscription_data_set
                    .iter()
                    .any(|s| s.topic == topic)
                {
                    member.request_rebalance();
                }
            }
        }
        Ok(Some(route))
    }

    /// The cached route of `topic`, fetching it on first use.
    pub async fn route(&self, topic: &str) -> Result<Option<TopicRouteData>> {
        if let Some(route) = self.routes.lock().expect("routes lock").get(topic).cloned() {
            return Ok(Some(route));
        }
        self.update_route(topic).await
    }

    /// The publish list of `topic`: its own route, or for a topic the nameserver does not know
    /// the template topic's route, so the broker auto-creates it on the first send.
    ///
    /// A topic that has a route but no writable queue (its brokers' write permission wiped, or
    /// their masters down) fails with [`ClientError::NotWritable`]: sending it through the
    /// template would have other brokers create the topic behind the operator's back.
    pub async fn publish_info(
        &self,
        topic: &str,
        template: &str,
        queue_nums: i32,
    ) -> Result<Arc<TopicPublishInfo>> {
        if let Some(info) = self.publish.lock().expect("publish lock").get(topic).cloned() {
            if info.is_usable() {
                return Ok(info);
            }
        }
        if let Some(route) = self.update_route(topic).await? {
            let info = Arc::new(TopicPublishInfo::from_route(topic, &route));
            if info.is_usable() {
                return Ok(info);
            }
            return Err(ClientError::NotWritable(topic.to_string()));
        }
        let Some(template_route) = self.update_route(template).await? else {
            return Err(ClientError::NoRoute(topic.to_string()));
        };
        let info = Arc::new(TopicPublishInfo::from_route(
            topic,
            &default_topic_route(&template_route, queue_nums),
        ));
        if !info.is_usable() {
            return Err(ClientError::NoRoute(topic.to_string()));
        }
        // Not put in the route table: the periodic refresh keeps asking for the real route.
        self.publish
            .lock()
            .expect("publish lock")
            .insert(topic.to_string(), info.clone());
        Ok(info)
    }

    /// The master address of a broker name.
    pub fn master_addr(&self, broker_name: &str) -> Option<String> {
        self.brokers
            .lock()
            .expect("brokers lock")
            .get(broker_name)
            .and_then(|m| m.get(&MASTER_ID).cloned())
    }

    /// `findBrokerAddressInSubscribe`: the address of `broker_id`, else (unless `only_this`) the
    /// master, else the lowest slave id. Returns the address and its id.
    pub fn subscribe_addr(
        &self,
        broker_name: &str,
        broker_id: i64,
        only_this: bool,
    ) -> Option<(String, i64)> {
        let brokers = self.brokers.lock().expect("brokers lock");
        let addrs = brokers.get(broker_name)?;
        if let Some(addr) = addrs.get(&broker_id) {
            return Some((addr.clone(), broker_id));
        }
        if only_this {
            return None;
        }
        addrs.iter().next().map(|(id, addr)| (addr.clone(), *id))
    }

    /// Every address of a broker name, ascending id.
    pub fn broker_addrs(&self, broker_name: &str) -> Vec<(i64, String)> {
        let brokers = self.brokers.lock().expect("brokers lock");
        brokers
            .get(broker_name)
            .map(|m| m.iter().map(|(id, a)| (*id, a.clone())).collect())
            .unwrap_or_default()
    }

    /// Registers a producer group (included in heartbeats).
    pub fn register_producer(&self, group: &str) {
        self.producer_groups
            .lock()
            .expect("producers lock")
            .insert(group.to_string());
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

    fn heartbeat_data(&self) -> HeartbeatData {
        let producers = self.producer_groups.lock().expect("producers lock");
        let consumers = self.consumers.lock().expect("consumers lock");
        HeartbeatData {
            client_id: self.client_id.clone(),
            producer_data_set: producers
                .iter()
                .map(|g| ProducerData {
                    group_name: g.clone(),
                })
                .collect(),
            consumer_data_set: consumers.values().map(|c| c.consumer_data()).collect(),
        }
    }

    fn heartbeat_targets(&self, all: bool) -> Vec<String> {
        let brokers = self.brokers.lock().expect("brokers lock");
        let mut targets: Vec<String> = brokers
            .values()
            .flat_map(|m| {
                m.iter()
                    .filter(|(id, _)| all || **id == MASTER_ID)
                    .map(|(_, a)| a.clone())
            })
            .collect();
        targets.sort();
        targets.dedup();
        targets
    }

    /// Sends a heartbeat to every broker (masters only when no consumer is registered).
    pub async fn send_heartbeat_to_all(&self) {
        let data = self.heartbeat_data();
        if data.producer_data_set.is_empty() && data.consumer_data_set.is_empty() {
            return;
        }
        let targets = self.heartbeat_targets(!data.consumer_data_set.is_empty());
        let body = data.encode();
        let timeout = self.config.request_timeout;
        let calls = targets.iter().map(|addr| {
            let request = RemotingCommand::request(RequestCode::HEART_BEAT).with_body(body.clone());
            async move { (addr, self.remoting.invoke(addr, request, timeout).await) }
        });
        for (addr, result) in futures::future::join_all(calls).await {
            match result {
                Ok(r) if r.is_success() => {}
                Ok(r) => warn!(broker = %addr, code = r.code, remark = ?r.remark, "heartbeat refused"),
                Err(e) => debug!(broker = %addr, error = %e, "heartbeat failed"),
            }
        }
    }

    /// Removes a producer group and tells the masters.
    pub async fn unregister_producer(&self, group: &str) {
        self.producer_groups.lock().expect("producers lock").remove(group);
        self.unregister_client(Some(group), None, false).await;
    }

    pub(crate) async fn unregister_consumer(&self, group: &str) {
        self.consumers.lock().expect("consumers lock").remove(group);
        self.unregister_client(None, Some(group), true).await;
    }

    async fn unregister_client(&self, producer: Option<&str>, consumer: Option<&str>, all: bool) {
        let header = UnregisterClientRequestHeader {
            client_id: self.client_id.clone(),
            producer_group: producer.map(str::to_string),
            consumer_group: consumer.map(str::to_string),
        };
        let timeout = self.config.request_timeout;
        let targets = self.heartbeat_targets(all);
        let calls = targets.iter().map(|addr| {
            let request = RemotingCommand::request_with(RequestCode::UNREGISTER_CLIENT, &header);
            self.remoting.invoke(addr, request, timeout)
        });
        for result in futures::future::join_all(calls).await {
            if let Err(e) = result {
                debug!(error = %e, "unregister failed");
            }
        }
    }

    /// Stops the tasks and closes every connection.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.remoting.shutdown();
        info!(client_id = %self.client_id, "client instance stopped");
    }

    fn topics_of_interest(&self) -> Vec<String> {
        let mut topics: HashSet<String> = self.routes.lock().expect("routes lock").keys().cloned().collect();
        topics.extend(self.publish.lock().expect("publish lock").keys().cloned());
        let members: Vec<_> = self
            .consumers
            .lock()
            .expect("consumers lock")
            .values()
            .cloned()
            .collect();
        for member in members {
            topics.extend(
                member
                    .consumer_data()
                    .subscription_data_set
                    .into_iter()
                    .map(|s| s.topic),
            );
        }
        topics.into_iter().collect()
    }
}

/// `cleanOfflineBroker`: drops the broker names no cached route mentions any more (a whole group
/// went away), so heartbeats stop going to them; returns the names dropped.
fn clean_offline_brokers(
    routes: &HashMap<String, TopicRouteData>,
    brokers: &mut HashMap<String, BTreeMap<i64, String>>,
) -> Vec<String> {
    let live: HashSet<&str> = routes
        .values()
        .flat_map(|r| r.broker_datas.iter().map(|bd| bd.broker_name.as_str()))
        .collect();
    let mut gone: Vec<String> = brokers
        .keys()
        .filter(|name| !live.contains(name.as_str()))
        .cloned()
        .collect();
    gone.sort();
    for name in &gone {
        brokers.remove(name);
    }
    gone
}

fn handle_server_request(
    consumers: &Consumers,
    addr: &str,
    request: RemotingCommand,
) -> Option<RemotingCommand> {
    if request.code == RequestCode::NOTIFY_CONSUMER_IDS_CHANGED.code() {
        if let Ok(header) = request.decode_header::<NotifyConsumerIdsChangedRequestHeader>() {
            let member = consumers
                .lock()
                .expect("consumers lock")
                .get(&header.consumer_group)
                .cloned();
            if let Some(member) = member {
                info!(broker = addr, group = %header.consumer_group, "consumer ids changed; rebalancing");
                member.request_rebalance();
            }
        }
        return None;
    }
    Some(request.reply(
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
        Some(format!("request type {} not supported", request.code)),
    ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::body::BrokerData;

    fn route(names: &[&str]) -> TopicRouteData {
        TopicRouteData {
            broker_datas: names.iter().map(|n| BrokerData::new("C", *n)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn offline_broker_names_are_dropped() {
        let mut routes = HashMap::new();
        routes.insert("T1".to_string(), route(&["a", "b"]));
        routes.insert("T2".to_string(), route(&["b"]));
        let mut brokers: HashMap<String, BTreeMap<i64, String>> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| (n.to_string(), BTreeMap::from([(0, format!("{n}:10911"))])))
            .collect();
        assert_eq!(clean_offline_brokers(&routes, &mut brokers), ["c", "d"]);
        let mut left: Vec<&String> = brokers.keys().collect();
        left.sort();
        assert_eq!(left, ["a", "b"]);
        routes.insert("T1".to_string(), route(&["a"]));
        assert!(clean_offline_brokers(&routes, &mut brokers).is_empty());
        routes.remove("T2");
        assert_eq!(clean_offline_brokers(&routes, &mut brokers), ["b"]);
    }
}
