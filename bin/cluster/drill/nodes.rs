//! The seam between a drill and the cluster it runs on: [`NodeControl`] names what a drill does to
//! nodes (kill, stop, start, add a group, find an address), so the same drill steps run against
//! any backend.
//!
//! The local backend is [`crate::drill::local::LocalCluster`] (a supervisor started by
//! `rmq-cluster start`, reached through its control socket). A docker-compose backend maps the
//! same calls onto containers: `kill` = `docker kill <container>`, `stop` = `docker stop`,
//! `start` = `docker compose start <service>`, `add_group` = `docker compose --profile <third
//! group> up -d`, addresses from the compose file's static IPs. Node names are the supervisor's
//! (`broker-a-0`); a backend maps them to its own names.

use std::future::Future;

use rmq_client::ClientConfig;
use rmq_remoting::acl::SessionCredentials;

/// A group added by [`NodeControl::add_group`].
#[derive(Debug, Clone)]
pub struct NewGroup {
    /// `brokerName`, e.g. `broker-c`.
    pub group: String,
    /// The master's address, for `mqadmin updateTopic -b`.
    pub master_addr: String,
}

/// What a drill needs from the cluster under test. Every call returns when the change is done:
/// `kill`/`stop` once the process is gone, `start`/`add_group` once the nodes are registered with
/// every nameserver.
pub trait NodeControl {
    /// The `NAMESRV_ADDR` of the cluster (`a:9876;b:9877`).
    fn namesrv_addr(&self) -> String;

    /// `brokerClusterName`.
    fn cluster_name(&self) -> String;

    /// The account to sign with when the brokers run with ACL.
    fn credentials(&self) -> Option<SessionCredentials> {
        None
    }

    /// Client settings for the drill's producers and consumers: the nameservers, signed when
    /// the brokers check ACL.
    fn client_config(&self) -> ClientConfig {
        ClientConfig {
            credentials: self.credentials(),
            ..ClientConfig::new(self.namesrv_addr())
        }
    }

    /// The node name of `group`'s broker `id` (0 = master).
    fn node_name(&self, group: &str, id: u16) -> String {
        format!("{group}-{id}")
    }

    /// The `ip:port` of `group`'s broker `id`.
    fn broker_addr(&self, group: &str, id: u16) -> impl Future<Output = anyhow::Result<String>>;

    /// SIGKILL (a crash).
    fn kill(&self, node: &str) -> impl Future<Output = anyhow::Result<()>>;

    /// A clean shutdown (SIGTERM).
    fn stop(&self, node: &str) -> impl Future<Output = anyhow::Result<()>>;

    /// Starts a stopped node.
    fn start(&self, node: &str) -> impl Future<Output = anyhow::Result<()>>;

    /// Adds a group: a master and `slaves` slaves.
    fn add_group(&self, slaves: u16) -> impl Future<Output = anyhow::Result<NewGroup>>;
}
