//! From a topic's route (`TopicRouteData`) to what the clients use (protocol.md §7.1), pure:
//!
//! * the publish list: for an ordered topic the queues named by `orderTopicConf`, in its order;
//!   otherwise, broker names sorted, the writable queues of every broker name that has a master
//!   (a group whose master is gone takes no writes; its slave only serves reads);
//! * the subscribe set: the readable queues of every broker name, master or not, so a consumer
//!   keeps draining a group whose master died.
//!
//! Queue counts come from the nameserver and are expanded into one entry per queue, so each is
//! clamped to [`MAX_QUEUES_PER_BROKER`] first: a broken or hostile value such as 2^31-1 must not
//! exhaust memory. The cap is far above what a broker accepts (UPDATE_AND_CREATE_TOPIC takes at
//! most 1024 here), so no real topic is cut short.

use std::collections::BTreeSet;

use rmq_remoting::body::route::MASTER_ID;
use rmq_remoting::body::TopicRouteData;

use rmq_remoting::body::MessageQueue;
use tracing::warn;

/// The most queues of one topic on one broker name the client believes (`u16::MAX`).
pub const MAX_QUEUES_PER_BROKER: i32 = 65_535;

/// `count` clamped to `0..=MAX_QUEUES_PER_BROKER`, with a warning when it was too large.
fn queue_count(topic: &str, broker: &str, what: &str, count: i32) -> i32 {
    if count > MAX_QUEUES_PER_BROKER {
        warn!(
            topic,
            broker,
            count,
            cap = MAX_QUEUES_PER_BROKER,
            "route {what} too large; clamped"
        );
    }
    count.clamp(0, MAX_QUEUES_PER_BROKER)
}

/// What a producer needs to pick a queue for a topic.
#[derive(Debug, Clone, Default)]
pub struct TopicPublishInfo {
    /// Whether the list came from `orderTopicConf`.
    pub order_topic: bool,
    /// Queues to send to, in selection order.
    pub queues: Vec<MessageQueue>,
    /// The route the list was built from (queue counts per broker name).
    pub route: TopicRouteData,
}

impl TopicPublishInfo {
    /// `topicRouteData2TopicPublishInfo`.
    pub fn from_route(topic: &str, route: &TopicRouteData) -> Self {
        let mut queues = Vec::new();
        let order_conf = route.order_topic_conf.as_deref().filter(|c| !c.trim().is_empty());
        if let Some(conf) = order_conf {
            for entry in conf.split(';') {
                let Some((broker, count)) = entry.split_once(':') else {
                    continue;
                };
                let Ok(count) = count.trim().parse::<i32>() else {
                    continue;
                };
                let broker = broker.trim();
                let count = queue_count(topic, broker, "orderTopicConf count", count);
                queues.extend((0..count).map(|q| MessageQueue::new(topic, broker, q)));
            }
            return TopicPublishInfo {
                order_topic: true,
                queues,
                route: route.clone(),
            };
        }
        let mut queue_datas: Vec<_> = route.queue_datas.iter().collect();
        queue_datas.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
        for qd in queue_datas.into_iter().filter(|qd| qd.is_writeable()) {
            let has_master = route
                .broker_datas
                .iter()
                .any(|bd| bd.broker_name == qd.broker_name && bd.broker_addrs.contains_key(&MASTER_ID));
            if has_master {
                let count = queue_count(topic, &qd.broker_name, "writeQueueNums", qd.write_queue_nums);
                queues.extend((0..count).map(|q| MessageQueue::new(topic, &qd.broker_name, q)));
            }
        }
        TopicPublishInfo {
            order_topic: false,
            queues,
            route: route.clone(),
        }
    }

    /// Whether there is at least one queue to send to.
    pub fn is_usable(&self) -> bool {
        !self.queues.is_empty()
    }

    /// `getQueueIdByBroker`: the write queue count of a broker name in this route.
    pub fn write_queue_nums(&self, broker_name: &str) -> Option<i32> {
        self.route
            .queue_datas
            .iter()
            .find(|qd| qd.broker_name == broker_name)
            .map(|qd| qd.write_queue_nums.clamp(0, MAX_QUEUES_PER_BROKER))
    }
}

/// `topicRouteData2TopicSubscribeInfo`: every readable queue.
pub fn subscribe_queues(topic: &str, route: &TopicRouteData) -> BTreeSet<MessageQueue> {
    route
        .queue_datas
        .iter()
        .filter(|qd| qd.is_readable())
        .flat_map(|qd| {
            let count = queue_count(topic, &qd.broker_name, "readQueueNums", qd.read_queue_nums);
            (0..count).map(move |q| MessageQueue::new(topic, &qd.broker_name, q))
        })
        .collect()
}

/// The route a producer uses for a topic the namesrv does not know yet: the template topic's
/// route (TBW102) with each queue count clamped to `default_queue_nums`; the broker creates the
/// topic on the first send.
pub fn default_topic_route(template: &TopicRouteData, default_queue_nums: i32) -> TopicRouteData {
    let mut route = template.clone();
    for qd in &mut route.queue_datas {
        let n = default_queue_nums.min(qd.read_queue_nums);
        qd.read_queue_nums = n;
        qd.write_queue_nums = n;
    }
    route
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::body::{BrokerData, QueueData};

    fn qd(name: &str, perm: i32, read: i32, write: i32) -> QueueData {
        QueueData {
            broker_name: name.into(),
            perm,
            read_queue_nums: read,
            write_queue_nums: write,
            topic_sys_flag: 0,
        }
    }

    fn bd(name: &str, ids: &[i64]) -> BrokerData {
        let mut b = BrokerData::new("C", name);
        for id in ids {
            b.broker_addrs
                .insert(*id, format!("127.0.0.{}:{}", id + 1, 10911));
        }
        b
    }

    fn names(qs: &[MessageQueue]) -> Vec<String> {
        qs.iter()
            .map(|q| format!("{}@{}#{}", q.topic, q.broker_name, q.queue_id))
            .collect()
    }

    #[test]
    fn publish_list_sorted_and_writable_with_master_only() {
        let route = TopicRouteData {
            broker_datas: vec![bd("b", &[0, 1]), bd("a", &[0]), bd("c", &[1]), bd("d", &[0])],
            queue_datas: vec![
                qd("b", 6, 2, 2),
                qd("a", 6, 2, 1),
                qd("c", 6, 2, 2),
                qd("d", 4, 2, 2),
            ],
            ..Default::default()
        };
        let info = TopicPublishInfo::from_route("T", &route);
        // c has only a slave, d is read-only.
        assert_eq!(names(&info.queues), ["T@a#0", "T@b#0", "T@b#1"]);
        assert!(!info.order_topic);
        assert_eq!(info.write_queue_nums("b"), Some(2));
        assert_eq!(info.write_queue_nums("x"), None);
        // The subscribe set still includes the master-less group c, but not write-only queues.
        let sub: Vec<MessageQueue> = subscribe_queues("T", &route).into_iter().collect();
        assert_eq!(
            names(&sub),
            ["T@a#0", "T@a#1", "T@b#0", "T@b#1", "T@c#0", "T@c#1", "T@d#0", "T@d#1"]
        );
    }

    #[test]
    fn group_losing_its_master_leaves_publish_list_not_subscribe_set() {
        let mut route = TopicRouteData {
            broker_datas: vec![bd("g1", &[0, 1]), bd("g2", &[0, 1])],
            queue_datas: vec![qd("g1", 6, 4, 4), qd("g2", 6, 4, 4)],
            ..Default::default()
        };
        assert_eq!(TopicPublishInfo::from_route("T", &route).queues.len(), 8);
        route.broker_datas[0].broker_addrs.remove(&0);
        let info = TopicPublishInfo::from_route("T", &route);
        assert!(info.queues.iter().all(|q| q.broker_name == "g2"));
        assert_eq!(info.queues.len(), 4);
        assert_eq!(subscribe_queues("T", &route).len(), 8);
        route.broker_datas.clear();
        assert!(!TopicPublishInfo::from_route("T", &route).is_usable());
    }

    #[test]
    fn order_topic_conf_wins() {
        let route = TopicRouteData {
            broker_datas: vec![bd("a", &[0])],
            queue_datas: vec![qd("a", 6, 8, 8)],
            order_topic_conf: Some("b:2;a:1;junk;x:y".into()),
            ..Default::default()
        };
        let info = TopicPublishInfo::from_route("T", &route);
        assert!(info.order_topic);
        assert_eq!(names(&info.queues), ["T@b#0", "T@b#1", "T@a#0"]);
    }

    #[test]
    fn default_route_clamps_queue_counts() {
        let template = TopicRouteData {
            broker_datas: vec![bd("a", &[0])],
            queue_datas: vec![qd("a", 7, 8, 8)],
            ..Default::default()
        };
        let route = default_topic_route(&template, 4);
        assert_eq!(TopicPublishInfo::from_route("New", &route).queues.len(), 4);
    }

    #[test]
    fn absurd_queue_counts_are_clamped() {
        let route = TopicRouteData {
            broker_datas: vec![bd("a", &[0])],
            queue_datas: vec![qd("a", 6, i32::MAX, i32::MAX)],
            ..Default::default()
        };
        let cap = MAX_QUEUES_PER_BROKER as usize;
        let info = TopicPublishInfo::from_route("T", &route);
        assert_eq!(info.queues.len(), cap);
        assert_eq!(info.write_queue_nums("a"), Some(MAX_QUEUES_PER_BROKER));
        assert_eq!(subscribe_queues("T", &route).len(), cap);
        let ordered = TopicRouteData {
            order_topic_conf: Some(format!("a:{};b:-3", i32::MAX)),
            ..route
        };
        assert_eq!(TopicPublishInfo::from_route("T", &ordered).queues.len(), cap);
        // A broker's own limit (1024) is well within the cap.
        let big = TopicRouteData {
            broker_datas: vec![bd("a", &[0])],
            queue_datas: vec![qd("a", 6, 1024, 1024)],
            ..Default::default()
        };
        assert_eq!(TopicPublishInfo::from_route("T", &big).queues.len(), 1024);
    }
}
