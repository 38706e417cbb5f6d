//! `broker.conf` keys: reading a parsed properties file into a [`BrokerConfig`], listing the
//! keys nobody reads, and printing the effective configuration (`mqbroker -p`,
//! GET_BROKER_CONFIG).

use std::path::PathBuf;
use std::time::Duration;

use rmq_remoting::java_properties::{escape_value, JavaProperties};

use super::{bad, split_namesrv_addrs, BrokerConfig, BrokerRole, ConfigError};
use crate::store::FlushDiskType;

/// Keys [`BrokerConfig::from_properties`] reads.
const KNOWN_KEYS: &[&str] = &[
    "aclEnable",
    "rocketmqHome",
    "brokerClusterName",
    "brokerName",
    "brokerId",
    "namesrvAddr",
    "listenPort",
    "haListenPort",
    "brokerIP1",
    "brokerIP2",
    "brokerRole",
    "flushDiskType",
    "storePathRootDir",
    "autoCreateTopicEnable",
    "autoCreateSubscriptionGroup",
    "defaultTopicQueueNums",
    "fileReservedTime",
    "mapedFileSizeCommitLog",
    "mappedFileSizeCommitLog",
    "mapedFileSizeConsumeQueue",
    "mappedFileSizeConsumeQueue",
    "maxMessageSize",
    "brokerPermission",
    "slaveReadEnable",
    "warmMapedFileEnable",
    "messageDelayLevel",
    "registerNameServerPeriod",
    "registerBrokerTimeoutMills",
    "flushConsumerOffsetInterval",
    "flushDelayOffsetInterval",
    "syncFlushTimeout",
    "flushIntervalCommitLog",
    "slaveTimeout",
    "haMasterAddress",
    "longPollingEnable",
    "enablePropertyFilter",
    "shortPollingTimeMills",
    "maxHeldPulls",
    "maxConnections",
    "maxOpenConsumeQueueFiles",
    "autoCreateTopicMaxNums",
    "channelExpiredTimeout",
    "regionId",
    "traceOn",
    "clusterTopicEnable",
    "brokerTopicEnable",
    "diskMaxUsedSpaceRatio",
    "diskSpaceWarningLevelRatio",
    "transactionTimeOut",
    "transactionCheckMax",
    "transactionCheckInterval",
    "rejectTransactionMessage",
    "messageIndexEnable",
    "maxHashSlotNum",
    "maxIndexNum",
    "maxMsgsNumBatch",
    "defaultQueryMaxNum",
];

/// Apache keys that tune parts of the Java broker this one does not have; accepted without a warning.
const IGNORED_APACHE_KEYS: &[&str] = &[
    "deleteWhen",
    "storePathCommitLog",
    "storePathConsumeQueue",
    "storePathIndex",
    "storeCheckpoint",
    "abortFile",
    "sendMessageThreadPoolNums",
    "pullMessageThreadPoolNums",
    "useReentrantLockWhenPutMessage",
    "waitTimeMillsInSendQueue",
    "transientStorePoolEnable",
    "warmMapedFileEnable",
    "flushLeastPagesWhenWarmMapedFile",
    "serverWorkerThreads",
    "serverSelectorThreads",
    "clientWorkerThreads",
    "filterServerNums",
    "sendMessageWithVIPChannel",
    "enableDLegerCommitLog",
    "fetchNamesrvAddrByAddressServer",
    "useEpollNativeSelector",
    "isEnableBatchPush",
    "forceRegister",
    "compressedRegister",
    "traceTopicEnable",
    "msgTraceTopicName",
    "autoDeleteUnusedStats",
    // The index is always rebuilt from the last complete index entry after a crash, which is
    // what messageIndexSafe=true asks of Apache.
    "messageIndexSafe",
];

/// Keys of `props` that no part of the broker reads (the binary warns about them).
pub fn unknown_keys(props: &JavaProperties) -> Vec<String> {
    props
        .iter()
        .map(|(k, _)| k)
        .filter(|k| {
            !KNOWN_KEYS.contains(k)
                && !IGNORED_APACHE_KEYS.contains(k)
                && !rmq_metrics::config::KEYS.contains(k)
                && !rmq_metrics::config::IGNORED_KEYS.contains(k)
        })
        .map(str::to_string)
        .collect()
}

fn parse_num<T: std::str::FromStr>(key: &'static str, raw: &str) -> Result<T, ConfigError> {
    raw.trim()
        .parse::<T>()
        .map_err(|_| bad(key, format!("{raw:?} is not a valid number")))
}

fn parse_bool(key: &'static str, raw: &str) -> Result<bool, ConfigError> {
    match raw.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(bad(key, format!("{other:?} is not true or false"))),
    }
}

fn millis(key: &'static str, raw: &str) -> Result<Duration, ConfigError> {
    parse_num::<u64>(key, raw).map(Duration::from_millis)
}

impl BrokerConfig {
    /// Reads a parsed `broker.conf`; keys not present keep their defaults.
    pub fn from_properties(props: &JavaProperties) -> Result<BrokerConfig, ConfigError> {
        let mut c = BrokerConfig::default();
        for (key, raw) in props.iter() {
            let v = raw.trim();
            match key {
                "brokerClusterName" => c.broker_cluster_name = v.to_string(),
                "brokerName" => c.broker_name = v.to_string(),
                "brokerId" => c.broker_id = parse_num("brokerId", v)?,
                "namesrvAddr" => c.namesrv_addrs = split_namesrv_addrs(v),
                "listenPort" => c.listen_port = parse_num("listenPort", v)?,
                "haListenPort" => c.ha_listen_port = Some(parse_num("haListenPort", v)?),
                "brokerIP1" => c.broker_ip1 = v.to_string(),
                "brokerIP2" => c.broker_ip2 = Some(v.to_string()).filter(|s| !s.is_empty()),
                "brokerRole" => {
                    c.broker_role = BrokerRole::parse(v).ok_or_else(|| {
                        bad(
                            "brokerRole",
                            format!("{v:?} is not ASYNC_MASTER, SYNC_MASTER or SLAVE"),
                        )
                    })?
                }
                "flushDiskType" => {
                    c.flush_disk_type = match v {
                        "ASYNC_FLUSH" => FlushDiskType::Async,
                        "SYNC_FLUSH" => FlushDiskType::Sync,
                        _ => {
                            return Err(bad(
                                "flushDiskType",
                                format!("{v:?} is not ASYNC_FLUSH or SYNC_FLUSH"),
                            ))
                        }
                    }
                }
                "storePathRootDir" => c.store_path_root_dir = PathBuf::from(v),
                "autoCreateTopicEnable" => {
                    c.auto_create_topic_enable = parse_bool("autoCreateTopicEnable", v)?
                }
                "autoCreateSubscriptionGroup" => {
                    c.auto_create_subscription_group = parse_bool("autoCreateSubscriptionGroup", v)?
                }
                "defaultTopicQueueNums" => {
                    c.default_topic_queue_nums = parse_num("defaultTopicQueueNums", v)?
                }
                "fileReservedTime" => c.file_reserved_time_hours = parse_num("fileReservedTime", v)?,
                "mapedFileSizeCommitLog" | "mappedFileSizeCommitLog" => {
                    c.mapped_file_size_commit_log = parse_num("mapedFileSizeCommitLog", v)?
                }
                "mapedFileSizeConsumeQueue" | "mappedFileSizeConsumeQueue" => {
                    c.mapped_file_size_consume_queue = parse_num("mapedFileSizeConsumeQueue", v)?
                }
                "maxMessageSize" => c.max_message_size = parse_num("maxMessageSize", v)?,
                "brokerPermission" => c.broker_permission = parse_num("brokerPermission", v)?,
                "slaveReadEnable" => c.slave_read_enable = parse_bool("slaveReadEnable", v)?,
                "aclEnable" => c.acl_enable = parse_bool("aclEnable", v)?,
                "rocketmqHome" => c.rocketmq_home = PathBuf::from(v),
                "warmMapedFileEnable" => c.warm_maped_file_enable = parse_bool("warmMapedFileEnable", v)?,
                "messageDelayLevel" => c.message_delay_level = v.to_string(),
                "registerNameServerPeriod" => {
                    c.register_name_server_period = millis("registerNameServerPeriod", v)?
                }
                "registerBrokerTimeoutMills" => {
                    c.register_broker_timeout = millis("registerBrokerTimeoutMills", v)?
                }
                "flushConsumerOffsetInterval" => {
                    c.flush_consumer_offset_interval = millis("flushConsumerOffsetInterval", v)?
                }
                "flushDelayOffsetInterval" => {
                    c.flush_delay_offset_interval = millis("flushDelayOffsetInterval", v)?
                }
                "syncFlushTimeout" => c.sync_flush_timeout = millis("syncFlushTimeout", v)?,
                "flushIntervalCommitLog" => {
                    c.flush_interval_commit_log = millis("flushIntervalCommitLog", v)?
                }
                "slaveTimeout" => c.slave_timeout = millis("slaveTimeout", v)?,
                "haMasterAddress" => c.ha_master_address = Some(v.to_string()).filter(|s| s.len() >= 6),
                "longPollingEnable" => c.long_polling_enable = parse_bool("longPollingEnable", v)?,
                "enablePropertyFilter" => c.enable_property_filter = parse_bool("enablePropertyFilter", v)?,
                "shortPollingTimeMills" => c.short_polling_time = millis("shortPollingTimeMills", v)?,
                "maxHeldPulls" => c.max_held_pulls = parse_num("maxHeldPulls", v)?,
                "maxConnections" => c.max_connections = parse_num("maxConnections", v)?,
                "maxOpenConsumeQueueFiles" => {
                    c.max_open_consume_queue_files = parse_num("maxOpenConsumeQueueFiles", v)?
                }
                "autoCreateTopicMaxNums" => {
                    c.auto_create_topic_max_nums = parse_num("autoCreateTopicMaxNums", v)?
                }
                "channelExpiredTimeout" => c.channel_expired_timeout = millis("channelExpiredTimeout", v)?,
                "regionId" => c.region_id = v.to_string(),
                "traceOn" => c.trace_on = parse_bool("traceOn", v)?,
                "clusterTopicEnable" => c.cluster_topic_enable = parse_bool("clusterTopicEnable", v)?,
                "brokerTopicEnable" => c.broker_topic_enable = parse_bool("brokerTopicEnable", v)?,
                "diskMaxUsedSpaceRatio" => {
                    c.disk_max_used_space_ratio = parse_num("diskMaxUsedSpaceRatio", v)?
                }
                "messageIndexEnable" => c.message_index_enable = parse_bool("messageIndexEnable", v)?,
                "maxHashSlotNum" => c.max_hash_slot_num = parse_num("maxHashSlotNum", v)?,
                "maxIndexNum" => c.max_index_num = parse_num("maxIndexNum", v)?,
                "maxMsgsNumBatch" => c.max_msgs_num_batch = parse_num("maxMsgsNumBatch", v)?,
                "defaultQueryMaxNum" => c.default_query_max_num = parse_num("defaultQueryMaxNum", v)?,
                "diskSpaceWarningLevelRatio" => {
                    c.disk_space_warning_level_ratio = parse_num("diskSpaceWarningLevelRatio", v)?
                }
                "transactionTimeOut" => c.transaction_timeout = millis("transactionTimeOut", v)?,
                "transactionCheckMax" => c.transaction_check_max = parse_num("transactionCheckMax", v)?,
                "transactionCheckInterval" => {
                    c.transaction_check_interval = millis("transactionCheckInterval", v)?
                }
                "rejectTransactionMessage" => {
                    c.reject_transaction_message = parse_bool("rejectTransactionMessage", v)?
                }
                other => {
                    if let Err(reason) = c.metrics.set(other, v) {
                        let key = rmq_metrics::config::KEYS
                            .iter()
                            .find(|k| **k == other)
                            .copied()
                            .unwrap_or("metrics");
                        return Err(bad(key, reason));
                    }
                }
            }
        }
        // Apache forces masters to id 0.
        if c.broker_role != BrokerRole::Slave {
            c.broker_id = 0;
        }
        c.validate()?;
        Ok(c)
    }

    /// The effective configuration as Java properties text, one `key=value` a line, sorted
    /// (`mqbroker -p` and GET_BROKER_CONFIG).
    pub fn to_properties(&self) -> String {
        let ms = |d: Duration| d.as_millis().to_string();
        let mut kv: Vec<(&str, String)> = vec![
            ("brokerClusterName", self.broker_cluster_name.clone()),
            ("brokerName", self.broker_name.clone()),
            ("brokerId", self.broker_id.to_string()),
            ("namesrvAddr", self.namesrv_addrs.join(";")),
            ("listenPort", self.listen_port.to_string()),
            ("haListenPort", self.ha_port().to_string()),
            ("brokerIP1", self.broker_ip1.clone()),
            ("brokerIP2", self.broker_ip2().to_string()),
            ("brokerRole", self.broker_role.name().to_string()),
            (
                "flushDiskType",
                match self.flush_disk_type {
                    FlushDiskType::Async => "ASYNC_FLUSH".to_string(),
                    FlushDiskType::Sync => "SYNC_FLUSH".to_string(),
                },
            ),
            ("storePathRootDir", self.store_path_root_dir.display().to_string()),
            (
                "storePathCommitLog",
                self.store_path_root_dir.join("commitlog").display().to_string(),
            ),
            ("autoCreateTopicEnable", self.auto_create_topic_enable.to_string()),
            (
                "autoCreateSubscriptionGroup",
                self.auto_create_subscription_group.to_string(),
            ),
            ("defaultTopicQueueNums", self.default_topic_queue_nums.to_string()),
            ("fileReservedTime", self.file_reserved_time_hours.to_string()),
            (
                "mapedFileSizeCommitLog",
                self.mapped_file_size_commit_log.to_string(),
            ),
            (
                "mapedFileSizeConsumeQueue",
                self.mapped_file_size_consume_queue.to_string(),
            ),
            ("maxMessageSize", self.max_message_size.to_string()),
            ("brokerPermission", self.broker_permission.to_string()),
            ("slaveReadEnable", self.slave_read_enable.to_string()),
            ("aclEnable", self.acl_enable.to_string()),
            ("rocketmqHome", self.rocketmq_home.display().to_string()),
            ("warmMapedFileEnable", self.warm_maped_file_enable.to_string()),
            ("messageDelayLevel", self.message_delay_level.clone()),
            ("registerNameServerPeriod", ms(self.register_name_server_period)),
            ("registerBrokerTimeoutMills", ms(self.register_broker_timeout)),
            (
                "flushConsumerOffsetInterval",
                ms(self.flush_consumer_offset_interval),
            ),
            ("flushDelayOffsetInterval", ms(self.flush_delay_offset_interval)),
            ("syncFlushTimeout", ms(self.sync_flush_timeout)),
            ("flushIntervalCommitLog", ms(self.flush_interval_commit_log)),
            ("slaveTimeout", ms(self.slave_timeout)),
            (
                "haMasterAddress",
                self.ha_master_address.clone().unwrap_or_default(),
            ),
            ("longPollingEnable", self.long_polling_enable.to_string()),
            ("enablePropertyFilter", self.enable_property_filter.to_string()),
            ("shortPollingTimeMills", ms(self.short_polling_time)),
            ("maxHeldPulls", self.max_held_pulls.to_string()),
            ("maxConnections", self.max_connections.to_string()),
            (
                "maxOpenConsumeQueueFiles",
                self.max_open_consume_queue_files.to_string(),
            ),
            (
                "autoCreateTopicMaxNums",
                self.auto_create_topic_max_nums.to_string(),
            ),
            ("channelExpiredTimeout", ms(self.channel_expired_timeout)),
            ("regionId", self.region_id.clone()),
            ("traceOn", self.trace_on.to_string()),
            ("clusterTopicEnable", self.cluster_topic_enable.to_string()),
            ("brokerTopicEnable", self.broker_topic_enable.to_string()),
            (
                "diskMaxUsedSpaceRatio",
                self.disk_max_used_space_ratio.to_string(),
            ),
            (
                "diskSpaceWarningLevelRatio",
                self.disk_space_warning_level_ratio.to_string(),
            ),
            ("transactionTimeOut", ms(self.transaction_timeout)),
            ("transactionCheckMax", self.transaction_check_max.to_string()),
            ("transactionCheckInterval", ms(self.transaction_check_interval)),
            (
                "rejectTransactionMessage",
                self.reject_transaction_message.to_string(),
            ),
            ("messageIndexEnable", self.message_index_enable.to_string()),
            ("maxHashSlotNum", self.max_hash_slot_num.to_string()),
            ("maxIndexNum", self.max_index_num.to_string()),
            ("maxMsgsNumBatch", self.max_msgs_num_batch.to_string()),
            ("defaultQueryMaxNum", self.default_query_max_num.to_string()),
        ];
        kv.extend(self.metrics.to_properties());
        kv.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = String::new();
        for (k, v) in kv {
            out.push_str(k);
            out.push('=');
            out.push_str(&escape_value(&v));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(text: &str) -> JavaProperties {
        JavaProperties::parse(text)
    }

    #[test]
    fn defaults_are_apache_like_and_valid() {
        let c = BrokerConfig::default();
        c.validate().unwrap();
        assert_eq!(c.listen_port, 10911);
        assert_eq!(c.ha_port(), 10912);
        assert_eq!(c.delay_levels().len(), 18);
        assert_eq!(c.delay_levels()[4], 60_000);
        assert_eq!(c.delay_levels()[17], 7_200_000);
    }

    #[test]
    fn reads_apache_keys() {
        let c = BrokerConfig::from_properties(&props(
            "brokerClusterName=C1\nbrokerName=broker-b\nbrokerId=1\nbrokerRole=SLAVE\n\
             namesrvAddr=127.0.0.1:9876; 127.0.0.1:9877\nlistenPort=20911\nflushDiskType=SYNC_FLUSH\n\
             storePathRootDir=/tmp/x\nautoCreateTopicEnable=false\ndefaultTopicQueueNums=4\n\
             mapedFileSizeCommitLog=10485760\nmessageDelayLevel=100ms 1s 2s\nbrokerIP1=10.0.0.7\n\
             warmMapedFileEnable=true\nenablePropertyFilter=true\n",
        ))
        .unwrap();
        assert!(c.enable_property_filter);
        assert!(
            !BrokerConfig::default().enable_property_filter,
            "Apache's default is off"
        );
        assert!(c.store_config().warm_mapped_file);
        assert!(!BrokerConfig::default().store_config().warm_mapped_file);
        assert_eq!(c.broker_cluster_name, "C1");
        assert_eq!(c.broker_id, 1);
        assert_eq!(c.broker_role, BrokerRole::Slave);
        assert_eq!(c.namesrv_addrs, vec!["127.0.0.1:9876", "127.0.0.1:9877"]);
        assert_eq!(c.ha_port(), 20912);
        assert_eq!(c.flush_disk_type, FlushDiskType::Sync);
        assert!(!c.auto_create_topic_enable);
        assert_eq!(c.mapped_file_size_commit_log, 10 << 20);
        assert_eq!(c.delay_levels(), vec![100, 1000, 2000]);
        let text = c.to_properties();
        assert!(text.contains("brokerRole=SLAVE\n"));
        assert!(text.contains("enablePropertyFilter=true\n"));
        assert!(text.contains("namesrvAddr=127.0.0.1:9876;127.0.0.1:9877\n"));
    }

    #[test]
    fn bad_values_name_the_key() {
        for (text, key) in [
            ("listenPort=abc", "listenPort"),
            ("brokerRole=BOSS", "brokerRole"),
            ("flushDiskType=SOMETIMES", "flushDiskType"),
            ("autoCreateTopicEnable=yes", "autoCreateTopicEnable"),
            ("warmMapedFileEnable=1", "warmMapedFileEnable"),
            ("messageDelayLevel=1s 5x", "messageDelayLevel"),
            ("namesrvAddr=localhost", "namesrvAddr"),
            ("brokerRole=SLAVE\nbrokerId=0", "brokerId"),
            ("maxConnections=0", "maxConnections"),
            ("maxHeldPulls=0", "maxHeldPulls"),
            ("channelExpiredTimeout=0", "channelExpiredTimeout"),
            ("diskSpaceWarningLevelRatio=90", "diskSpaceWarningLevelRatio"),
            ("diskSpaceWarningLevelRatio=most", "diskSpaceWarningLevelRatio"),
            (
                "mapedFileSizeCommitLog=65536\nmaxMessageSize=65536",
                "maxMessageSize",
            ),
        ] {
            let err = BrokerConfig::from_properties(&props(text)).unwrap_err();
            assert_eq!(err.key, key, "{text}");
            assert!(err.to_string().contains(key));
        }
    }

    #[test]
    fn disk_warning_ratio_reaches_the_store() {
        let c = BrokerConfig::from_properties(&props("diskSpaceWarningLevelRatio=0.95")).unwrap();
        assert_eq!(c.store_config().disk_full_ratio, 0.95);
        assert_eq!(BrokerConfig::default().store_config().disk_full_ratio, 0.90);
        assert!(c.to_properties().contains("diskSpaceWarningLevelRatio=0.95"));
    }

    #[test]
    fn masters_are_forced_to_id_zero_and_unknown_keys_listed() {
        let p = props("brokerId=3\nbogusKey=1\ndeleteWhen=04\n");
        assert_eq!(BrokerConfig::from_properties(&p).unwrap().broker_id, 0);
        assert_eq!(unknown_keys(&p), vec!["bogusKey".to_string()]);
    }
}
