//! The local backend of [`NodeControl`]: a fresh cluster under the drill's directory, run by
//! `rmq-cluster start` as a child process (its output in `<dir>/supervisor.log`) and driven
//! through the control socket, exactly as an operator in another terminal would.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

use crate::control::{self, Reply, Request};
use crate::drill::nodes::{NewGroup, NodeControl};
use crate::layout::Layout;

/// How long the fresh cluster gets to come up.
const START_TIMEOUT: Duration = Duration::from_secs(180);
/// How long one control request may take (a start waits for registration).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(180);

/// A cluster this drill started.
pub struct LocalCluster {
    dir: PathBuf,
    supervisor: Child,
    namesrv_addr: String,
    cluster_name: String,
    credentials: Option<rmq_remoting::acl::SessionCredentials>,
}

/// Ports (and ACL) of the fresh cluster.
#[derive(Debug, Clone)]
pub struct Ports {
    /// First nameserver port (two nameservers).
    pub base_port: u16,
    /// First broker port (10 per broker).
    pub broker_base_port: u16,
    /// `--acl [FILE]` for `rmq-cluster start` (`Some(None)`: the sample).
    pub acl: Option<Option<PathBuf>>,
}

impl LocalCluster {
    /// Starts 2 nameservers and 2 groups (master + slave each) with Apache's default broker
    /// settings under `dir`, which must not hold a cluster yet; returns once every node is up
    /// and registered.
    pub async fn start(dir: &Path, ports: Ports) -> anyhow::Result<LocalCluster> {
        if dir.join(crate::layout::LAYOUT_FILE).exists() {
            bail!(
                "{} already holds a cluster; a drill needs a fresh directory (remove it or pass another --dir)",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let log_path = dir.join("supervisor.log");
        let log =
            std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let exe = std::env::current_exe().context("locating rmq-cluster itself")?;
        let mut command = Command::new(exe);
        command
            .args(["start", "--dir"])
            .arg(&dir)
            .args(["--base-port", &ports.base_port.to_string()])
            .args(["--broker-base-port", &ports.broker_base_port.to_string()]);
        match &ports.acl {
            Some(Some(file)) => {
                command.arg(format!("--acl={}", file.display()));
            }
            Some(None) => {
                command.arg("--acl");
            }
            None => {}
        }
        let supervisor = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting `rmq-cluster start`")?;
        let mut cluster = LocalCluster {
            dir: dir.clone(),
            supervisor,
            namesrv_addr: String::new(),
            cluster_name: String::new(),
            credentials: None,
        };
        if let Err(e) = cluster.wait_up().await {
            cluster.stop_cluster().await;
            return Err(e.context(format!("see {}", log_path.display())));
        }
        let layout = Layout::load(&dir)?;
        cluster.namesrv_addr = layout.namesrv_list();
        cluster.cluster_name = layout.cluster_name;
        if layout.acl {
            cluster.credentials = Some(crate::acl::credentials(&dir)?);
        }
        Ok(cluster)
    }

    async fn wait_up(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.supervisor.try_wait()? {
                bail!("`rmq-cluster start` exited with {status}");
            }
            if let Ok(reply) = control::call(&self.dir, &Request::Status, Duration::from_secs(5)).await {
                let namesrvs = reply.nodes.iter().filter(|n| n.role == "nameserver").count();
                let ready = !reply.nodes.is_empty()
                    && reply
                        .nodes
                        .iter()
                        .all(|n| n.up() && (n.role == "nameserver" || n.registered_on.len() == namesrvs));
                if ready {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                bail!("the cluster was not up within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn request(&self, request: Request) -> anyhow::Result<Reply> {
        let reply = control::call(&self.dir, &request, REQUEST_TIMEOUT).await?;
        if !reply.ok {
            bail!("{request:?}: {}", reply.text);
        }
        Ok(reply)
    }

    /// The cluster's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops every node and the supervisor; SIGKILLs the supervisor only if it does not exit
    /// within a minute of the request (nodes it then leaves behind are killed by the next
    /// `rmq-cluster start` on the same directory, from their pid files).
    pub async fn stop_cluster(&mut self) {
        let _ = control::call(&self.dir, &Request::StopCluster, REQUEST_TIMEOUT).await;
        if tokio::time::timeout(Duration::from_secs(60), self.supervisor.wait())
            .await
            .is_err()
        {
            let _ = self.supervisor.kill().await;
        }
    }
}

impl NodeControl for LocalCluster {
    fn namesrv_addr(&self) -> String {
        self.namesrv_addr.clone()
    }

    fn cluster_name(&self) -> String {
        self.cluster_name.clone()
    }

    fn credentials(&self) -> Option<rmq_remoting::acl::SessionCredentials> {
        self.credentials.clone()
    }

    async fn broker_addr(&self, group: &str, id: u16) -> anyhow::Result<String> {
        let name = self.node_name(group, id);
        let reply = self.request(Request::Status).await?;
        reply
            .nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.addr.clone())
            .with_context(|| format!("the cluster has no node {name}"))
    }

    async fn kill(&self, node: &str) -> anyhow::Result<()> {
        self.request(Request::Kill { node: node.into() }).await.map(drop)
    }

    async fn stop(&self, node: &str) -> anyhow::Result<()> {
        self.request(Request::Stop { node: node.into() }).await.map(drop)
    }

    async fn start(&self, node: &str) -> anyhow::Result<()> {
        self.request(Request::Start { node: node.into() }).await.map(drop)
    }

    async fn add_group(&self, slaves: u16) -> anyhow::Result<NewGroup> {
        let reply = self.request(Request::AddGroup { slaves }).await?;
        let master = reply.added.first().context("add-group created no node")?;
        let node = reply
            .nodes
            .iter()
            .find(|n| &n.name == master)
            .with_context(|| format!("{master} missing from the status"))?;
        Ok(NewGroup {
            group: node.group.clone(),
            master_addr: node.addr.clone(),
        })
    }
}
