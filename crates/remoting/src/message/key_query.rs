//! The client half of a query by key (Apache's `MQAdminImpl.queryMessage`), shared by the client
//! and mqadmin: which broker of a group to ask, and which returned records to keep. A broker
//! matches key *hashes* only, so records of a colliding key can come back and are dropped here.

use crate::body::BrokerData;
use crate::message::properties::keys;
use crate::message::MessageRecord;

/// The address to query in a broker group: the master, else the slave with the lowest id
/// (Apache picks a random slave; any copy of the group answers the same).
pub fn query_addr(bd: &BrokerData) -> Option<&str> {
    bd.broker_addrs.values().next().map(String::as_str)
}

/// A key query keeps records of `topic` whose `KEYS` (split on spaces) contain `key`.
pub fn keep_for_key(rec: &MessageRecord, topic: &str, key: &str) -> bool {
    rec.topic == topic
        && rec
            .property(keys::KEYS)
            .is_some_and(|list| list.split(' ').any(|k| k == key))
}

/// A unique-key query keeps records whose client message id (`UNIQ_KEY`) is `key`.
pub fn keep_for_unique_key(rec: &MessageRecord, key: &str) -> bool {
    rec.property(keys::UNIQ_KEY) == Some(key)
}

/// Of the records with one unique key (a retried send can store it twice), the one stored
/// first, as Apache's client keeps.
pub fn oldest(records: Vec<MessageRecord>) -> Option<MessageRecord> {
    records.into_iter().min_by_key(|r| r.store_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn rec(topic: &str, props: &str, ts: i64) -> MessageRecord {
        MessageRecord {
            topic: topic.into(),
            properties: props.into(),
            store_timestamp: ts,
            ..Default::default()
        }
    }

    #[test]
    fn filters_collisions_and_other_topics() {
        let r = rec("T", "KEYS\u{1}a bb\u{2}UNIQ_KEY\u{1}U1", 5);
        assert!(keep_for_key(&r, "T", "a") && keep_for_key(&r, "T", "bb"));
        assert!(!keep_for_key(&r, "T", "b"), "a token, not a substring");
        assert!(!keep_for_key(&r, "X", "a"));
        assert!(keep_for_unique_key(&r, "U1") && !keep_for_unique_key(&r, "U2"));
        let first = oldest(vec![rec("T", "", 9), rec("T", "", 3), rec("T", "", 7)]).unwrap();
        assert_eq!(first.store_timestamp, 3);
        assert!(oldest(Vec::new()).is_none());
    }

    #[test]
    fn asks_the_master_else_a_slave() {
        let mut bd = BrokerData {
            broker_addrs: BTreeMap::from([(2, "s2".to_string()), (1, "s1".to_string())]),
            broker_name: "b".into(),
            cluster: "c".into(),
            enable_acting_master: false,
        };
        assert_eq!(query_addr(&bd), Some("s1"));
        bd.broker_addrs.insert(0, "m".into());
        assert_eq!(query_addr(&bd), Some("m"));
        bd.broker_addrs.clear();
        assert_eq!(query_addr(&bd), None);
    }
}
