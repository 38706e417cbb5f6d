//! `updateTopicPerm -t <topic> -p <2|4|6> (-b <addr> | -c <cluster>)`: changes only a topic's
//! permission on each target broker.
//!
//! Apache's tool copies the queue counts of the route's first broker to every target; this one
//! reads each broker's own config (GET_ALL_TOPIC_CONFIG) and sends it back through
//! UPDATE_AND_CREATE_TOPIC with the new perm, so queue counts, order and flags stay as that
//! broker has them. A broker that does not hold the topic is skipped, not given the topic.

use std::fmt::Write;

use rmq_remoting::body::{TopicConfig, TopicConfigSerializeWrapper};
use rmq_remoting::headers::admin::CreateTopicRequestHeader;
use rmq_remoting::{RemotingCommand, RequestCode};

use crate::admin::Admin;
use crate::error::AdminError;
use crate::format;
use crate::topic::{validate_topic, Target};

/// Parses `-p`: 2 (W), 4 (R) or 6 (RW), the values Apache's tool documents.
pub fn parse_perm(s: &str) -> Result<i32, String> {
    match s.trim() {
        "2" => Ok(2),
        "4" => Ok(4),
        "6" => Ok(6),
        other => Err(format!("perm must be 2 (W), 4 (R) or 6 (RW), not {other:?}")),
    }
}

/// The UPDATE_AND_CREATE_TOPIC header that rewrites `config` with `perm`.
pub fn with_perm(config: &TopicConfig, perm: i32) -> CreateTopicRequestHeader {
    CreateTopicRequestHeader {
        topic: config.topic_name.clone(),
        default_topic: "TBW102".into(),
        read_queue_nums: config.read_queue_nums,
        write_queue_nums: config.write_queue_nums,
        perm,
        topic_filter_type: config.topic_filter_type.name().into(),
        topic_sys_flag: Some(config.topic_sys_flag),
        order: config.order,
    }
}

/// The topic's config as the broker at `addr` holds it, if it does.
async fn broker_topic_config(
    admin: &Admin,
    addr: &str,
    topic: &str,
) -> Result<Option<TopicConfig>, AdminError> {
    let resp = admin
        .invoke(addr, RemotingCommand::request(RequestCode::GET_ALL_TOPIC_CONFIG))
        .await?;
    let mut wrapper: TopicConfigSerializeWrapper = Admin::decode(addr, &resp.body)?;
    Ok(wrapper.topic_config_table.remove(topic).map(|mut c| {
        c.topic_name = topic.to_string();
        c
    }))
}

/// `updateTopicPerm`: prints `update topic perm from <old> to <new> in <addr> success.` per
/// broker changed (and, with `-b`, the new config as Apache does).
pub async fn update_topic_perm(
    admin: &Admin,
    target: &Target,
    topic: &str,
    perm: i32,
    out: &mut String,
) -> Result<(), AdminError> {
    validate_topic(topic)?;
    parse_perm(&perm.to_string()).map_err(|e| AdminError::Invalid(format!("-p/--perm: {e}")))?;
    let addrs = target.addrs(admin).await?;
    let mut held = 0;
    for addr in &addrs {
        let Some(config) = broker_topic_config(admin, addr, topic).await? else {
            if matches!(target, Target::Cluster(_)) {
                let _ = writeln!(out, "topic [{topic}] does not exist in {addr}, skipped.");
            }
            continue;
        };
        held += 1;
        let old = config.perm;
        if old == perm {
            match target {
                Target::Broker(_) => {
                    let _ = writeln!(out, "new perm equals to the old one!");
                }
                Target::Cluster(_) => {
                    let _ = writeln!(out, "new perm equals to the old one in {addr}!");
                }
            }
            continue;
        }
        let header = with_perm(&config, perm);
        admin
            .invoke(
                addr,
                RemotingCommand::request_with(RequestCode::UPDATE_AND_CREATE_TOPIC, &header),
            )
            .await?;
        let _ = writeln!(out, "update topic perm from {old} to {perm} in {addr} success.");
        if matches!(target, Target::Broker(_)) {
            let updated = TopicConfig { perm, ..config };
            let _ = writeln!(out, "{}", format::topic_config(&updated));
        }
    }
    if held == 0 {
        return Err(AdminError::Invalid(format!(
            "topic {topic} does not exist on {}; create it first with `mqadmin updateTopic`",
            addrs.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::body::TopicFilterType;

    #[test]
    fn perm_values_are_checked() {
        assert_eq!(parse_perm("2"), Ok(2));
        assert_eq!(parse_perm(" 6 "), Ok(6));
        for bad in ["5", "7", "0", "rw", ""] {
            let e = parse_perm(bad).unwrap_err();
            assert!(e.contains("2 (W), 4 (R) or 6 (RW)"), "{e}");
        }
    }

    #[test]
    fn only_the_perm_changes() {
        let config = TopicConfig {
            topic_name: "T".into(),
            read_queue_nums: 3,
            write_queue_nums: 5,
            perm: 6,
            topic_filter_type: TopicFilterType::MULTI_TAG,
            topic_sys_flag: 1,
            order: true,
        };
        let h = with_perm(&config, 4);
        assert_eq!((h.read_queue_nums, h.write_queue_nums, h.perm), (3, 5, 4));
        assert_eq!(h.topic_filter_type, "MULTI_TAG");
        assert_eq!(h.topic_sys_flag, Some(1));
        assert!(h.order);
    }
}
