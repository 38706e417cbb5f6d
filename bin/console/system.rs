//! Which topics and groups are the broker's own (hidden unless asked for): Apache 4.9's system
//! topic and group names, plus per-broker and per-cluster topics, retry and dead-letter topics.

/// Topics every 4.x broker creates for itself.
const SYSTEM_TOPICS: &[&str] = &[
    "TBW102",
    "SELF_TEST_TOPIC",
    "BenchmarkTest",
    "OFFSET_MOVED_EVENT",
    "SCHEDULE_TOPIC_XXXX",
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "RMQ_SYS_TRACE_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "DefaultCluster",
    "DefaultHeartBeatSyncerTopic",
];

/// A broker's own topic (system names, `rmq_sys_…`, retry and dead-letter topics).
pub fn is_system_topic(topic: &str) -> bool {
    SYSTEM_TOPICS.contains(&topic)
        || topic.starts_with("rmq_sys_")
        || topic.starts_with("RMQ_SYS_")
        || topic.starts_with("%RETRY%")
        || topic.starts_with("%DLQ%")
}

/// A broker's own group (Apache's system groups, the list the broker itself creates).
pub fn is_system_group(group: &str) -> bool {
    rmq_broker::groups::SYSTEM_GROUPS.contains(&group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_names_are_recognised() {
        for t in ["TBW102", "%RETRY%g", "%DLQ%g", "SCHEDULE_TOPIC_XXXX", "rmq_sys_x"] {
            assert!(is_system_topic(t), "{t}");
        }
        assert!(!is_system_topic("TopicTest"));
        assert!(is_system_group("TOOLS_CONSUMER"));
        assert!(!is_system_group("my-group"));
    }
}
