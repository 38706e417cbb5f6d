//! [`ConsumerOffsets`]: each consumer group's committed offset per queue, persisted as
//! `config/consumerOffset.json` (`{"offsetTable":{"<topic>@<group>":{"0":12,"1":30}}}`), and
//! [`DelayOffsets`]: how far each delay level has been delivered (`config/delayOffset.json`).
//!
//! Writes only mark the table dirty; a background task persists it every
//! `flushConsumerOffsetInterval` and at shutdown, so the commit path costs one map insert. The
//! reader accepts both standard JSON and fastjson's unquoted integer keys (Apache's files).

use crate::persist::DirtyFlag;
use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

/// The file form of the consumer offsets (and the GET_ALL_CONSUMER_OFFSET body).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetTableBody {
    /// `topic@group` → queue id → offset.
    pub offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

/// The file form of the delay offsets (and the GET_ALL_DELAY_OFFSET body).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DelayOffsetBody {
    /// Delay level → offset delivered up to in `SCHEDULE_TOPIC_XXXX` queue `level − 1`.
    pub offset_table: BTreeMap<i32, i64>,
}

fn key(topic: &str, group: &str) -> String {
    let mut k = String::with_capacity(topic.len() + group.len() + 1);
    k.push_str(topic);
    k.push('@');
    k.push_str(group);
    k
}

/// Committed consumer offsets. The lock guards the whole table; it is held for one map
/// operation at a time.
#[derive(Debug, Default)]
pub struct ConsumerOffsets {
    table: RwLock<HashMap<String, HashMap<i32, i64>>>,
    dirty: DirtyFlag,
}

impl ConsumerOffsets {
    /// Stores `offset` for (group, topic, queue).
    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        let k = key(topic, group);
        let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
        let queues = t.entry(k).or_default();
        if queues.insert(queue_id, offset) != Some(offset) {
            self.dirty.mark();
        }
    }

    /// The committed offset of (group, topic, queue), if any.
    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        let t = self.table.read().unwrap_or_else(|e| e.into_inner());
        t.get(&key(topic, group)).and_then(|q| q.get(&queue_id)).copied()
    }

    /// Every queue's offset of (group, topic).
    pub fn queues(&self, group: &str, topic: &str) -> HashMap<i32, i64> {
        let t = self.table.read().unwrap_or_else(|e| e.into_inner());
        t.get(&key(topic, group)).cloned().unwrap_or_default()
    }

    /// Topics `group` has offsets for.
    pub fn topics_of_group(&self, group: &str) -> Vec<String> {
        let t = self.table.read().unwrap_or_else(|e| e.into_inner());
        let mut topics: Vec<String> = t
            .keys()
            .filter_map(|k| k.rsplit_once('@'))
            .filter(|(_, g)| *g == group)
            .map(|(topic, _)| topic.to_string())
            .collect();
        topics.sort();
        topics
    }

    /// Groups that have offsets for `topic`.
    pub fn groups_of_topic(&self, topic: &str) -> Vec<String> {
        let t = self.table.read().unwrap_or_else(|e| e.into_inner());
        t.keys()
            .filter_map(|k| k.rsplit_once('@'))
            .filter(|(tp, _)| *tp == topic)
            .map(|(_, g)| g.to_string())
            .collect()
    }

    /// Forgets every group's offsets of `topic` (topic deletion).
    pub fn remove_topic(&self, topic: &str) {
        let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
        let before = t.len();
        t.retain(|k, _| k.rsplit_once('@').map(|(tp, _)| tp) != Some(topic));
        if t.len() != before {
            self.dirty.mark();
        }
    }

    /// Forgets every offset of `group` (subscription group deletion); returns how many
    /// (topic, group) entries went.
    pub fn remove_group(&self, group: &str) -> usize {
        let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
        let before = t.len();
        t.retain(|k, _| k.rsplit_once('@').map(|(_, g)| g) != Some(group));
        let removed = before - t.len();
        if removed > 0 {
            self.dirty.mark();
        }
        removed
    }

    /// Forgets the offsets of every (topic, group) that `known` refuses; returns how many
    /// entries went. Run before the table is persisted, so offsets of deleted topics and of
    /// groups that do not exist do not pile up in `consumerOffset.json`.
    pub fn retain_known(&self, mut known: impl FnMut(&str, &str) -> bool) -> usize {
        let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
        let before = t.len();
        t.retain(|k, _| {
            k.rsplit_once('@')
                .is_some_and(|(topic, group)| known(topic, group))
        });
        let removed = before - t.len();
        if removed > 0 {
            self.dirty.mark();
        }
        removed
    }

    /// A snapshot in the file form.
    pub fn to_body(&self) -> OffsetTableBody {
        let t = self.table.read().unwrap_or_else(|e| e.into_inner());
        OffsetTableBody {
            offset_table: t
                .iter()
                .map(|(k, q)| (k.clone(), q.iter().map(|(a, b)| (*a, *b)).collect()))
                .collect(),
        }
    }

    /// Loads (or, for a slave's sync, replaces) the table.
    pub fn load(&self, body: OffsetTableBody) {
        let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
        *t = body
            .offset_table
            .into_iter()
            .map(|(k, q)| (k, q.into_iter().collect()))
            .collect();
        self.dirty.mark();
    }

    /// Whether the table changed since it was last saved.
    pub fn dirty(&self) -> &DirtyFlag {
        &self.dirty
    }
}

/// Delivery progress of each delay level.
#[derive(Debug, Default)]
pub struct DelayOffsets {
    table: RwLock<BTreeMap<i32, i64>>,
    dirty: DirtyFlag,
}

impl DelayOffsets {
    /// The offset delivered up to for `level`.
    pub fn get(&self, level: i32) -> i64 {
        self.table
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&level)
            .copied()
            .unwrap_or(0)
    }

    /// Records progress of `level`.
    pub fn set(&self, level: i32, offset: i64) {
        let mut t = self.table.write().unwrap_or_else(|e| e.into_inner());
        if t.insert(level, offset) != Some(offset) {
            self.dirty.mark();
        }
    }

    /// A snapshot in the file form.
    pub fn to_body(&self) -> DelayOffsetBody {
        DelayOffsetBody {
            offset_table: self.table.read().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }

    /// Loads the table.
    pub fn load(&self, body: DelayOffsetBody) {
        *self.table.write().unwrap_or_else(|e| e.into_inner()) = body.offset_table;
    }

    /// Whether the table changed since it was last saved.
    pub fn dirty(&self) -> &DirtyFlag {
        &self.dirty
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::body::from_fastjson;

    #[test]
    fn commit_query_and_dirty() {
        let o = ConsumerOffsets::default();
        assert_eq!(o.query("g", "T", 0), None);
        o.commit("g", "T", 0, 5);
        o.commit("g", "T", 1, 7);
        o.commit("h", "T@x", 0, 1);
        assert!(o.dirty().take());
        assert!(!o.dirty().take());
        o.commit("g", "T", 0, 5);
        assert!(!o.dirty().take(), "same value is not a change");
        assert_eq!(o.query("g", "T", 1), Some(7));
        assert_eq!(o.topics_of_group("g"), vec!["T".to_string()]);
        assert_eq!(o.topics_of_group("h"), vec!["T@x".to_string()]);
        o.remove_topic("T");
        assert_eq!(o.query("g", "T", 0), None);
    }

    #[test]
    fn remove_group_keeps_other_groups() {
        let o = ConsumerOffsets::default();
        o.commit("g", "A", 0, 1);
        o.commit("g", "B", 0, 2);
        o.commit("gg", "A", 0, 3);
        o.dirty().take();
        assert_eq!(o.remove_group("g"), 2);
        assert!(o.dirty().take());
        assert_eq!(o.topics_of_group("g"), Vec::<String>::new());
        assert_eq!(o.query("gg", "A", 0), Some(3));
        assert_eq!(o.remove_group("nobody"), 0);
        assert!(!o.dirty().take());
    }

    #[test]
    fn file_form_round_trips_and_reads_fastjson() {
        let o = ConsumerOffsets::default();
        o.commit("g", "T", 3, 12);
        let text = serde_json::to_string(&o.to_body()).unwrap();
        assert_eq!(text, r#"{"offsetTable":{"T@g":{"3":12}}}"#);
        let java: OffsetTableBody = from_fastjson(br#"{"offsetTable":{"T@g":{0:12,1:30}}}"#).unwrap();
        let o2 = ConsumerOffsets::default();
        o2.load(java);
        assert_eq!(o2.query("g", "T", 1), Some(30));
        let d: DelayOffsetBody = from_fastjson(br#"{"offsetTable":{1:0,2:5}}"#).unwrap();
        let delay = DelayOffsets::default();
        delay.load(d);
        assert_eq!(delay.get(2), 5);
        assert_eq!(delay.get(3), 0);
    }
}
