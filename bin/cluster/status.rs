//! Node status: what `rmq-cluster status` prints for each node (role, pid, ports, up or down, the
//! nameservers it is registered on) and the nameserver lookup behind "registered".

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::time::Duration;

use rmq_remoting::body::{ClusterInfo, JsonBody};
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{RemotingCommand, RequestCode};
use serde::{Deserialize, Serialize};

/// One node as the supervisor sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeStatus {
    /// `broker-a-0`.
    pub name: String,
    /// `nameserver`, `master` or `slave`.
    pub role: String,
    /// The broker group, empty for a nameserver.
    pub group: String,
    /// `127.0.0.1:<listenPort>`.
    pub addr: String,
    /// Every port it uses, for display.
    pub ports: String,
    /// Process id while it runs.
    pub pid: Option<u32>,
    /// How it last exited, when it is down.
    pub last_exit: Option<String>,
    /// Nameservers (addresses) that list this broker; empty for a nameserver.
    pub registered_on: Vec<String>,
    /// Its log file.
    pub log: String,
    /// URL of its Prometheus page, empty when it serves none.
    #[serde(default)]
    pub metrics: String,
}

impl NodeStatus {
    /// Whether its process runs.
    pub fn up(&self) -> bool {
        self.pid.is_some()
    }
}

/// Broker addresses each nameserver lists (a nameserver that does not answer lists none).
pub async fn registrations(
    client: &RemotingClient,
    namesrvs: &[String],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for ns in namesrvs {
        let cmd = RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO);
        let addrs = match client.invoke(ns, cmd, Duration::from_secs(2)).await {
            Ok(resp) if resp.is_success() => ClusterInfo::decode(&resp.body)
                .map(|info| {
                    info.broker_addr_table
                        .values()
                        .flat_map(|b| b.broker_addrs.values().cloned())
                        .collect()
                })
                .unwrap_or_default(),
            _ => BTreeSet::new(),
        };
        out.insert(ns.clone(), addrs);
    }
    out
}

/// The `status` table, one line per node.
pub fn render(nodes: &[NodeStatus], namesrv_count: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:<10} {:<6} {:>8}  {:<26} {:<31} registered on",
        "node", "role", "state", "pid", "ports", "metrics"
    );
    for n in nodes {
        let pid = n.pid.map_or_else(|| "-".to_string(), |p| p.to_string());
        let state = if n.up() { "up" } else { "down" };
        let registered = if n.role == "nameserver" {
            String::new()
        } else if n.registered_on.is_empty() {
            "none".to_string()
        } else {
            format!(
                "{}/{namesrv_count}: {}",
                n.registered_on.len(),
                n.registered_on.join(", ")
            )
        };
        let _ = writeln!(
            out,
            "{:<16} {:<10} {:<6} {:>8}  {:<26} {:<31} {}",
            n.name, n.role, state, pid, n.ports, n.metrics, registered
        );
        if let (false, Some(exit)) = (n.up(), &n.last_exit) {
            let _ = writeln!(out, "{:<16} last exit: {exit}; log {}", "", n.log);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_state_pid_and_registrations() {
        let up = NodeStatus {
            name: "broker-a-0".into(),
            role: "master".into(),
            group: "broker-a".into(),
            addr: "127.0.0.1:10911".into(),
            ports: "10911 (HA 10912, VIP 10909)".into(),
            pid: Some(42),
            last_exit: None,
            registered_on: vec!["127.0.0.1:9876".into()],
            log: "/x/broker-a-0.log".into(),
            metrics: "http://127.0.0.1:10914/metrics".into(),
        };
        let down = NodeStatus {
            name: "broker-a-1".into(),
            role: "slave".into(),
            pid: None,
            last_exit: Some("signal: 9 (SIGKILL)".into()),
            registered_on: Vec::new(),
            log: "/x/broker-a-1.log".into(),
            ..up.clone()
        };
        let text = render(&[up, down], 2);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].contains("broker-a-0") && lines[1].contains(" up "),
            "{text}"
        );
        assert!(
            lines[1].contains("42")
                && lines[1].contains("1/2: 127.0.0.1:9876")
                && lines[1].contains("http://127.0.0.1:10914/metrics"),
            "{text}"
        );
        assert!(lines[2].contains("down") && lines[2].ends_with("none"), "{text}");
        assert!(lines[3].contains("signal: 9 (SIGKILL)") && lines[3].contains("/x/broker-a-1.log"));
    }
}
