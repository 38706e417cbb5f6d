//! [`BrokerConfig`]: the broker's settings as a plain struct with Apache RocketMQ's defaults,
//! filled from a `broker.conf` (Java properties with Apache's key names) by
//! [`BrokerConfig::from_properties`] and checked by [`BrokerConfig::validate`].
//!
//! Keys this broker does not know are reported by [`unknown_keys`] (in [`properties`]) (the binary warns about
//! them); Apache keys that only tune the Java implementation are accepted silently. A value that
//! does not parse is an error naming its key.

use std::path::PathBuf;
use std::time::Duration;

use crate::store::{FlushDiskType, StoreConfig};

mod properties;

pub use properties::unknown_keys;

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
    /// `slaveReadEnable` (false): whether pull replies may suggest reading from a slave
    /// (`suggestWhichBrokerId`). A slave serves the messages it holds either way, as in Apache.
    pub slave_read_enable: bool,
    /// `aclEnable` (false): check every request against `<rocketmqHome>/conf/plain_acl.yml`.
    pub acl_enable: bool,
    /// `rocketmqHome` (the `ROCKETMQ_HOME` environment variable, else the working directory):
    /// where `conf/plain_acl.yml` lives.
    pub rocketmq_home: PathBuf,
    /// `warmMapedFileEnable` (false): fault in every page of a new commit-log file before
    /// the writer gets it (see [`StoreConfig::warm_mapped_file`]).
    pub warm_maped_file_enable: bool,
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
    /// `enablePropertyFilter` (false): SQL92 subscriptions are served (CHECK_CLIENT_CONFIG and
    /// pulls); off, they are answered SYSTEM_ERROR as Apache does.
    pub enable_property_filter: bool,
    /// `shortPollingTimeMills` (1 s): hold time when long polling is off.
    pub short_polling_time: Duration,
    /// Most pulls held at once; more are answered SYSTEM_BUSY so memory stays bounded.
    pub max_held_pulls: usize,
    /// Most client connections at once.
    pub max_connections: usize,
    /// `maxOpenConsumeQueueFiles` (0 = a quarter of the process's descriptor limit, which
    /// `mqbroker` raises to the hard limit at start; 4096 in-process): consume-queue files open
    /// at once, the least recently used closed beyond it, so the commit log and the listener
    /// always find descriptors.
    pub max_open_consume_queue_files: usize,
    /// `autoCreateTopicMaxNums` (10,000): a send or heartbeat no longer auto-creates a topic once
    /// the broker holds this many topics (mqadmin updateTopic still creates them).
    pub auto_create_topic_max_nums: usize,
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
    /// `diskSpaceWarningLevelRatio` (0.90, a fraction): above this disk use sends are refused
    /// (Apache reads it from the system property `rocketmq.broker.diskSpaceWarningLevelRatio`).
    pub disk_space_warning_level_ratio: f64,
    /// `transactionTimeOut` (6 s): half messages younger than this are not checked back.
    pub transaction_timeout: Duration,
    /// `transactionCheckMax` (15): check-backs of one half message before it is discarded.
    pub transaction_check_max: i32,
    /// `transactionCheckInterval` (60 s): period of the check-back round.
    pub transaction_check_interval: Duration,
    /// `rejectTransactionMessage` (false): refuse half messages with NO_PERMISSION.
    pub reject_transaction_message: bool,
    /// `messageIndexEnable` (true): index messages by key and unique key (QUERY_MESSAGE).
    pub message_index_enable: bool,
    /// `maxHashSlotNum` (5,000,000): hash slots per index file.
    pub max_hash_slot_num: u32,
    /// `maxIndexNum` (20,000,000): entries per index file.
    pub max_index_num: u32,
    /// `maxMsgsNumBatch` (64): most messages one QUERY_MESSAGE returns.
    pub max_msgs_num_batch: usize,
    /// `defaultQueryMaxNum` (32): the `maxNum` of a unique-key query.
    pub default_query_max_num: usize,
    /// RocketMQ 5's metrics keys (`metricsExporterType=PROM`, `metricsPromExporterHost`,
    /// `metricsPromExporterPort`, …): the Prometheus `/metrics` page, off by default.
    pub metrics: rmq_metrics::MetricsConfig,
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
            acl_enable: false,
            rocketmq_home: std::env::var_os("ROCKETMQ_HOME")
                .map_or_else(|| PathBuf::from("."), PathBuf::from),
            warm_maped_file_enable: false,
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
            enable_property_filter: false,
            short_polling_time: Duration::from_secs(1),
            max_held_pulls: 50_000,
            max_connections: 10_000,
            max_open_consume_queue_files: 0,
            auto_create_topic_max_nums: 10_000,
            channel_expired_timeout: Duration::from_secs(120),
            region_id: "DefaultRegion".into(),
            trace_on: true,
            cluster_topic_enable: true,
            broker_topic_enable: true,
            disk_max_used_space_ratio: 75,
            disk_space_warning_level_ratio: 0.90,
            transaction_timeout: Duration::from_secs(6),
            transaction_check_max: 15,
            transaction_check_interval: Duration::from_secs(60),
            reject_transaction_message: false,
            message_index_enable: true,
            max_hash_slot_num: 5_000_000,
            max_index_num: 20_000_000,
            max_msgs_num_batch: 64,
            default_query_max_num: 32,
            metrics: rmq_metrics::MetricsConfig::default(),
        }
    }
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
        if self.transaction_check_interval.is_zero() {
            return Err(bad("transactionCheckInterval", "must be greater than 0"));
        }
        if self.register_name_server_period.is_zero() {
            return Err(bad("registerNameServerPeriod", "must be positive"));
        }
        if self.flush_consumer_offset_interval.is_zero() {
            return Err(bad("flushConsumerOffsetInterval", "must be positive"));
        }
        if self.max_held_pulls == 0 {
            return Err(bad("maxHeldPulls", "must be positive"));
        }
        if self.max_connections == 0 {
            return Err(bad("maxConnections", "must be positive"));
        }
        if self.channel_expired_timeout < Duration::from_secs(1) {
            return Err(bad(
                "channelExpiredTimeout",
                "must be at least 1000 ms (clients heartbeat every 30 s)",
            ));
        }
        if !(self.disk_space_warning_level_ratio > 0.0 && self.disk_space_warning_level_ratio <= 1.0) {
            return Err(bad(
                "diskSpaceWarningLevelRatio",
                "must be a fraction within (0, 1], e.g. 0.90",
            ));
        }
        if self.max_message_size as u64 + 8 > self.mapped_file_size_commit_log {
            return Err(bad(
                "maxMessageSize",
                format!(
                    "must fit in one commit-log file (mapedFileSizeCommitLog={})",
                    self.mapped_file_size_commit_log
                ),
            ));
        }
        if !(1..=100).contains(&self.disk_max_used_space_ratio) {
            return Err(bad(
                "diskMaxUsedSpaceRatio",
                "must be a percentage within [1, 100]",
            ));
        }
        if self.max_hash_slot_num == 0 || self.max_hash_slot_num > 100_000_000 {
            return Err(bad("maxHashSlotNum", "must be within [1, 100,000,000]"));
        }
        if !(2..=100_000_000).contains(&self.max_index_num) {
            return Err(bad("maxIndexNum", "must be within [2, 100,000,000]"));
        }
        self.store_config()
            .validate()
            .map_err(|e| bad("mapedFileSizeCommitLog", format!("store settings unusable: {e}")))?;
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
            disk_full_ratio: self.disk_space_warning_level_ratio,
            max_message_size: self.max_message_size,
            warm_mapped_file: self.warm_maped_file_enable,
            max_open_queue_files: match self.max_open_consume_queue_files {
                0 => StoreConfig::default().max_open_queue_files,
                n => n,
            },
            message_index_enable: self.message_index_enable,
            max_hash_slot_num: self.max_hash_slot_num,
            max_index_num: self.max_index_num,
            max_msgs_num_batch: self.max_msgs_num_batch,
            ..StoreConfig::default()
        }
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
