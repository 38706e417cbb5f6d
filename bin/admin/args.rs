//! Flags and flag values several `mqadmin` commands share: the `-b`/`-c` target, `true|false`
//! flags, times.

use rmq_admin::acl::AclTarget;
use rmq_admin::broker::BrokerSelector;
use rmq_admin::format::{parse_bool, parse_time_arg};
use rmq_admin::topic::Target;
use rmq_admin::AdminError;

/// `-b <brokerAddr>` or `-c <clusterName>`, exactly one.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct TargetArgs {
    /// Broker address (ip:port).
    #[arg(short = 'b', long = "brokerAddr")]
    broker_addr: Option<String>,
    /// Every master of this cluster.
    #[arg(short = 'c', long = "clusterName")]
    cluster_name: Option<String>,
}

impl TargetArgs {
    pub fn acl_target(self) -> AclTarget {
        match self.broker_addr {
            Some(b) => AclTarget::Broker(b),
            None => AclTarget::Cluster(self.cluster_name.unwrap_or_default()),
        }
    }

    pub fn target(self) -> Target {
        match self.broker_addr {
            Some(b) => Target::Broker(b),
            // The required group guarantees one of the two.
            None => Target::Cluster(self.cluster_name.unwrap_or_default()),
        }
    }
}

/// `-b` or `-c` of brokerStatus and getBrokerConfig (every broker of a cluster, not only masters).
pub fn broker_selector(addr: Option<String>, cluster: Option<String>) -> BrokerSelector {
    match (addr, cluster) {
        (Some(a), _) => BrokerSelector::Addr(a),
        (None, Some(c)) => BrokerSelector::Cluster(c),
        // clap's required group guarantees one of the two.
        (None, None) => BrokerSelector::Cluster(String::new()),
    }
}

/// A `-s`/`-e`/`-b` time flag: epoch ms or yyyy-MM-dd#HH:mm:ss:SSS (UTC).
pub fn time_arg(flag: &str, v: Option<String>) -> Result<Option<i64>, AdminError> {
    v.map(|s| {
        parse_time_arg(&s).ok_or_else(|| {
            AdminError::Invalid(format!(
                "{flag} takes epoch ms or yyyy-MM-dd#HH:mm:ss:SSS, not {s:?}"
            ))
        })
    })
    .transpose()
}

/// A `true|false` flag, refused (naming `flag`) when it is anything else.
pub fn flag_bool(flag: &str, v: &str) -> Result<bool, AdminError> {
    parse_bool(flag, v).map_err(AdminError::Invalid)
}

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
