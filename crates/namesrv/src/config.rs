//! [`NamesrvConfig`]: the nameserver's settings, filled from Apache's property names.
//!
//! The same key names work in a `namesrv.conf` (`-c FILE`), in UPDATE_NAMESRV_CONFIG bodies and in
//! the text GET_NAMESRV_CONFIG and `mqnamesrv -p` print. Durations keep Apache's units (ms for the
//! scan interval and expiry, seconds for the idle timeout) so an Apache config file means the same
//! thing here. Keys Apache knows but this server has no use for (thread pool sizes, socket buffer
//! sizes) are accepted and ignored; anything else is warned about, never silently dropped.

use std::path::PathBuf;
use std::time::Duration;

use rmq_remoting::java_properties::{escape_value, JavaProperties};
use tracing::warn;

/// Why a configuration is rejected; every variant names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value does not parse as its key's type.
    #[error("config key `{key}`{}: invalid value {value:?}, expected {expected}", line_suffix(*.line))]
    Invalid {
        /// The key.
        key: String,
        /// The value found.
        value: String,
        /// What the key takes.
        expected: &'static str,
        /// Line in the properties file, if it came from one.
        line: Option<usize>,
    },
    /// The values parse but do not make a working server.
    #[error("config key `{key}`: {reason}")]
    Unusable {
        /// The key.
        key: &'static str,
        /// Why.
        reason: &'static str,
    },
}

fn line_suffix(line: Option<usize>) -> String {
    match line {
        Some(n) if n > 0 => format!(" (line {n})"),
        _ => String::new(),
    }
}

/// Apache NamesrvConfig / NettyServerConfig keys accepted without effect here.
const IGNORED_APACHE_KEYS: &[&str] = &[
    "productEnvName",
    "clusterTest",
    "returnOrderTopicConfigToBroker",
    "clientRequestThreadPoolNums",
    "defaultThreadPoolNums",
    "clientRequestThreadPoolQueueCapacity",
    "defaultThreadPoolQueueCapacity",
    "unRegisterBrokerQueueCapacity",
    "supportActingMaster",
    "enableAllTopicList",
    "enableTopicList",
    "notifyMinBrokerIdChanged",
    "enableControllerInNamesrv",
    "needWaitForService",
    "waitSecondsForService",
    "deleteTopicWithBrokerRegistration",
    "configBlackList",
    "serverWorkerThreads",
    "serverCallbackExecutorThreads",
    "serverSelectorThreads",
    "serverOnewaySemaphoreValue",
    "serverAsyncSemaphoreValue",
    "serverSocketSndBufSize",
    "serverSocketRcvBufSize",
    "serverPooledByteBufAllocatorEnable",
    "useEpollNativeSelector",
    "writeBufferHighWaterMark",
    "writeBufferLowWaterMark",
    "serverSocketBacklog",
];

/// Keys UPDATE_NAMESRV_CONFIG may not change at runtime (they only take effect at start, or
/// would let a remote caller redirect where the server writes files).
pub const RUNTIME_BLACKLIST: &[&str] = &[
    "listenPort",
    "rocketmqHome",
    "kvConfigPath",
    "configStorePath",
    // Copied into the listener's settings at start; a later change would be reported but ignored.
    "serverChannelMaxIdleTimeSeconds",
    "maxBufferedRequestBytes",
    // The metrics endpoint is bound at start.
    "metricsExporterType",
    "metricsPromExporterHost",
    "metricsPromExporterPort",
    "metricsLabel",
    "metricsInDelta",
    "metricsOtelCardinalityLimit",
];

/// Default [`NamesrvConfig::max_topics_per_broker`].
pub const DEFAULT_MAX_TOPICS_PER_BROKER: usize = 50_000;
/// Default [`NamesrvConfig::max_topic_name_length`]: Apache's `TopicValidator` limit.
pub const DEFAULT_MAX_TOPIC_NAME_LENGTH: usize = 127;
/// Default [`NamesrvConfig::max_kv_value_length`].
pub const DEFAULT_MAX_KV_VALUE_LENGTH: usize = 16 * 1024;
/// Default [`NamesrvConfig::max_kv_table_bytes`]: the ORDER_TOPIC_CONFIG namespace rides on
/// every REGISTER_BROKER reply, which must stay far below the 16 MiB frame limit.
pub const DEFAULT_MAX_KV_TABLE_BYTES: usize = 1024 * 1024;

/// Nameserver settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NamesrvConfig {
    /// TCP port to listen on (`listenPort`, default 9876). The binary binds it; `NameServer::start`
    /// takes an already bound listener.
    pub listen_port: u16,
    /// Home directory (`rocketmqHome`); the KV file lives under it unless `kv_config_path` is set.
    pub home: PathBuf,
    /// KV config file (`kvConfigPath`); empty means `<home>/namesrv/kvConfig.json`, Apache's layout.
    pub kv_config_path: PathBuf,
    /// How often dead brokers are looked for (`scanNotActiveBrokerInterval`, ms; default 10 s).
    pub scan_interval: Duration,
    /// A broker silent for longer than this is dropped (`brokerChannelExpiredTime`, ms; 120 s).
    pub broker_expiry: Duration,
    /// Whether routes carry `orderTopicConf` from the `ORDER_TOPIC_CONFIG` KV namespace
    /// (`orderMessageEnable`, default false).
    pub order_message_enable: bool,
    /// How often the whole KV table is logged (`kvConfigLogInterval`, ms; default 10 minutes).
    pub kv_log_interval: Duration,
    /// Connections silent this long are closed (`serverChannelMaxIdleTimeSeconds`, s; 120).
    pub idle_timeout: Duration,
    /// A REGISTER_BROKER carrying more topics is refused (`maxTopicsPerBroker`; 50,000). Not an
    /// Apache key: it bounds what one registration costs and keeps GET_ALL_TOPIC_LIST in a frame.
    pub max_topics_per_broker: usize,
    /// A REGISTER_BROKER naming a longer topic is refused (`maxTopicNameLength`, bytes; 127 as
    /// Apache's TopicValidator).
    pub max_topic_name_length: usize,
    /// Longest KV value PUT_KV_CONFIG accepts (`maxKvValueLength`, bytes; 16 KiB).
    pub max_kv_value_length: usize,
    /// Most bytes (keys plus values, every namespace) the KV table may hold
    /// (`maxKvTableBytes`; 1 MiB); a put past it is refused.
    pub max_kv_table_bytes: usize,
    /// Request bytes all connections may hold in incomplete frames before the slowest peers
    /// are closed (`maxBufferedRequestBytes`; 128 MiB).
    pub max_buffered_request_bytes: usize,
    /// RocketMQ 5's broker metrics keys, read here too (an extension: Apache's nameserver has
    /// no exporter). "" as `metricsPromExporterHost` binds every interface.
    pub metrics: rmq_metrics::MetricsConfig,
}

impl Default for NamesrvConfig {
    fn default() -> Self {
        NamesrvConfig {
            listen_port: 9876,
            home: PathBuf::from("."),
            kv_config_path: PathBuf::new(),
            scan_interval: Duration::from_secs(10),
            broker_expiry: Duration::from_secs(120),
            order_message_enable: false,
            kv_log_interval: Duration::from_secs(600),
            idle_timeout: Duration::from_secs(120),
            max_topics_per_broker: DEFAULT_MAX_TOPICS_PER_BROKER,
            max_topic_name_length: DEFAULT_MAX_TOPIC_NAME_LENGTH,
            max_kv_value_length: DEFAULT_MAX_KV_VALUE_LENGTH,
            max_kv_table_bytes: DEFAULT_MAX_KV_TABLE_BYTES,
            max_buffered_request_bytes: rmq_remoting::net::DEFAULT_MAX_BUFFERED_REQUEST_BYTES,
            metrics: rmq_metrics::MetricsConfig::default(),
        }
    }
}

impl NamesrvConfig {
    /// The KV file actually used.
    pub fn kv_config_file(&self) -> PathBuf {
        if self.kv_config_path.as_os_str().is_empty() {
            self.home.join("namesrv").join("kvConfig.json")
        } else {
            self.kv_config_path.clone()
        }
    }

    /// Checks that the values make a working server.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let unusable = |key, reason| Err(ConfigError::Unusable { key, reason });
        if self.home.as_os_str().is_empty() {
            return unusable("rocketmqHome", "must not be empty");
        }
        if self.scan_interval.is_zero() {
            return unusable("scanNotActiveBrokerInterval", "must be at least 1 ms");
        }
        if self.broker_expiry.is_zero() {
            return unusable("brokerChannelExpiredTime", "must be at least 1 ms");
        }
        if self.kv_log_interval.is_zero() {
            return unusable("kvConfigLogInterval", "must be at least 1 ms");
        }
        if self.idle_timeout.is_zero() {
            return unusable("serverChannelMaxIdleTimeSeconds", "must be at least 1 s");
        }
        Ok(())
    }

    /// Defaults overridden by `props`; unknown keys are logged as warnings.
    pub fn from_properties(props: &JavaProperties) -> Result<NamesrvConfig, ConfigError> {
        let mut config = NamesrvConfig::default();
        config.apply(props)?;
        Ok(config)
    }

    /// Overrides the fields named in `props`. On error nothing is changed.
    pub fn apply(&mut self, props: &JavaProperties) -> Result<(), ConfigError> {
        let mut next = self.clone();
        for (key, value) in props.iter() {
            let line = props.line_of(key);
            let invalid = |expected| ConfigError::Invalid {
                key: key.to_string(),
                value: value.to_string(),
                expected,
                line,
            };
            let value = value.trim();
            match key {
                "listenPort" => next.listen_port = value.parse().map_err(|_| invalid("a port 0-65535"))?,
                "rocketmqHome" => next.home = PathBuf::from(value),
                "kvConfigPath" => next.kv_config_path = PathBuf::from(value),
                "scanNotActiveBrokerInterval" => {
                    next.scan_interval = millis(value).ok_or_else(|| invalid(MS))?
                }
                "brokerChannelExpiredTime" => {
                    next.broker_expiry = millis(value).ok_or_else(|| invalid(MS))?
                }
                "kvConfigLogInterval" => next.kv_log_interval = millis(value).ok_or_else(|| invalid(MS))?,
                "orderMessageEnable" => {
                    next.order_message_enable = boolean(value).ok_or_else(|| invalid(BOOL))?
                }
                "serverChannelMaxIdleTimeSeconds" => {
                    next.idle_timeout = value
                        .parse::<u64>()
                        .ok()
                        .filter(|&s| s > 0)
                        .map(Duration::from_secs)
                        .ok_or_else(|| invalid("a positive number of seconds"))?
                }
                "maxTopicsPerBroker" => {
                    next.max_topics_per_broker = count(value).ok_or_else(|| invalid(COUNT))?
                }
                "maxTopicNameLength" => {
                    next.max_topic_name_length = count(value).ok_or_else(|| invalid(COUNT))?
                }
                "maxKvValueLength" => {
                    next.max_kv_value_length = count(value).ok_or_else(|| invalid(COUNT))?
                }
                "maxKvTableBytes" => next.max_kv_table_bytes = count(value).ok_or_else(|| invalid(COUNT))?,
                "maxBufferedRequestBytes" => {
                    next.max_buffered_request_bytes = count(value).ok_or_else(|| invalid(COUNT))?
                }
                // Apache writes the config file's own path here; reading it back is harmless.
                "configStorePath" => {}
                other if rmq_metrics::config::KEYS.contains(&other) => {
                    next.metrics
                        .set(other, value)
                        .map_err(|_| invalid(metrics_expected(other)))?;
                }
                other if IGNORED_APACHE_KEYS.contains(&other) => {}
                other if rmq_metrics::config::IGNORED_KEYS.contains(&other) => {}
                other => warn!(key = other, "unknown nameserver config key ignored"),
            }
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// The effective settings as Apache-named properties, one `key=value` line each, sorted;
    /// values escaped so the text reads back as the same settings.
    pub fn to_properties_text(&self) -> String {
        let mut lines = vec![
            format!("brokerChannelExpiredTime={}", self.broker_expiry.as_millis()),
            format!("kvConfigLogInterval={}", self.kv_log_interval.as_millis()),
            format!(
                "kvConfigPath={}",
                escape_value(&self.kv_config_file().display().to_string())
            ),
            format!("listenPort={}", self.listen_port),
            format!("maxBufferedRequestBytes={}", self.max_buffered_request_bytes),
            format!("maxKvTableBytes={}", self.max_kv_table_bytes),
            format!("maxKvValueLength={}", self.max_kv_value_length),
            format!("maxTopicNameLength={}", self.max_topic_name_length),
            format!("maxTopicsPerBroker={}", self.max_topics_per_broker),
            format!("orderMessageEnable={}", self.order_message_enable),
            format!("rocketmqHome={}", escape_value(&self.home.display().to_string())),
            format!("scanNotActiveBrokerInterval={}", self.scan_interval.as_millis()),
            format!("serverChannelMaxIdleTimeSeconds={}", self.idle_timeout.as_secs()),
        ];
        lines.extend(
            self.metrics
                .to_properties()
                .into_iter()
                .map(|(k, v)| format!("{k}={}", escape_value(&v))),
        );
        lines.sort();
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

const MS: &str = "a positive number of milliseconds";

/// What each metrics key takes, for the error message.
fn metrics_expected(key: &str) -> &'static str {
    match key {
        "metricsExporterType" => "DISABLE or PROM (the only exporter here)",
        "metricsPromExporterPort" => "a port 0-65535",
        "metricsLabel" => "k1:v1,k2:v2 with Prometheus label names",
        "metricsInDelta" => BOOL,
        _ => COUNT,
    }
}
const BOOL: &str = "true or false";
const COUNT: &str = "a positive integer";

fn count(value: &str) -> Option<usize> {
    value.parse::<usize>().ok().filter(|&n| n > 0)
}

fn millis(value: &str) -> Option<Duration> {
    value
        .parse::<u64>()
        .ok()
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
}

fn boolean(value: &str) -> Option<bool> {
    // Stricter than Boolean.parseBoolean on purpose: a typo should not silently mean false.
    match value.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_apache() {
        let c = NamesrvConfig::default();
        assert_eq!(c.listen_port, 9876);
        assert_eq!(c.scan_interval, Duration::from_secs(10));
        assert_eq!(c.broker_expiry, Duration::from_secs(120));
        assert!(!c.order_message_enable);
        assert_eq!(c.kv_config_file(), PathBuf::from("./namesrv/kvConfig.json"));
        c.validate().unwrap();
    }

    #[test]
    fn reads_apache_keys() {
        let props = JavaProperties::parse(
            "listenPort=9877\nkvConfigPath=/tmp/kv.json\norderMessageEnable=true\n\
             scanNotActiveBrokerInterval=500\nbrokerChannelExpiredTime=3000\nserverWorkerThreads=8\nbogus=1\n",
        );
        let c = NamesrvConfig::from_properties(&props).unwrap();
        assert_eq!(c.max_topic_name_length, 127);
        assert_eq!(c.listen_port, 9877);
        assert_eq!(c.kv_config_file(), PathBuf::from("/tmp/kv.json"));
        assert!(c.order_message_enable);
        assert_eq!(c.scan_interval, Duration::from_millis(500));
        assert_eq!(c.broker_expiry, Duration::from_secs(3));
    }

    #[test]
    fn bad_values_name_the_key_and_change_nothing() {
        let props = JavaProperties::parse("orderMessageEnable=true\n\nlistenPort=98760\n");
        let err = NamesrvConfig::from_properties(&props).unwrap_err();
        assert!(err.to_string().contains("`listenPort` (line 3)"), "{err}");
        let mut c = NamesrvConfig::default();
        assert!(c.apply(&props).is_err());
        assert_eq!(c, NamesrvConfig::default());
        let zero = JavaProperties::parse("scanNotActiveBrokerInterval=0");
        assert!(NamesrvConfig::from_properties(&zero)
            .unwrap_err()
            .to_string()
            .contains("scanNotActiveBrokerInterval"));
        let flag = JavaProperties::parse("orderMessageEnable=yes");
        assert!(NamesrvConfig::from_properties(&flag).is_err());
    }

    #[test]
    fn properties_text_round_trips() {
        let c = NamesrvConfig {
            listen_port: 1234,
            home: PathBuf::from("/srv/ns"),
            order_message_enable: true,
            broker_expiry: Duration::from_millis(4500),
            ..NamesrvConfig::default()
        };
        let text = c.to_properties_text();
        assert!(text.contains("kvConfigPath=/srv/ns/namesrv/kvConfig.json\n"));
        let back = NamesrvConfig::from_properties(&JavaProperties::parse(&text)).unwrap();
        assert_eq!(back.listen_port, 1234);
        assert_eq!(back.broker_expiry, c.broker_expiry);
        assert_eq!(back.kv_config_file(), c.kv_config_file());
        assert!(back.order_message_enable);
    }
}
