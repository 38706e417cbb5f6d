//! Label values computed at scrape time: `is_system`, `is_retry`, a client's `language` and
//! `version`, a consumer's `consume_mode`.

use rmq_remoting::body::ConsumeType;
use rmq_remoting::LanguageCode;

use crate::config::BrokerConfig;
use crate::topics::{is_system_topic, RETRY_PREFIX};

/// `"true"` / `"false"`.
pub fn bool_label(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// RocketMQ 5's system topic test: the broker's reserved topics and any `rmq_sys_` topic.
pub fn system_topic(topic: &str, cfg: &BrokerConfig) -> bool {
    is_system_topic(topic, cfg) || topic.starts_with("rmq_sys_")
}

/// RocketMQ 5's system group test: a reserved group, or one starting (any case) with
/// `CID_RMQ_SYS_`.
pub fn system_group(group: &str) -> bool {
    const PREFIX: &str = "CID_RMQ_SYS_";
    crate::groups::is_system_group(group)
        || group
            .get(..PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
}

/// Whether `topic` is a retry topic.
pub fn retry_topic(topic: &str) -> bool {
    topic.starts_with(RETRY_PREFIX)
}

/// `language` label: the lower-case Java `LanguageCode` name.
pub fn language(l: LanguageCode) -> String {
    l.name().to_ascii_lowercase()
}

/// `version` label: RocketMQ 5 writes `MQVersion.getVersionDesc(v).toLowerCase()`. The
/// 4.9.x ordinals are named from `V4_9_8` = 409 (each release preceded by its `_SNAPSHOT`);
/// any other ordinal is shown as its number.
pub fn version(ordinal: i32) -> String {
    const V4_9_0_SNAPSHOT: i32 = 392;
    if (V4_9_0_SNAPSHOT..V4_9_0_SNAPSHOT + 20).contains(&ordinal) {
        let k = ordinal - V4_9_0_SNAPSHOT;
        let snapshot = if k % 2 == 0 { "_snapshot" } else { "" };
        format!("v4_9_{}{snapshot}", k / 2)
    } else {
        ordinal.to_string()
    }
}

/// `consume_mode` label: `pull` for a pull consumer, `push` for a push consumer.
pub fn consume_mode(t: ConsumeType) -> &'static str {
    match t {
        ConsumeType::CONSUME_ACTIVELY => "pull",
        ConsumeType::CONSUME_PASSIVELY => "push",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_system_names() {
        assert_eq!(version(rmq_remoting::code::CURRENT_VERSION), "v4_9_8");
        assert_eq!(version(407), "v4_9_7");
        assert_eq!(version(406), "v4_9_7_snapshot");
        assert_eq!(version(12), "12");
        assert!(system_group("cid_rmq_sys_x"));
        assert!(system_group("TOOLS_CONSUMER"));
        assert!(!system_group("g1"));
        let cfg = BrokerConfig::default();
        assert!(system_topic("TBW102", &cfg));
        assert!(system_topic("rmq_sys_wheel", &cfg));
        assert!(!system_topic("orders", &cfg));
    }
}
