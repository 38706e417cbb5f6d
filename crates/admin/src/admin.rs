//! [`Admin`]: the connection handle every command uses — the name server list, one multiplexing
//! [`RemotingClient`], and the few lookups most commands start with (cluster info, routes,
//! masters of a cluster).

use std::time::Duration;

use rmq_remoting::body::{ClusterInfo, JsonBody, TopicRouteData};
use rmq_remoting::headers::namesrv::GetRouteInfoRequestHeader;
use rmq_remoting::net::{ClientConfig, RemotingClient};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode, RpcRequest};

use crate::error::AdminError;

/// Default time one RPC may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A master broker: its name and `ip:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    /// `brokerName`.
    pub name: String,
    /// `ip:port` of the master.
    pub addr: String,
}

/// Connection handle for admin commands.
pub struct Admin {
    client: RemotingClient,
    namesrvs: Vec<String>,
    timeout: Duration,
}

/// Splits `a;b;c` (Apache's separator) into addresses, ignoring blanks.
pub fn parse_namesrv_list(list: &str) -> Vec<String> {
    list.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Admin {
    /// An admin handle for the `;`-separated name server list.
    pub fn new(namesrv_list: &str) -> Result<Admin, AdminError> {
        let namesrvs = parse_namesrv_list(namesrv_list);
        if namesrvs.is_empty() {
            return Err(AdminError::Invalid(
                "no name server address: pass -n 127.0.0.1:9876 (several: 'a:9876;b:9876') or set NAMESRV_ADDR"
                    .into(),
            ));
        }
        Ok(Admin {
            client: RemotingClient::new(ClientConfig::default()),
            namesrvs,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Signs every request with `credentials` (for brokers with `aclEnable=true`).
    pub fn with_credentials(mut self, credentials: rmq_remoting::acl::SessionCredentials) -> Admin {
        self.client.shutdown();
        self.client = RemotingClient::new(ClientConfig {
            credentials: Some(credentials),
            ..ClientConfig::default()
        });
        self
    }

    /// Sets the per-RPC timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Admin {
        self.timeout = timeout;
        self
    }

    /// The name servers, in the order given.
    pub fn namesrvs(&self) -> &[String] {
        &self.namesrvs
    }

    /// The underlying client (for commands that need a raw exchange).
    pub fn client(&self) -> &RemotingClient {
        &self.client
    }

    /// Sends `cmd` to `addr` and returns the response whatever its code.
    pub async fn invoke_raw(&self, addr: &str, cmd: RemotingCommand) -> Result<RemotingCommand, AdminError> {
        Ok(self.client.invoke(addr, cmd, self.timeout).await?)
    }

    /// Sends `cmd` to `addr`; a non-SUCCESS answer is an [`AdminError::Remote`].
    pub async fn invoke(&self, addr: &str, cmd: RemotingCommand) -> Result<RemotingCommand, AdminError> {
        let resp = self.invoke_raw(addr, cmd).await?;
        if resp.is_success() {
            Ok(resp)
        } else {
            Err(AdminError::refused(addr, &resp))
        }
    }

    /// A typed call: `header`'s request code, SUCCESS required, the reply header decoded.
    pub async fn call<R: RpcRequest>(
        &self,
        addr: &str,
        header: &R,
    ) -> Result<(R::Response, RemotingCommand), AdminError> {
        let resp = self
            .invoke(addr, RemotingCommand::request_with(R::CODE, header))
            .await?;
        let decoded = resp
            .decode_header::<R::Response>()
            .map_err(|e| AdminError::Invalid(format!("bad reply header from {addr}: {e}")))?;
        Ok((decoded, resp))
    }

    /// Sends `cmd` to the first name server that can be reached. A refusal from a reachable name
    /// server is returned as is; only transport failures move on to the next one.
    pub async fn invoke_namesrv(
        &self,
        cmd: RemotingCommand,
    ) -> Result<(String, RemotingCommand), AdminError> {
        let mut last = None;
        for ns in &self.namesrvs {
            match self.invoke_raw(ns, cmd.clone()).await {
                Ok(resp) => return Ok((ns.clone(), resp)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| AdminError::Invalid("no name server address".into())))
    }

    /// Decodes a JSON body, naming the sender on failure.
    pub fn decode<T: JsonBody>(addr: &str, body: &[u8]) -> Result<T, AdminError> {
        T::decode(body).map_err(|source| AdminError::Body {
            addr: addr.to_string(),
            source,
        })
    }

    /// GET_BROKER_CLUSTER_INFO from the first reachable name server.
    pub async fn cluster_info(&self) -> Result<ClusterInfo, AdminError> {
        let (ns, resp) = self
            .invoke_namesrv(RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO))
            .await?;
        if !resp.is_success() {
            return Err(AdminError::refused(ns, &resp));
        }
        Self::decode(&ns, &resp.body)
    }

    /// The route of `topic`, or `None` when the name server has none (TOPIC_NOT_EXIST).
    pub async fn route(&self, topic: &str) -> Result<Option<TopicRouteData>, AdminError> {
        let header = GetRouteInfoRequestHeader {
            topic: topic.to_string(),
            accept_standard_json_only: None,
        };
        let cmd = RemotingCommand::request_with(RequestCode::GET_ROUTEINFO_BY_TOPIC, &header);
        let (ns, resp) = self.invoke_namesrv(cmd).await?;
        if resp.code == ResponseCode::TOPIC_NOT_EXIST.code() {
            return Ok(None);
        }
        if !resp.is_success() {
            return Err(AdminError::refused(ns, &resp));
        }
        Self::decode(&ns, &resp.body).map(Some)
    }

    /// The route of `topic`; its absence is an error that says how to create the topic.
    pub async fn route_required(&self, topic: &str) -> Result<TopicRouteData, AdminError> {
        self.route(topic).await?.ok_or_else(|| {
            AdminError::Invalid(format!(
                "topic {topic} has no route on the name server (TOPIC_NOT_EXIST); create it with \
                 `mqadmin updateTopic -c <cluster> -t {topic}` or check the name"
            ))
        })
    }

    /// Masters of `cluster` by broker name; an unknown or empty cluster is an error listing the
    /// clusters that exist.
    pub async fn masters_of_cluster(&self, cluster: &str) -> Result<Vec<BrokerAddr>, AdminError> {
        let info = self.cluster_info().await?;
        let masters = masters_in(&info, cluster);
        if masters.is_empty() {
            let known: Vec<&str> = info.cluster_addr_table.keys().map(String::as_str).collect();
            return Err(AdminError::Invalid(format!(
                "cluster {cluster} has no master broker; clusters known to the name server: [{}] \
                 (see `mqadmin clusterList`)",
                known.join(", ")
            )));
        }
        Ok(masters)
    }

    /// Every broker address (masters and slaves) of `cluster`, sorted; an unknown or empty
    /// cluster is an error listing the clusters that exist.
    pub async fn brokers_of_cluster(&self, cluster: &str) -> Result<Vec<String>, AdminError> {
        let info = self.cluster_info().await?;
        let mut out: Vec<String> = info
            .cluster_addr_table
            .get(cluster)
            .into_iter()
            .flatten()
            .filter_map(|name| info.broker_addr_table.get(name))
            .flat_map(|b| b.broker_addrs.values().cloned())
            .collect();
        out.sort();
        if out.is_empty() {
            let known: Vec<&str> = info.cluster_addr_table.keys().map(String::as_str).collect();
            return Err(AdminError::Invalid(format!(
                "cluster {cluster} has no broker; clusters known to the name server: [{}] (see `mqadmin clusterList`)",
                known.join(", ")
            )));
        }
        Ok(out)
    }

    /// Closes every connection.
    pub fn shutdown(&self) {
        self.client.shutdown();
    }
}

/// Masters of `cluster` in `info`, sorted by broker name.
pub fn masters_in(info: &ClusterInfo, cluster: &str) -> Vec<BrokerAddr> {
    let mut out: Vec<BrokerAddr> = info
        .cluster_addr_table
        .get(cluster)
        .into_iter()
        .flatten()
        .filter_map(|name| {
            let addr = info.broker_addr_table.get(name)?.master_addr()?;
            Some(BrokerAddr {
                name: name.clone(),
                addr: addr.to_string(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namesrv_list_splits_on_semicolons() {
        assert_eq!(parse_namesrv_list(" a:1 ; b:2;;"), vec!["a:1", "b:2"]);
        assert!(parse_namesrv_list(" ; ").is_empty());
        assert!(Admin::new("").is_err());
    }

    #[test]
    fn masters_are_listed_per_cluster() {
        let info = ClusterInfo::decode(
            br#"{"brokerAddrTable":{
                "b":{"brokerAddrs":{0:"1.1.1.1:1",1:"1.1.1.2:1"},"brokerName":"b","cluster":"C"},
                "a":{"brokerAddrs":{0:"2.2.2.2:1"},"brokerName":"a","cluster":"C"},
                "s":{"brokerAddrs":{1:"3.3.3.3:1"},"brokerName":"s","cluster":"C"}},
               "clusterAddrTable":{"C":["b","a","s"]}}"#,
        )
        .unwrap();
        let m = masters_in(&info, "C");
        assert_eq!(
            m,
            vec![
                BrokerAddr {
                    name: "a".into(),
                    addr: "2.2.2.2:1".into()
                },
                BrokerAddr {
                    name: "b".into(),
                    addr: "1.1.1.1:1".into()
                },
            ]
        );
        assert!(masters_in(&info, "X").is_empty());
    }
}
