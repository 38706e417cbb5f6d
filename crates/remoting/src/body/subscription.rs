//! `SubscriptionGroupConfig` (subscriptionGroup.json entries) with Java's defaults (protocol.md
//! §2.6), and `SubscriptionGroupWrapper` (the whole file, GET_ALL_SUBSCRIPTIONGROUP_CONFIG reply).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::topic::DataVersion;
use super::JsonBody;

/// A consumer group's broker-side settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    /// Broker id to consume from.
    pub broker_id: i64,
    /// Broadcast consumption allowed.
    pub consume_broadcast_enable: bool,
    /// Consumption allowed.
    pub consume_enable: bool,
    /// Start from the min offset when new.
    pub consume_from_min_enable: bool,
    /// Group name.
    pub group_name: String,
    /// Send NOTIFY_CONSUMER_IDS_CHANGED on membership changes.
    pub notify_consumer_ids_changed_enable: bool,
    /// Reconsume attempts before the DLQ.
    pub retry_max_times: i32,
    /// Queues of `%RETRY%<group>`.
    pub retry_queue_nums: i32,
    /// Broker id to use when consumption is slow.
    pub which_broker_when_consume_slowly: i64,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        SubscriptionGroupConfig {
            broker_id: 0,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            group_name: String::new(),
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            which_broker_when_consume_slowly: 1,
        }
    }
}

impl SubscriptionGroupConfig {
    /// A group with the defaults.
    pub fn new(group: impl Into<String>) -> Self {
        SubscriptionGroupConfig {
            group_name: group.into(),
            ..Default::default()
        }
    }
}

impl JsonBody for SubscriptionGroupConfig {}

/// All subscription groups of a broker with their version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupWrapper {
    /// Version of the table.
    pub data_version: DataVersion,
    /// Group name → config.
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
}

impl JsonBody for SubscriptionGroupWrapper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_java() {
        let g = SubscriptionGroupConfig::decode(br#"{"groupName":"g"}"#).unwrap();
        assert_eq!(g, SubscriptionGroupConfig::new("g"));
        assert!(g.consume_enable && g.consume_from_min_enable && g.consume_broadcast_enable);
        assert!(g.notify_consumer_ids_changed_enable);
        assert_eq!(
            (
                g.retry_queue_nums,
                g.retry_max_times,
                g.broker_id,
                g.which_broker_when_consume_slowly
            ),
            (1, 16, 0, 1)
        );
        assert_eq!(
            g.to_json(),
            r#"{"brokerId":0,"consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,"groupName":"g","notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,"retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}"#
        );
    }

    #[test]
    fn wrapper_round_trips() {
        let mut w = SubscriptionGroupWrapper::default();
        w.data_version.next_version(7);
        w.subscription_group_table.insert(
            "g".into(),
            SubscriptionGroupConfig {
                retry_max_times: 3,
                ..SubscriptionGroupConfig::new("g")
            },
        );
        assert_eq!(SubscriptionGroupWrapper::decode(&w.encode()).unwrap(), w);
    }
}
