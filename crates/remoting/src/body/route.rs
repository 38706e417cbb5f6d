//! `TopicRouteData` (the GET_ROUTEINFO_BY_TOPIC reply body) with its `QueueData` and `BrokerData`.
//!
//! Output is the one form every client tried accepts (protocol.md §11): standard JSON with quoted
//! `brokerAddrs` keys, `"enableActingMaster":false` in every `BrokerData` (the rocketmq-rust client
//! requires it), and the queue flag under both its 4.9 name `topicSysFlag` and its pre-4.9 name
//! `topicSynFlag`. Input may use unquoted keys (older namesrvs, cluster info) and either flag name.
//! Fields are declared in alphabetical order, the order fastjson writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::JsonBody;

/// Permission bits of a queue (`PermName`).
pub mod perm {
    /// Priority (unused by 4.x clients).
    pub const PRIORITY: i32 = 8;
    /// Readable.
    pub const READ: i32 = 4;
    /// Writable.
    pub const WRITE: i32 = 2;
    /// Template topic whose config new topics inherit (TBW102).
    pub const INHERIT: i32 = 1;

    /// Whether `perm` has the read bit.
    pub fn is_readable(perm: i32) -> bool {
        perm & READ != 0
    }

    /// Whether `perm` has the write bit.
    pub fn is_writeable(perm: i32) -> bool {
        perm & WRITE != 0
    }

    /// mqadmin's rendering: `RW-`, `R--`, `-W-`, with `X` for inherit.
    pub fn to_string(perm: i32) -> String {
        let r = if perm & READ != 0 { 'R' } else { '-' };
        let w = if perm & WRITE != 0 { 'W' } else { '-' };
        let x = if perm & INHERIT != 0 { 'X' } else { '-' };
        format!("{r}{w}{x}")
    }
}

/// Broker id of a master.
pub const MASTER_ID: i64 = 0;

/// A topic's route: which brokers hold how many queues.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicRouteData {
    /// One entry per broker name holding the topic.
    pub broker_datas: Vec<BrokerData>,
    /// Filter servers per broker address (always empty here).
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// `brokerName:queueCount;…` for ordered topics, when the namesrv has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    /// Queue counts and permissions per broker name.
    pub queue_datas: Vec<QueueData>,
}

impl JsonBody for TopicRouteData {}

/// The queues one broker name holds for a topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "QueueDataWire", into = "QueueDataWire")]
pub struct QueueData {
    /// Broker name.
    pub broker_name: String,
    /// Permission bits ([`perm`]).
    pub perm: i32,
    /// Readable queues.
    pub read_queue_nums: i32,
    /// Topic system flag (0 for normal topics).
    pub topic_sys_flag: i32,
    /// Writable queues.
    pub write_queue_nums: i32,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueueDataWire {
    #[serde(default)]
    broker_name: String,
    #[serde(default)]
    perm: i32,
    #[serde(default)]
    read_queue_nums: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic_syn_flag: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic_sys_flag: Option<i32>,
    #[serde(default)]
    write_queue_nums: i32,
}

impl From<QueueDataWire> for QueueData {
    fn from(w: QueueDataWire) -> Self {
        QueueData {
            broker_name: w.broker_name,
            perm: w.perm,
            read_queue_nums: w.read_queue_nums,
            topic_sys_flag: w.topic_sys_flag.or(w.topic_syn_flag).unwrap_or(0),
            write_queue_nums: w.write_queue_nums,
        }
    }
}

impl From<QueueData> for QueueDataWire {
    fn from(q: QueueData) -> Self {
        QueueDataWire {
            broker_name: q.broker_name,
            perm: q.perm,
            read_queue_nums: q.read_queue_nums,
            topic_syn_flag: Some(q.topic_sys_flag),
            topic_sys_flag: Some(q.topic_sys_flag),
            write_queue_nums: q.write_queue_nums,
        }
    }
}

impl QueueData {
    /// Whether the queues are readable.
    pub fn is_readable(&self) -> bool {
        perm::is_readable(self.perm)
    }

    /// Whether the queues are writable.
    pub fn is_writeable(&self) -> bool {
        perm::is_writeable(self.perm)
    }
}

/// The addresses of one broker name (master id 0, slaves > 0).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerData {
    /// Broker id → `ip:port`.
    pub broker_addrs: BTreeMap<i64, String>,
    /// Broker name.
    pub broker_name: String,
    /// Cluster name.
    pub cluster: String,
    /// 5.x acting-master flag; always written (false) because some clients require it.
    pub enable_acting_master: bool,
}

impl BrokerData {
    /// A broker data with no addresses yet.
    pub fn new(cluster: impl Into<String>, broker_name: impl Into<String>) -> Self {
        BrokerData {
            cluster: cluster.into(),
            broker_name: broker_name.into(),
            ..Default::default()
        }
    }

    /// The master's address, if a master is registered.
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&MASTER_ID).map(String::as_str)
    }

    /// The master's address, else the slave with the lowest id (Java `selectBrokerAddr` picks a
    /// random one; the lowest keeps tests deterministic).
    pub fn select_broker_addr(&self) -> Option<&str> {
        self.master_addr()
            .or_else(|| self.broker_addrs.values().next().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPP_ROUTE: &str = r#"{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:20911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":7,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}"#;
    const JAVA_ROUTE: &str = r#"{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:30911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#;

    #[test]
    fn parses_both_transcript_forms() {
        let cpp = TopicRouteData::decode(CPP_ROUTE.as_bytes()).unwrap();
        assert_eq!(cpp.broker_datas[0].master_addr(), Some("127.0.0.1:20911"));
        assert_eq!(cpp.queue_datas[0].perm, 7);
        assert_eq!(cpp.queue_datas[0].write_queue_nums, 8);
        let java = TopicRouteData::decode(JAVA_ROUTE.as_bytes()).unwrap();
        assert_eq!(java.broker_datas[0].broker_addrs[&0], "127.0.0.1:30911");
        assert_eq!(java.broker_datas[0].cluster, "DefaultCluster");
        assert!(!java.broker_datas[0].enable_acting_master);
        assert_eq!(java.order_topic_conf, None);
    }

    #[test]
    fn parses_protocol_md_example() {
        let text = r#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],
 "filterServerTable":{},
 "orderTopicConf":"broker-a:4;broker-b:4",
 "queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#;
        let route = TopicRouteData::decode(text.as_bytes()).unwrap();
        assert_eq!(route.order_topic_conf.as_deref(), Some("broker-a:4;broker-b:4"));
        assert_eq!(route.broker_datas[0].broker_addrs[&1], "10.0.0.2:10911");
        assert!(route.queue_datas[0].is_readable() && route.queue_datas[0].is_writeable());
    }

    #[test]
    fn writes_the_compatible_form() {
        let route = TopicRouteData::decode(JAVA_ROUTE.as_bytes()).unwrap();
        let text = route.to_json();
        assert_eq!(
            text,
            r#"{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:30911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSynFlag":0,"topicSysFlag":0,"writeQueueNums":4}]}"#
        );
        assert_eq!(TopicRouteData::decode(text.as_bytes()).unwrap(), route);
    }

    #[test]
    fn accepts_either_flag_name() {
        let old: QueueData =
            crate::body::from_fastjson(br#"{"brokerName":"b","perm":6,"topicSynFlag":3}"#).unwrap();
        assert_eq!(old.topic_sys_flag, 3);
        let both: QueueData =
            crate::body::from_fastjson(br#"{"brokerName":"b","topicSynFlag":3,"topicSysFlag":5}"#).unwrap();
        assert_eq!(both.topic_sys_flag, 5);
    }

    #[test]
    fn broker_addr_selection_and_perm_text() {
        let mut b = BrokerData::new("c", "b");
        assert_eq!(b.select_broker_addr(), None);
        b.broker_addrs.insert(2, "s2".into());
        b.broker_addrs.insert(1, "s1".into());
        assert_eq!(b.select_broker_addr(), Some("s1"));
        b.broker_addrs.insert(0, "m".into());
        assert_eq!(b.select_broker_addr(), Some("m"));
        assert_eq!(perm::to_string(6), "RW-");
        assert_eq!(perm::to_string(7), "RWX");
        assert_eq!(perm::to_string(4), "R--");
    }
}
