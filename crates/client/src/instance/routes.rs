//! The route cache and the broker address table of a [`ClientInstance`]: routes fetched on a
//! topic's first use and refreshed by the instance's route task, the publish lists built from
//! them, and the broker addresses they name.
//!
//! Each route refresh overwrites the addresses of the broker names it mentions, so a master the
//! nameserver dropped disappears from the table and its queues are pulled from a slave; a broker
//! name that no cached route mentions any more is dropped from the table (`cleanOfflineBroker`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use rmq_remoting::body::route::MASTER_ID;
use rmq_remoting::body::TopicRouteData;
use tracing::{debug, info};

use super::ClientInstance;
use crate::error::{ClientError, Result};
use crate::members::ConsumerMember;
use crate::route::{default_topic_route, TopicPublishInfo};

impl ClientInstance {
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
            for member in self.consumer_members() {
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

    /// The registered consumer groups, copied out so that no lock is held while they are asked
    /// for their subscriptions or told to rebalance.
    fn consumer_members(&self) -> Vec<Arc<dyn ConsumerMember>> {
        self.consumers
            .lock()
            .expect("consumers lock")
            .values()
            .cloned()
            .collect()
    }

    /// Every topic this client routes: cached routes, publish lists and subscriptions.
    pub(super) fn topics_of_interest(&self) -> Vec<String> {
        let mut topics: HashSet<String> = self.routes.lock().expect("routes lock").keys().cloned().collect();
        topics.extend(self.publish.lock().expect("publish lock").keys().cloned());
        for member in self.consumer_members() {
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
