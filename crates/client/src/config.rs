//! [`ClientConfig`]: what every producer and consumer shares (nameservers, identity, timers).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rmq_remoting::net::local_ip::local_ipv4;
use rmq_remoting::LanguageCode;

use crate::error::{ClientError, Result};
use crate::namesrv::parse_addr_list;

/// Settings of the connection to a cluster.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Nameservers, `host:port;host:port`.
    pub namesrv_addr: String,
    /// The address part of the client id (`ip@instance`) and of message ids: by default the
    /// host's first non-loopback IPv4 address ([`local_ipv4`]), as in Apache.
    pub client_ip: String,
    /// The instance part of the client id; empty means "`<pid>#<unique number>`", so two
    /// clients in one process are two members of a group.
    pub instance_name: String,
    /// How often routes are refreshed from the nameserver (`pollNameServerInterval`).
    pub poll_name_server_interval: Duration,
    /// How often every broker gets a heartbeat (`heartbeatBrokerInterval`).
    pub heartbeat_broker_interval: Duration,
    /// Timeout of management calls (routes, heartbeats, offsets).
    pub request_timeout: Duration,
    /// Language code put in requests.
    pub language: LanguageCode,
    /// When set, every request is signed with these credentials (brokers with `aclEnable=true`).
    pub credentials: Option<rmq_remoting::acl::SessionCredentials>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            namesrv_addr: "127.0.0.1:9876".to_string(),
            client_ip: local_ipv4().to_string(),
            instance_name: String::new(),
            poll_name_server_interval: Duration::from_secs(30),
            heartbeat_broker_interval: Duration::from_secs(30),
            request_timeout: Duration::from_secs(3),
            language: LanguageCode::JAVA,
            credentials: None,
        }
    }
}

static INSTANCE_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ClientConfig {
    /// A config for these nameservers, everything else default.
    pub fn new(namesrv_addr: impl Into<String>) -> Self {
        ClientConfig {
            namesrv_addr: namesrv_addr.into(),
            ..Default::default()
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if parse_addr_list(&self.namesrv_addr).is_empty() {
            return Err(ClientError::Invalid("namesrv_addr names no nameserver".into()));
        }
        for (name, d) in [
            ("poll_name_server_interval", self.poll_name_server_interval),
            ("heartbeat_broker_interval", self.heartbeat_broker_interval),
            ("request_timeout", self.request_timeout),
        ] {
            if d.is_zero() {
                return Err(ClientError::Invalid(format!("{name} must be > 0")));
            }
        }
        Ok(())
    }

    /// The client id this config yields (a fresh one for each call when `instance_name` is empty).
    pub(crate) fn make_client_id(&self) -> String {
        if self.instance_name.is_empty() {
            let n = INSTANCE_COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            format!("{}@{}#{}#{}", self.client_ip, std::process::id(), n, nanos)
        } else {
            format!("{}@{}", self.client_ip, self.instance_name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_makes_unique_ids() {
        assert!(ClientConfig::default().validate().is_ok());
        assert!(ClientConfig::new(" ; ").validate().is_err());
        let zero = ClientConfig {
            request_timeout: Duration::ZERO,
            ..Default::default()
        };
        assert!(zero.validate().is_err());
        let c = ClientConfig::default();
        assert_ne!(c.make_client_id(), c.make_client_id());
        let named = ClientConfig {
            instance_name: "x".into(),
            ..Default::default()
        };
        assert_eq!(named.make_client_id(), format!("{}@x", local_ipv4()));
    }
}
