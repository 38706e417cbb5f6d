//! [`BrokerConfig`]: the broker's settings as a plain struct with Apache RocketMQ's defaults,
//! filled from a `broker.conf` (Java properties with Apache's key names) by
//! [`BrokerConfig::from_properties`] and checked by [`BrokerConfig::validate`].
//!
//! Keys this broker does not know are reported by [`unknown_keys`] (the binary warns about
//! them); Apache keys that only tune the Java implementation are accepted silently. A value that
//! does not parse is an error naming its key.

use std::path::PathBuf;
use std::time::Duration;

use rmq_remoting::java_properties::JavaProperties;

use crate::store::{FlushDiskType, StoreConfig};

/// The broker's role in its group (`brokerRole`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BrokerRole {
    /// `ASYNC_MASTER`: replicates to slaves without waiting.
    #[default]
    AsyncMaster,
    /// `SYNC_MASTER`: a send succeeds once a slave has the message.
    SyncMaster,
    /// `SLAVE`: read-only copy of its master.
    Slave,
}

impl BrokerRole {
    /// The name Apache uses.
    pub fn name(self) -> &'static str {
        match self {
            BrokerRole::AsyncMaster => "ASYNC_MASTER",
            BrokerRole::SyncMaster => "SYNC_MASTER",
            BrokerRole::Slave => "SLAVE",
        }
    }

    /// Parses Apache's name.
    pub fn parse(s: &str) -> Option<BrokerRole> {
        match s.trim() {
            "ASYNC_MASTER" => Some(BrokerRole::AsyncMaster),
            "SYNC_MASTER" => Some(BrokerRole::SyncMaster),
            "SLAVE" => Some(BrokerRole::Slave),
            _ => None,
        }
    }
}

/// The default delay-level table (`messageDelayLevel`).
pub const DEFAULT_DELAY_LEVELS: &str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

/// A configuration value that is missing or wrong; the text names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid broker config `{key}`: {reason}")]
pub struct ConfigError {
    /// The Apache key name.
    pub key: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn bad(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key,
        reason: reason.into(),
    }
}

/// Everything the broker needs to know at start. Field docs name the Apache key.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `brokerClusterName` (DefaultCluster).
    pub broker_cluster_name: String,
    /// `brokerName` (broker-a).
    pub broker_name: String,
    /// `brokerId`: 0 = master, > 0 = slave.
    pub broker_id: i64,
    /// `namesrvAddr`: `host:port` of every nameserver (`;`-separated in the file).
    pub namesrv_addrs: Vec<String>,
    /// `listenPort` (10911); 0 picks a free port (tests).
    pub listen_port: u16,
    /// `haListenPort`; `None` means `listen_port + 1` (0 when `listen_port` is 0).
    pub ha_listen_port: Option<u16>,
    /// `brokerIP1`: the address clients reach and the store host written into records.
    pub broker_ip1: String,
    /// `brokerIP2`: the address slaves reach for HA; `None` means `broker_ip1`.
    pub broker_ip2: Option<String>,
    /// `brokerRole`.
    pub broker_role: BrokerRole,
    /// `flushDiskType`.
    pub flush_disk_type: FlushDiskType,
    /// `storePathRootDir` ($HOME/store).
    pub store_path_root_dir: PathBuf,
    /// `autoCreateTopicEnable` (true): unknown topics are created from `TBW102` on first send.
    pub auto_create_topic_enable: bool,
    /// `autoCreateSubscriptionGroup` (true).
    pub auto_create_subscription_group: bool,
    /// `defaultTopicQueueNums` (8): queue count of `TBW102`.
    pub default_topic_queue_nums: i32,
    /// `fileReservedTime` in hours (72).
    pub file_reserved_time_hours: u64,
    /// `mapedFileSizeCommitLog` / `mappedFileSizeCommitLog` (1 GiB).
    pub mapped_file_size_commit_log: u64,
    /// `mapedFileSizeConsumeQueue` in bytes (300,000 entries × 20).
    pub mapped_file_size_consume_queue: u64,
    /// `maxMessageSize` (4 MiB).
    pub max_message_size: usize,
    /// `brokerPermission` (6 = read and write).
    pub broker_permission: i32,
    /// `slaveReadEnable` (false): a slave answers pulls only when true.
    pub slave_read_enable: bool,
    /// `messageDelayLevel`: the 18 delays of the delay levels.
    pub message_delay_level: String,
    /// `registerNameServerPeriod` (30 s).
    pub register_name_server_period: Duration,
    /// `registerBrokerTimeoutMills` (6 s).
    pub register_broker_timeout: Duration,
    /// `flushConsumerOffsetInterval` (5 s).
    pub flush_consumer_offset_interval: Duration,
    /// `flushDelayOffsetInterval` (10 s).
    pub flush_delay_offset_interval: Duration,
    /// `syncFlushTimeout` (5 s).
    pub sync_flush_timeout: Duration,
    /// `flushIntervalCommitLog` (500 ms).
    pub flush_interval_commit_log: Duration,
    /// `slaveTimeout` (3 s): how long a SYNC_MASTER send waits for a slave.
    pub slave_timeout: Duration,
    /// `haMasterAddress`: a slave's fixed master HA address; `None` = learn it from the nameserver.
    pub ha_master_address: Option<String>,
    /// `longPollingEnable` (true): pulls that find nothing are held.
    pub long_polling_enable: bool,
    /// `shortPollingTimeMills` (1 s): hold time when long polling is off.
    pub short_polling_time: Duration,
    /// Most pulls held at once; more are answered SYSTEM_BUSY so memory stays bounded.
    pub max_held_pulls: usize,
    /// Most client connections at once.
    pub max_connections: usize,
    /// `channelExpiredTimeout`: client channels silent this long are dropped (120 s).
    pub channel_expired_timeout: Duration,
    /// `regionId` (DefaultRegion), echoed as `MSG_REGION`.
    pub region_id: String,
    /// `traceOn` (true), echoed as `TRACE_ON`.
    pub trace_on: bool,
    /// `clusterTopicEnable` (true): create a topic named after the cluster.
    pub cluster_topic_enable: bool,
    /// `brokerTopicEnable` (true): create a topic named after the broker.
    pub broker_topic_enable: bool,
    /// `diskMaxUsedSpaceRatio` in percent (75).
    pub disk_max_used_space_ratio: u32,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        BrokerConfig {
            broker_cluster_name: "DefaultCluster".into(),
            broker_name: "broker-a".into(),
            broker_id: 0,
            namesrv_addrs: Vec::new(),
            listen_port: 10911,
            ha_listen_port: None,
            broker_ip1: "127.0.0.1".into(),
            broker_ip2: None,
            broker_role: BrokerRole::AsyncMaster,
            flush_disk_type: FlushDiskType::Async,
            store_path_root_dir: home.join("store"),
            auto_create_topic_enable: true,
            auto_create_subscription_group: true,
            default_topic_queue_nums: 8,
            file_reserved_time_hours: 72,
            mapped_file_size_commit_log: 1 << 30,
            mapped_file_size_consume_queue: 300_000 * 20,
            max_message_size: 4 << 20,
            broker_permission: 6,
            slave_read_enable: false,
            message_delay_level: DEFAULT_DELAY_LEVELS.into(),
            register_name_server_period: Duration::from_secs(30),
            register_broker_timeout: Duration::from_secs(6),
            flush_consumer_offset_interval: Duration::from_secs(5),
            flush_delay_offset_interval: Duration::from_secs(10),
            sync_flush_timeout: Duration::from_secs(5),
            flush_interval_commit_log: Duration::from_millis(500),
            slave_timeout: Duration::from_secs(3),
            ha_master_address: None,
            long_polling_enable: true,
            short_polling_time: Duration::from_secs(1),
            max_held_pulls: 50_000,
            max_connections: 10_000,
            channel_expired_timeout: Duration::from_secs(120),
            region_id: "DefaultRegion".into(),
            trace_on: true,
            cluster_topic_enable: true,
            broker_topic_enable: true,
            disk_max_used_space_ratio: 75,
        }
    }
}

/// Keys [`BrokerConfig::from_properties`] reads.
const KNOWN_KEYS: &[&str] = &[
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
    "shortPollingTimeMills",
    "maxHeldPulls",
    "maxConnections",
    "channelExpiredTimeout",
    "regionId",
    "traceOn",
    "clusterTopicEnable",
    "brokerTopicEnable",
    "diskMaxUsedSpaceRatio",
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
    "enablePropertyFilter",
    "filterServerNums",
    "aclEnable",
    "sendMessageWithVIPChannel",
    "rocketmqHome",
    "enableDLegerCommitLog",
    "fetchNamesrvAddrByAddressServer",
    "useEpollNativeSelector",
    "isEnableBatchPush",
    "forceRegister",
    "compressedRegister",
    "traceTopicEnable",
    "msgTraceTopicName",
    "autoDeleteUnusedStats",
    "transactionTimeOut",
    "transactionCheckMax",
    "transactionCheckInterval",
];

/// Keys of `props` that no part of the broker reads (the binary warns about them).
pub fn unknown_keys(props: &JavaProperties) -> Vec<String> {
    props
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !KNOWN_KEYS.contains(k) && !IGNORED_APACHE_KEYS.contains(k))
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

/// Parses one delay such as `5s`, `2m`, `1h`, `1d` or `250ms` into milliseconds.
fn parse_delay(item: &str) -> Option<u64> {
    let (num, unit) = if let Some(n) = item.strip_suffix("ms") {
        (n, 1)
    } else {
        let unit = match item.chars().last()? {
            's' => 1000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return None,
        };
        (&item[..item.len() - 1], unit)
    };
    num.parse::<u64>().ok().map(|n| n * unit)
}

/// Parses a `messageDelayLevel` table into delays in milliseconds (level `i+1` = entry `i`).
pub fn parse_delay_levels(table: &str) -> Result<Vec<u64>, ConfigError> {
    let levels: Vec<u64> = table
        .split_whitespace()
        .map(|item| {
            parse_delay(item).ok_or_else(|| {
                bad(
                    "messageDelayLevel",
                    format!("{item:?} is not a delay like 5s or 2m"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    if levels.is_empty() {
        return Err(bad("messageDelayLevel", "the table is empty"));
    }
    Ok(levels)
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
                "shortPollingTimeMills" => c.short_polling_time = millis("shortPollingTimeMills", v)?,
                "maxHeldPulls" => c.max_held_pulls = parse_num("maxHeldPulls", v)?,
                "maxConnections" => c.max_connections = parse_num("maxConnections", v)?,
                "channelExpiredTimeout" => c.channel_expired_timeout = millis("channelExpiredTimeout", v)?,
                "regionId" => c.region_id = v.to_string(),
                "traceOn" => c.trace_on = parse_bool("traceOn", v)?,
                "clusterTopicEnable" => c.cluster_topic_enable = parse_bool("clusterTopicEnable", v)?,
                "brokerTopicEnable" => c.broker_topic_enable = parse_bool("brokerTopicEnable", v)?,
                "diskMaxUsedSpaceRatio" => {
                    c.disk_max_used_space_ratio = parse_num("diskMaxUsedSpaceRatio", v)?
                }
                _ => {}
            }
        }
        // Apache forces masters to id 0.
        if c.broker_role != BrokerRole::Slave {
            c.broker_id = 0;
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks the values; the broker refuses to start with an invalid config.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.broker_cluster_name.trim().is_empty() {
            return Err(bad("brokerClusterName", "must not be empty"));
        }
        if self.broker_name.trim().is_empty() {
            return Err(bad("brokerName", "must not be empty"));
        }
        match self.broker_role {
            BrokerRole::Slave if self.broker_id <= 0 => {
                return Err(bad("brokerId", "a SLAVE needs a brokerId greater than 0"))
            }
            BrokerRole::AsyncMaster | BrokerRole::SyncMaster if self.broker_id != 0 => {
                return Err(bad("brokerId", "a master has brokerId 0"))
            }
            _ => {}
        }
        if self.broker_ip1.parse::<std::net::IpAddr>().is_err() {
            return Err(bad(
                "brokerIP1",
                format!("{:?} is not an IP address", self.broker_ip1),
            ));
        }
        if let Some(ip2) = &self.broker_ip2 {
            if ip2.parse::<std::net::IpAddr>().is_err() {
                return Err(bad("brokerIP2", format!("{ip2:?} is not an IP address")));
            }
        }
        for addr in &self.namesrv_addrs {
            if addr
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .is_none()
            {
                return Err(bad("namesrvAddr", format!("{addr:?} is not host:port")));
            }
        }
        if !(1..=1024).contains(&self.default_topic_queue_nums) {
            return Err(bad("defaultTopicQueueNums", "must be within [1, 1024]"));
        }
        if self.broker_permission & !7 != 0 {
            return Err(bad(
                "brokerPermission",
                "must be a combination of 4 (read), 2 (write) and 1 (inherit)",
            ));
        }
        if self.max_message_size == 0 {
            return Err(bad("maxMessageSize", "must be positive"));
        }
        if self.mapped_file_size_consume_queue < 20 || !self.mapped_file_size_consume_queue.is_multiple_of(20)
        {
            return Err(bad(
                "mapedFileSizeConsumeQueue",
                "must be a positive multiple of 20",
            ));
        }
        parse_delay_levels(&self.message_delay_level)?;
        if self.register_name_server_period.is_zero() {
            return Err(bad("registerNameServerPeriod", "must be positive"));
        }
        if self.flush_consumer_offset_interval.is_zero() {
            return Err(bad("flushConsumerOffsetInterval", "must be positive"));
        }
        if self.max_held_pulls == 0 || self.max_connections == 0 {
            return Err(bad("maxHeldPulls", "limits must be positive"));
        }
        if !(1..=100).contains(&self.disk_max_used_space_ratio) {
            return Err(bad(
                "diskMaxUsedSpaceRatio",
                "must be a percentage within [1, 100]",
            ));
        }
        self.store_config()
            .validate()
            .map_err(|e| bad("mapedFileSizeCommitLog", e.to_string()))?;
        Ok(())
    }

    /// The HA port to listen on: `haListenPort`, else `listenPort + 1` (0 stays 0).
    pub fn ha_port(&self) -> u16 {
        self.ha_listen_port.unwrap_or(if self.listen_port == 0 {
            0
        } else {
            self.listen_port.wrapping_add(1)
        })
    }

    /// The address slaves use for HA.
    pub fn broker_ip2(&self) -> &str {
        self.broker_ip2.as_deref().unwrap_or(&self.broker_ip1)
    }

    /// Delay levels in milliseconds (level `i+1` = entry `i`); the default table if unparsable.
    pub fn delay_levels(&self) -> Vec<u64> {
        parse_delay_levels(&self.message_delay_level)
            .or_else(|_| parse_delay_levels(DEFAULT_DELAY_LEVELS))
            .unwrap_or_default()
    }

    /// The message store's configuration derived from this one.
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            root: self.store_path_root_dir.clone(),
            commit_log_file_size: self.mapped_file_size_commit_log,
            consume_queue_entries_per_file: (self.mapped_file_size_consume_queue / 20).max(1) as usize,
            flush_disk_type: self.flush_disk_type,
            flush_interval: self.flush_interval_commit_log.max(Duration::from_millis(1)),
            sync_flush_timeout: self.sync_flush_timeout,
            file_reserved_time: Duration::from_secs(self.file_reserved_time_hours * 3600),
            disk_max_used_ratio: self.disk_max_used_space_ratio as f64 / 100.0,
            max_message_size: self.max_message_size,
            ..StoreConfig::default()
        }
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
            ("shortPollingTimeMills", ms(self.short_polling_time)),
            ("maxHeldPulls", self.max_held_pulls.to_string()),
            ("maxConnections", self.max_connections.to_string()),
            ("channelExpiredTimeout", ms(self.channel_expired_timeout)),
            ("regionId", self.region_id.clone()),
            ("traceOn", self.trace_on.to_string()),
            ("clusterTopicEnable", self.cluster_topic_enable.to_string()),
            ("brokerTopicEnable", self.broker_topic_enable.to_string()),
            (
                "diskMaxUsedSpaceRatio",
                self.disk_max_used_space_ratio.to_string(),
            ),
        ];
        kv.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = String::new();
        for (k, v) in kv {
            out.push_str(k);
            out.push('=');
            out.push_str(&v);
            out.push('\n');
        }
        out
    }
}

/// Splits `namesrvAddr` (`a:9876;b:9876`, spaces and empty entries ignored).
pub fn split_namesrv_addrs(raw: &str) -> Vec<String> {
    raw.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
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
             mapedFileSizeCommitLog=10485760\nmessageDelayLevel=100ms 1s 2s\nbrokerIP1=10.0.0.7\n",
        ))
        .unwrap();
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
        assert!(text.contains("namesrvAddr=127.0.0.1:9876;127.0.0.1:9877\n"));
    }

    #[test]
    fn bad_values_name_the_key() {
        for (text, key) in [
            ("listenPort=abc", "listenPort"),
            ("brokerRole=BOSS", "brokerRole"),
            ("flushDiskType=SOMETIMES", "flushDiskType"),
            ("autoCreateTopicEnable=yes", "autoCreateTopicEnable"),
            ("messageDelayLevel=1s 5x", "messageDelayLevel"),
            ("namesrvAddr=localhost", "namesrvAddr"),
            ("brokerRole=SLAVE\nbrokerId=0", "brokerId"),
        ] {
            let err = BrokerConfig::from_properties(&props(text)).unwrap_err();
            assert_eq!(err.key, key, "{text}");
            assert!(err.to_string().contains(key));
        }
    }

    #[test]
    fn masters_are_forced_to_id_zero_and_unknown_keys_listed() {
        let p = props("brokerId=3\nbogusKey=1\ndeleteWhen=04\n");
        assert_eq!(BrokerConfig::from_properties(&p).unwrap().broker_id, 0);
        assert_eq!(unknown_keys(&p), vec!["bogusKey".to_string()]);
    }
}
