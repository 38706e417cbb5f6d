//! What readers get from the [`RouteTable`]: a topic's route, the cluster picture, the topic list;
//! plus the admin operations on queue data (write permission, topic deletion).
//!
//! The route is computed, not stored: a group whose master (id 0) is gone but which still has a
//! slave is shown with the master's last queue data made read-only (`writeQueueNums` 0, the write
//! bit cleared), so producers stop writing there while consumers keep reading from the slave.

use rmq_remoting::body::route::{perm, MASTER_ID};
use rmq_remoting::body::{BrokerData, ClusterInfo, TopicList, TopicRouteData};

use super::RouteTable;

impl RouteTable {
    /// The route of `topic`, or `None` when no group holding it is registered.
    pub fn topic_route(&self, topic: &str) -> Option<TopicRouteData> {
        let queues = self.topics.get(topic)?;
        let mut route = TopicRouteData::default();
        for (name, queue) in queues {
            let Some(group) = self.groups.get(name) else {
                continue;
            };
            let mut queue = queue.clone();
            if !group.broker_addrs.contains_key(&MASTER_ID) {
                queue.write_queue_nums = 0;
                queue.perm &= !perm::WRITE;
            }
            route.broker_datas.push(group.clone());
            route.queue_datas.push(queue);
        }
        if route.broker_datas.is_empty() {
            None
        } else {
            Some(route)
        }
    }

    /// Every group by name and every cluster's group names.
    pub fn cluster_info(&self) -> ClusterInfo {
        ClusterInfo {
            broker_addr_table: self.groups.clone(),
            cluster_addr_table: self.clusters.clone(),
        }
    }

    /// Every topic that has queue data.
    pub fn topic_list(&self) -> TopicList {
        TopicList {
            broker_addr: None,
            topic_list: self.topics.keys().cloned().collect(),
        }
    }

    /// Topics held by the groups of `cluster` (GET_TOPICS_BY_CLUSTER).
    pub fn topics_of_cluster(&self, cluster: &str) -> TopicList {
        let names = self.clusters.get(cluster);
        let topic_list = self
            .topics
            .iter()
            .filter(|(_, queues)| names.is_some_and(|names| queues.keys().any(|n| names.contains(n))))
            .map(|(topic, _)| topic.clone())
            .collect();
        TopicList {
            broker_addr: None,
            topic_list,
        }
    }

    /// WIPE_WRITE_PERM_OF_BROKER: clears the write bit of every topic on `broker_name`.
    /// Returns the number of topics touched.
    pub fn wipe_write_perm(&mut self, broker_name: &str) -> i32 {
        self.update_perm(broker_name, |p| p & !perm::WRITE)
    }

    /// ADD_WRITE_PERM_OF_BROKER: sets every topic on `broker_name` back to read-write (perm 6, as
    /// Apache does). Returns the number of topics touched.
    pub fn add_write_perm(&mut self, broker_name: &str) -> i32 {
        self.update_perm(broker_name, |_| perm::READ | perm::WRITE)
    }

    fn update_perm(&mut self, broker_name: &str, change: impl Fn(i32) -> i32) -> i32 {
        let mut touched = 0;
        for queues in self.topics.values_mut() {
            if let Some(queue) = queues.get_mut(broker_name) {
                queue.perm = change(queue.perm);
                touched += 1;
            }
        }
        touched
    }

    /// DELETE_TOPIC_IN_NAMESRV: removes `topic`, or with a cluster only that cluster's queue data
    /// of it. Returns whether anything was removed. A broker that still has the topic brings it
    /// back with its next changed table, as in Apache.
    pub fn delete_topic(&mut self, topic: &str, cluster: Option<&str>) -> bool {
        let Some(cluster) = cluster else {
            return self.topics.remove(topic).is_some();
        };
        let (Some(names), Some(queues)) = (self.clusters.get(cluster), self.topics.get_mut(topic)) else {
            return false;
        };
        let before = queues.len();
        queues.retain(|name, _| !names.contains(name));
        let removed = queues.len() != before;
        if queues.is_empty() {
            self.topics.remove(topic);
        }
        removed
    }

    /// Groups by name (for tests and diagnostics).
    pub fn groups(&self) -> impl Iterator<Item = &BrokerData> {
        self.groups.values()
    }
}
