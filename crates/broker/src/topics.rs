//! [`TopicTable`]: the broker's topic configurations and their [`DataVersion`], persisted as
//! `config/topics.json` (a `TopicConfigSerializeWrapper`).
//!
//! Invariants: every change bumps the version (the nameserver only takes queue data from a
//! registration whose version changed); system topics exist from the start; topic names obey
//! Apache's rule (`^[%|a-zA-Z0-9_-]+$`, at most 127 bytes). The send path reads a small `Copy`
//! [`TopicInfo`] so no string is cloned per message.

use std::collections::HashMap;
use std::sync::RwLock;

use rmq_remoting::body::{DataVersion, TopicConfig, TopicConfigSerializeWrapper, TopicFilterType};

use crate::config::BrokerConfig;

/// Permission bits (`PermName`).
pub mod perm {
    /// Readable.
    pub const READ: i32 = 4;
    /// Writable.
    pub const WRITE: i32 = 2;
    /// Template for auto-created topics.
    pub const INHERIT: i32 = 1;

    /// Whether `p` allows reads.
    pub fn readable(p: i32) -> bool {
        p & READ != 0
    }

    /// Whether `p` allows writes.
    pub fn writeable(p: i32) -> bool {
        p & WRITE != 0
    }
}

/// The auto-create template topic.
pub const TBW102: &str = "TBW102";
/// Where delayed messages wait (queue = level − 1).
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// Prefix of retry topics.
pub const RETRY_PREFIX: &str = "%RETRY%";
/// Prefix of dead-letter topics.
pub const DLQ_PREFIX: &str = "%DLQ%";
/// Longest topic name.
pub const TOPIC_MAX_LEN: usize = 127;

/// The parts of a topic config the hot paths need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicInfo {
    /// Permission bits.
    pub perm: i32,
    /// Readable queues.
    pub read_queue_nums: i32,
    /// Writable queues.
    pub write_queue_nums: i32,
    /// Topic sys flag.
    pub topic_sys_flag: i32,
    /// Ordered topic.
    pub order: bool,
}

impl From<&TopicConfig> for TopicInfo {
    fn from(tc: &TopicConfig) -> Self {
        TopicInfo {
            perm: tc.perm,
            read_queue_nums: tc.read_queue_nums,
            write_queue_nums: tc.write_queue_nums,
            topic_sys_flag: tc.topic_sys_flag,
            order: tc.order,
        }
    }
}

/// Why a topic name is refused; the text is the remark Apache sends.
pub fn validate_topic_name(topic: &str) -> Result<(), String> {
    if topic.trim().is_empty() {
        return Err("The specified topic is blank.".to_string());
    }
    if topic.len() > TOPIC_MAX_LEN {
        return Err(format!(
            "The specified topic is longer than topic max length {TOPIC_MAX_LEN}."
        ));
    }
    if !topic
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
    {
        return Err(format!(
            "The specified topic[{}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$",
            rmq_remoting::clip(topic)
        ));
    }
    Ok(())
}

/// Whether `topic` is one the broker reserves for itself (admin may not create or delete it).
pub fn is_system_topic(topic: &str, cfg: &BrokerConfig) -> bool {
    matches!(
        topic,
        TBW102
            | SCHEDULE_TOPIC
            | "BenchmarkTest"
            | "RMQ_SYS_TRANS_HALF_TOPIC"
            | "RMQ_SYS_TRACE_TOPIC"
            | "RMQ_SYS_TRANS_OP_HALF_TOPIC"
            | "TRANS_CHECK_MAX_TIME_TOPIC"
            | "SELF_TEST_TOPIC"
            | "OFFSET_MOVED_EVENT"
    ) || topic == cfg.broker_cluster_name
        || topic == cfg.broker_name
        || topic == format!("{}_REPLY_TOPIC", cfg.broker_cluster_name)
}

#[derive(Debug, Default)]
struct Inner {
    version: DataVersion,
    topics: HashMap<String, TopicConfig>,
}

/// All topics of this broker. The lock guards the map and its version together.
#[derive(Debug, Default)]
pub struct TopicTable {
    inner: RwLock<Inner>,
}

impl TopicTable {
    /// A table holding the system topics for `cfg`, stamped `now_ms`.
    pub fn new(cfg: &BrokerConfig, now_ms: i64) -> TopicTable {
        let table = TopicTable {
            inner: RwLock::new(Inner {
                version: DataVersion::new(now_ms),
                topics: HashMap::new(),
            }),
        };
        for tc in system_topics(cfg) {
            table.write().topics.insert(tc.topic_name.clone(), tc);
        }
        table
    }

    /// Replaces the table with a persisted one (system topics are kept when missing from it).
    pub fn load(&self, wrapper: TopicConfigSerializeWrapper) {
        let mut inner = self.write();
        inner.version = wrapper.data_version;
        for (name, mut tc) in wrapper.topic_config_table {
            tc.topic_name = name.clone();
            inner.topics.insert(name, tc);
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The hot-path view of one topic.
    pub fn get(&self, topic: &str) -> Option<TopicInfo> {
        self.read().topics.get(topic).map(TopicInfo::from)
    }

    /// A full copy of one topic's config.
    pub fn config(&self, topic: &str) -> Option<TopicConfig> {
        self.read().topics.get(topic).cloned()
    }

    /// How many topics the broker holds.
    pub fn len(&self) -> usize {
        self.read().topics.len()
    }

    /// Whether the broker holds no topic at all.
    pub fn is_empty(&self) -> bool {
        self.read().topics.is_empty()
    }

    /// Whether the topic exists.
    pub fn contains(&self, topic: &str) -> bool {
        self.read().topics.contains_key(topic)
    }

    /// The current version.
    pub fn version(&self) -> DataVersion {
        self.read().version
    }

    /// Creates or replaces a topic; returns false (and leaves the version) when nothing changed.
    pub fn put(&self, tc: TopicConfig, now_ms: i64) -> bool {
        let mut inner = self.write();
        if inner.topics.get(&tc.topic_name) == Some(&tc) {
            return false;
        }
        inner.topics.insert(tc.topic_name.clone(), tc);
        inner.version.next_version(now_ms);
        true
    }

    /// Deletes a topic; returns whether it existed.
    pub fn remove(&self, topic: &str, now_ms: i64) -> bool {
        let mut inner = self.write();
        let existed = inner.topics.remove(topic).is_some();
        if existed {
            inner.version.next_version(now_ms);
        }
        existed
    }

    /// Creates `topic` from the template `default_topic` on a producer's first send
    /// (`createTopicInSendMessageMethod`). Returns the new config, or `None` when the template
    /// is missing or lacks the INHERIT bit. An existing topic is returned unchanged.
    pub fn create_from_template(
        &self,
        topic: &str,
        default_topic: &str,
        queue_nums: i32,
        topic_sys_flag: i32,
        now_ms: i64,
    ) -> Option<(TopicConfig, bool)> {
        let mut inner = self.write();
        if let Some(tc) = inner.topics.get(topic) {
            return Some((tc.clone(), false));
        }
        let template = inner.topics.get(default_topic)?;
        if template.perm & perm::INHERIT == 0 {
            return None;
        }
        let queues = queue_nums.clamp(1, template.write_queue_nums.max(1));
        let tc = TopicConfig {
            topic_name: topic.to_string(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: template.perm & !perm::INHERIT,
            topic_sys_flag,
            topic_filter_type: TopicFilterType::SINGLE_TAG,
            order: false,
        };
        inner.topics.insert(topic.to_string(), tc.clone());
        inner.version.next_version(now_ms);
        Some((tc, true))
    }

    /// Gets or creates a broker-owned topic such as `%RETRY%g` or `%DLQ%g` with `queues` queues
    /// and `perm`; the flag says whether it was created.
    pub fn get_or_create(&self, topic: &str, queues: i32, perm: i32, now_ms: i64) -> (TopicInfo, bool) {
        if let Some(info) = self.get(topic) {
            return (info, false);
        }
        let mut inner = self.write();
        if let Some(tc) = inner.topics.get(topic) {
            return (TopicInfo::from(tc), false);
        }
        let tc = TopicConfig {
            perm,
            ..TopicConfig::new(topic, queues)
        };
        let info = TopicInfo::from(&tc);
        inner.topics.insert(topic.to_string(), tc);
        inner.version.next_version(now_ms);
        (info, true)
    }

    /// Makes every `(topic, queue id)` servable: an unknown topic is created readable and
    /// writable with as many queues as the highest queue id seen needs, and a known topic whose
    /// read queue count is too small for a queue id is widened. Used by a slave for records its
    /// master replicated before the metadata sync told it of their topic. Names that break
    /// Apache's topic rule are skipped. Returns the topics created or widened.
    pub fn learn_queues<'a>(
        &self,
        queues: impl IntoIterator<Item = (&'a str, i32)>,
        now_ms: i64,
    ) -> Vec<String> {
        let mut needed: HashMap<&str, i32> = HashMap::new();
        {
            let inner = self.read();
            for (topic, queue_id) in queues {
                if queue_id < 0
                    || inner
                        .topics
                        .get(topic)
                        .is_some_and(|t| queue_id < t.read_queue_nums)
                {
                    continue;
                }
                let n = needed.entry(topic).or_insert(0);
                *n = (*n).max(queue_id + 1);
            }
        }
        if needed.is_empty() {
            return Vec::new();
        }
        let mut inner = self.write();
        let mut learned = Vec::new();
        for (topic, queues) in needed {
            if validate_topic_name(topic).is_err() {
                continue;
            }
            match inner.topics.get_mut(topic) {
                Some(tc) if tc.read_queue_nums >= queues => continue,
                Some(tc) => tc.read_queue_nums = queues,
                None => {
                    let tc = TopicConfig {
                        perm: perm::READ | perm::WRITE,
                        ..TopicConfig::new(topic, queues)
                    };
                    inner.topics.insert(topic.to_string(), tc);
                }
            }
            learned.push(topic.to_string());
        }
        if !learned.is_empty() {
            inner.version.next_version(now_ms);
        }
        learned
    }

    /// A snapshot for GET_ALL_TOPIC_CONFIG, topics.json and registration.
    pub fn wrapper(&self) -> TopicConfigSerializeWrapper {
        let inner = self.read();
        TopicConfigSerializeWrapper {
            data_version: inner.version,
            topic_config_table: inner.topics.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }

    /// Every topic name.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read().topics.keys().cloned().collect();
        names.sort();
        names
    }

    /// Replaces the whole table with a master's (a slave's periodic sync); returns whether it changed.
    pub fn replace_all(&self, wrapper: TopicConfigSerializeWrapper) -> bool {
        let mut inner = self.write();
        if inner.version == wrapper.data_version {
            return false;
        }
        inner.version = wrapper.data_version;
        inner.topics = wrapper.topic_config_table.into_iter().collect();
        true
    }
}

/// The topics a broker creates for itself (`TopicConfigManager`'s constructor).
fn system_topics(cfg: &BrokerConfig) -> Vec<TopicConfig> {
    let rw = perm::READ | perm::WRITE;
    let mut topics = Vec::new();
    if cfg.auto_create_topic_enable {
        topics.push(TopicConfig {
            perm: rw | perm::INHERIT,
            ..TopicConfig::new(TBW102, cfg.default_topic_queue_nums)
        });
    }
    topics.push(TopicConfig::new(SCHEDULE_TOPIC, cfg.delay_levels().len() as i32));
    topics.push(TopicConfig::new("BenchmarkTest", 1024));
    topics.push(TopicConfig::new("SELF_TEST_TOPIC", 1));
    topics.push(TopicConfig::new("OFFSET_MOVED_EVENT", 1));
    topics.push(TopicConfig::new(
        format!("{}_REPLY_TOPIC", cfg.broker_cluster_name),
        1,
    ));
    if cfg.cluster_topic_enable {
        topics.push(TopicConfig::new(cfg.broker_cluster_name.clone(), 16));
    }
    if cfg.broker_topic_enable {
        topics.push(TopicConfig::new(cfg.broker_name.clone(), 1));
    }
    topics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_topics_exist_and_names_validate() {
        let cfg = BrokerConfig::default();
        let t = TopicTable::new(&cfg, 1);
        assert_eq!(t.get(TBW102).unwrap().perm, 7);
        assert_eq!(t.get(SCHEDULE_TOPIC).unwrap().write_queue_nums, 18);
        assert!(t.contains("DefaultCluster") && t.contains("broker-a"));
        assert!(validate_topic_name("Topic_A-1%|x").is_ok());
        assert!(validate_topic_name(" ").is_err());
        assert!(validate_topic_name("a b").is_err());
        assert!(validate_topic_name(&"x".repeat(128)).is_err());
        assert!(is_system_topic("SCHEDULE_TOPIC_XXXX", &cfg));
        assert!(!is_system_topic("TopicTest", &cfg));
    }

    #[test]
    fn auto_create_clamps_and_bumps_version() {
        let cfg = BrokerConfig {
            default_topic_queue_nums: 4,
            ..Default::default()
        };
        let t = TopicTable::new(&cfg, 1);
        let v0 = t.version();
        let (tc, created) = t.create_from_template("T1", TBW102, 16, 0, 5).unwrap();
        assert!(created);
        assert_eq!((tc.read_queue_nums, tc.write_queue_nums, tc.perm), (4, 4, 6));
        assert_eq!(t.version().counter, v0.counter + 1);
        assert!(!t.create_from_template("T1", TBW102, 2, 0, 6).unwrap().1);
        assert!(
            t.create_from_template("T2", "T1", 2, 0, 6).is_none(),
            "T1 has no INHERIT bit"
        );
        assert!(t.create_from_template("T3", "missing", 2, 0, 6).is_none());
    }

    #[test]
    fn put_remove_and_wrapper_round_trip() {
        let cfg = BrokerConfig {
            auto_create_topic_enable: false,
            ..Default::default()
        };
        let t = TopicTable::new(&cfg, 1);
        assert!(t.get(TBW102).is_none());
        assert!(t.put(TopicConfig::new("A", 3), 2));
        assert!(!t.put(TopicConfig::new("A", 3), 3), "same config is no change");
        let w = t.wrapper();
        let t2 = TopicTable::new(&cfg, 9);
        t2.load(w.clone());
        assert_eq!(t2.get("A").unwrap().write_queue_nums, 3);
        assert_eq!(t2.version(), w.data_version);
        assert!(t.remove("A", 4));
        assert!(!t.remove("A", 5));
        let (info, created) = t.get_or_create("%RETRY%g", 1, 6, 6);
        assert!(created && info.write_queue_nums == 1);
    }
}
