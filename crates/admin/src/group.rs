//! Subscription group commands: `updateSubGroup` (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, the whole
//! `SubscriptionGroupConfig` as the body) and `deleteSubGroup` (DELETE_SUBSCRIPTIONGROUP), each
//! to one broker (`-b`) or to every master of a cluster (`-c`).
//!
//! Like Apache's tool, `updateSubGroup` sends a complete config: options left out take Java's
//! defaults, except `consumeFromMinEnable` and `consumeBroadcastEnable`, which the tool sets to
//! false unless `-m` / `-d` say otherwise. It replaces the group's config, it does not merge.

use std::fmt::Write;

use rmq_remoting::body::{JsonBody, SubscriptionGroupConfig};
use rmq_remoting::headers::admin::DeleteSubscriptionGroupRequestHeader;
use rmq_remoting::{RemotingCommand, RequestCode};

use crate::admin::Admin;
use crate::consumer::RETRY_PREFIX;
use crate::error::AdminError;
use crate::format;
use crate::topic::Target;

/// Prefix of a group's dead-letter topic.
pub const DLQ_PREFIX: &str = "%DLQ%";

/// Options of `updateSubGroup`; `None` means the option was not given.
#[derive(Debug, Clone)]
pub struct UpdateSubGroup {
    /// `-b` or `-c`.
    pub target: Target,
    /// `-g`.
    pub group: String,
    /// `-s`.
    pub consume_enable: Option<bool>,
    /// `-m`.
    pub consume_from_min_enable: Option<bool>,
    /// `-d`.
    pub consume_broadcast_enable: Option<bool>,
    /// `-q`.
    pub retry_queue_nums: Option<i32>,
    /// `-r`.
    pub retry_max_times: Option<i32>,
    /// `-i`.
    pub broker_id: Option<i64>,
    /// `-w`.
    pub which_broker_when_consume_slowly: Option<i64>,
    /// `-a`.
    pub notify_consumer_ids_changed: Option<bool>,
}

impl UpdateSubGroup {
    /// The config the command sends (Apache's defaults for what was not given).
    pub fn config(&self) -> SubscriptionGroupConfig {
        let d = SubscriptionGroupConfig::new(self.group.trim());
        SubscriptionGroupConfig {
            consume_enable: self.consume_enable.unwrap_or(d.consume_enable),
            consume_from_min_enable: self.consume_from_min_enable.unwrap_or(false),
            consume_broadcast_enable: self.consume_broadcast_enable.unwrap_or(false),
            retry_queue_nums: self.retry_queue_nums.unwrap_or(d.retry_queue_nums),
            retry_max_times: self.retry_max_times.unwrap_or(d.retry_max_times),
            broker_id: self.broker_id.unwrap_or(d.broker_id),
            which_broker_when_consume_slowly: self
                .which_broker_when_consume_slowly
                .unwrap_or(d.which_broker_when_consume_slowly),
            notify_consumer_ids_changed_enable: self
                .notify_consumer_ids_changed
                .unwrap_or(d.notify_consumer_ids_changed_enable),
            ..d
        }
    }

    /// Rejects values the broker would store but that make no sense, saying which flag.
    pub fn validate(&self) -> Result<(), AdminError> {
        check_group(&self.group)?;
        let checks = [
            ("-q/--retryQueueNums", self.retry_queue_nums.map(i64::from)),
            ("-r/--retryMaxTimes", self.retry_max_times.map(i64::from)),
            ("-i/--brokerId", self.broker_id),
            (
                "-w/--whichBrokerWhenConsumeSlowly",
                self.which_broker_when_consume_slowly,
            ),
        ];
        for (flag, value) in checks {
            if let Some(v) = value.filter(|v| *v < 0) {
                return Err(AdminError::Invalid(format!("{flag} must be 0 or more, not {v}")));
            }
        }
        Ok(())
    }
}

fn check_group(group: &str) -> Result<(), AdminError> {
    if group.trim().is_empty() {
        return Err(AdminError::Invalid(
            "the group name is blank; pass -g <groupName>".into(),
        ));
    }
    Ok(())
}

/// `Ok` if nothing failed, else one error naming every broker that refused.
fn all_or_error(what: &str, failures: Vec<String>) -> Result<(), AdminError> {
    if failures.is_empty() {
        return Ok(());
    }
    Err(AdminError::Invalid(format!(
        "{what} failed on {}",
        failures.join("; ")
    )))
}

/// `updateSubGroup`: sends the config to each target broker; prints one success line per broker,
/// then the config. With `-c` a broker that refuses does not stop the others.
pub async fn update_sub_group(admin: &Admin, u: &UpdateSubGroup, out: &mut String) -> Result<(), AdminError> {
    u.validate()?;
    let config = u.config();
    let body = config.encode();
    let addrs = u.target.addrs(admin).await?;
    let mut failures = Vec::new();
    for addr in &addrs {
        let cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
            .with_body(body.clone());
        match admin.invoke(addr, cmd).await {
            Ok(_) => {
                let _ = writeln!(out, "create subscription group to {addr} success.");
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.len() < addrs.len() {
        let _ = writeln!(out, "{}", format::subscription_group_config(&config));
    }
    all_or_error("updateSubGroup", failures)
}

/// `deleteSubGroup`: DELETE_SUBSCRIPTIONGROUP to each target broker. With `-c`, as Apache's tool
/// does, it then deletes the group's `%RETRY%` and `%DLQ%` topics from the cluster; a failure
/// there is reported but does not fail the command.
pub async fn delete_sub_group(
    admin: &Admin,
    target: &Target,
    group: &str,
    remove_offset: bool,
    out: &mut String,
) -> Result<(), AdminError> {
    check_group(group)?;
    let group = group.trim();
    let header = DeleteSubscriptionGroupRequestHeader {
        group_name: group.to_string(),
        remove_offset: Some(remove_offset),
    };
    let mut failures = Vec::new();
    for addr in target.addrs(admin).await? {
        let cmd = RemotingCommand::request_with(RequestCode::DELETE_SUBSCRIPTIONGROUP, &header);
        match (admin.invoke(&addr, cmd).await, target) {
            (Err(e), _) => failures.push(e.to_string()),
            (Ok(_), Target::Broker(_)) => {
                let _ = writeln!(
                    out,
                    "delete subscription group [{group}] from broker [{addr}] success."
                );
            }
            (Ok(_), Target::Cluster(cluster)) => {
                let _ = writeln!(
                    out,
                    "delete subscription group [{group}] from broker [{addr}] in cluster [{cluster}] success."
                );
            }
        }
    }
    all_or_error("deleteSubGroup", failures)?;
    if let Target::Cluster(cluster) = target {
        for prefix in [RETRY_PREFIX, DLQ_PREFIX] {
            let topic = format!("{prefix}{group}");
            if let Err(e) = crate::topic::delete_topic(admin, &topic, cluster, out).await {
                let _ = writeln!(out, "delete topic [{topic}] from cluster [{cluster}] failed: {e}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> UpdateSubGroup {
        UpdateSubGroup {
            target: Target::Cluster("C".into()),
            group: " cg ".into(),
            consume_enable: None,
            consume_from_min_enable: None,
            consume_broadcast_enable: None,
            retry_queue_nums: None,
            retry_max_times: None,
            broker_id: None,
            which_broker_when_consume_slowly: None,
            notify_consumer_ids_changed: None,
        }
    }

    #[test]
    fn unset_options_take_apache_tool_defaults() {
        let c = options().config();
        assert_eq!(c.group_name, "cg");
        assert!(c.consume_enable && c.notify_consumer_ids_changed_enable);
        assert!(!c.consume_from_min_enable && !c.consume_broadcast_enable);
        assert_eq!((c.retry_queue_nums, c.retry_max_times), (1, 16));
        assert_eq!((c.broker_id, c.which_broker_when_consume_slowly), (0, 1));
    }

    #[test]
    fn given_options_are_sent() {
        let u = UpdateSubGroup {
            consume_enable: Some(false),
            consume_broadcast_enable: Some(true),
            retry_max_times: Some(1),
            retry_queue_nums: Some(2),
            which_broker_when_consume_slowly: Some(0),
            ..options()
        };
        let c = u.config();
        assert!(!c.consume_enable && c.consume_broadcast_enable);
        assert_eq!((c.retry_queue_nums, c.retry_max_times), (2, 1));
        assert_eq!(c.which_broker_when_consume_slowly, 0);
        let json = c.to_json();
        assert!(json.contains(r#""retryMaxTimes":1"#), "{json}");
        assert!(json.contains(r#""groupName":"cg""#), "{json}");
    }

    #[test]
    fn bad_values_name_their_flag() {
        assert!(options().validate().is_ok());
        let e = UpdateSubGroup {
            retry_max_times: Some(-1),
            ..options()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("-r/--retryMaxTimes"), "{e}");
        let e = UpdateSubGroup {
            group: "  ".into(),
            ..options()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("-g"), "{e}");
    }
}
