//! `ClusterInfo`: the GET_BROKER_CLUSTER_INFO reply body (broker names per cluster and the
//! addresses of each broker name). Real namesrvs always write it with unquoted `brokerAddrs` keys,
//! which [`JsonBody::decode`] accepts.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::route::BrokerData;
use super::JsonBody;

/// Every broker the namesrv knows, by broker name and by cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterInfo {
    /// Broker name → its addresses.
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    /// Cluster name → broker names.
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

impl JsonBody for ClusterInfo {}

impl ClusterInfo {
    /// Master addresses of every broker name in `cluster` (mqadmin `-c`).
    pub fn master_addrs_of(&self, cluster: &str) -> Vec<String> {
        self.cluster_addr_table
            .get(cluster)
            .into_iter()
            .flatten()
            .filter_map(|name| {
                self.broker_addr_table
                    .get(name)?
                    .master_addr()
                    .map(str::to_string)
            })
            .collect()
    }

    /// Every broker address (masters and slaves) of every broker name.
    pub fn all_addrs(&self) -> Vec<String> {
        self.broker_addr_table
            .values()
            .flat_map(|b| b.broker_addrs.values().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}},
 "clusterAddrTable":{"DefaultCluster":["broker-a"]}}"#;

    #[test]
    fn parses_protocol_md_example() {
        let info = ClusterInfo::decode(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(
            info.master_addrs_of("DefaultCluster"),
            vec!["10.0.0.1:10911".to_string()]
        );
        assert!(info.master_addrs_of("Other").is_empty());
        assert_eq!(info.all_addrs().len(), 2);
    }

    #[test]
    fn round_trips() {
        let info = ClusterInfo::decode(EXAMPLE.as_bytes()).unwrap();
        let text = info.to_json();
        assert!(
            text.contains(r#""brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}"#),
            "{text}"
        );
        assert!(text.contains(r#""enableActingMaster":false"#));
        assert_eq!(ClusterInfo::decode(text.as_bytes()).unwrap(), info);
        assert_eq!(ClusterInfo::decode(b"{}").unwrap(), ClusterInfo::default());
    }
}
