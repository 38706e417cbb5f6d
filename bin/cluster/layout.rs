//! The cluster's layout: which nodes exist, their names, ports, command lines and files.
//!
//! A layout is planned once by `rmq-cluster start` and written to `<dir>/cluster.json`, so the
//! other subcommands (run from another terminal) and `add-group` know every node. Names are the
//! ones printed everywhere: `namesrv-<port>` and `<group>-<brokerId>` (`broker-a-0` is group a's
//! master). Ports: nameservers take `--base-port` upwards; broker slot `s` (groups in order, master
//! then slaves) listens on `--broker-base-port + 10 s`, its HA port is one above and its VIP port
//! two below, so neighbouring slots never overlap.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// File name of the layout inside the cluster directory.
pub const LAYOUT_FILE: &str = "cluster.json";

/// What `rmq-cluster start` was asked to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Nameserver count.
    pub namesrv_count: u16,
    /// Broker groups.
    pub groups: u16,
    /// Slaves per group.
    pub slaves: u16,
    /// First nameserver port.
    pub base_port: u16,
    /// First broker port.
    pub broker_base_port: u16,
    /// `flushDiskType` of every broker.
    pub flush: String,
    /// `brokerRole` of the masters.
    pub role: String,
    /// `brokerClusterName`.
    pub cluster_name: String,
    /// `--acl [FILE]`: `Some(None)` for the shipped sample.
    pub acl: Option<Option<PathBuf>>,
}

/// The kind of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// A nameserver.
    Namesrv,
    /// A broker: its group (`broker-a`) and `brokerId` (0 = master).
    Broker {
        /// `brokerName`.
        group: String,
        /// `brokerId`.
        id: u16,
    },
}

/// One node of the cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Node {
    /// `namesrv-9876`, `broker-a-0`.
    pub name: String,
    /// Nameserver or broker.
    pub kind: Kind,
    /// `listenPort`.
    pub port: u16,
    /// Port of its Prometheus `/metrics` page (`None` in layouts written before metrics).
    #[serde(default)]
    pub metrics_port: Option<u16>,
    /// The program to run.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

impl Node {
    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>/metrics`, when it serves metrics.
    pub fn metrics_url(&self) -> Option<String> {
        self.metrics_port.map(|p| format!("http://127.0.0.1:{p}/metrics"))
    }

    /// `nameserver`, `master` or `slave`.
    pub fn role(&self) -> &'static str {
        match self.kind {
            Kind::Namesrv => "nameserver",
            Kind::Broker { id: 0, .. } => "master",
            Kind::Broker { .. } => "slave",
        }
    }

    /// Every port it listens on, for display: `9876`, or `10911 (HA 10912, VIP 10909)`.
    pub fn ports(&self) -> String {
        match self.kind {
            Kind::Namesrv => self.port.to_string(),
            Kind::Broker { .. } => format!(
                "{} (HA {}, VIP {})",
                self.port,
                self.port.saturating_add(1),
                self.port.saturating_sub(2)
            ),
        }
    }
}

/// The whole cluster, as written to `cluster.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Layout {
    /// `brokerClusterName`.
    pub cluster_name: String,
    /// `flushDiskType` of every broker.
    pub flush: String,
    /// `brokerRole` of the masters.
    pub role: String,
    /// First broker port.
    pub broker_base_port: u16,
    /// Brokers run with `aclEnable=true`; the tool account is in `<dir>/conf/tools.yml`.
    #[serde(default)]
    pub acl: bool,
    /// Nameservers first, then brokers in start order.
    pub nodes: Vec<Node>,
}

/// `broker-a` for group 0, `broker-z` for 25, `broker-aa` for 26.
pub fn group_name(g: u16) -> String {
    let mut n = u32::from(g);
    let mut s = String::new();
    loop {
        s.insert(0, char::from_u32('a' as u32 + n % 26).unwrap_or('x'));
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    format!("broker-{s}")
}

/// The `mqnamesrv`/`mqbroker` next to the running binary.
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating rmq-cluster itself")?;
    let path = exe
        .parent()
        .map(|d| d.join(name))
        .context("rmq-cluster has no parent directory")?;
    if !path.is_file() {
        bail!(
            "{} not found next to rmq-cluster; build all binaries with `cargo build --release --bins`",
            path.display()
        );
    }
    Ok(path)
}

impl Layout {
    /// Plans a new cluster under `dir` (which must be absolute): creates each node's directory and
    /// writes each broker's `broker.conf`.
    pub fn plan(p: &Plan, dir: &Path) -> anyhow::Result<Layout> {
        if p.namesrv_count == 0 || p.groups == 0 {
            bail!("--namesrv-count and --groups must be at least 1");
        }
        if !["ASYNC_FLUSH", "SYNC_FLUSH"].contains(&p.flush.as_str()) {
            bail!("--flush must be ASYNC_FLUSH or SYNC_FLUSH, not {}", p.flush);
        }
        if !["ASYNC_MASTER", "SYNC_MASTER"].contains(&p.role.as_str()) {
            bail!("--role must be ASYNC_MASTER or SYNC_MASTER, not {}", p.role);
        }
        if p.broker_base_port < 3 {
            bail!("--broker-base-port must be at least 3 (the VIP port is listenPort - 2)");
        }
        let namesrv_bin = sibling("mqnamesrv")?;
        let mut layout = Layout {
            cluster_name: p.cluster_name.clone(),
            flush: p.flush.clone(),
            role: p.role.clone(),
            broker_base_port: p.broker_base_port,
            acl: p.acl.is_some(),
            nodes: Vec::new(),
        };
        if let Some(file) = &p.acl {
            crate::acl::install(file.as_deref(), dir)?;
        }
        for i in 0..p.namesrv_count {
            let port = p.base_port.checked_add(i).context("nameserver ports overflow")?;
            let home = dir.join(format!("namesrv-{port}"));
            std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
            let metrics_port = namesrv_metrics_port(port)?;
            let conf = home.join("namesrv.conf");
            std::fs::write(
                &conf,
                format!(
                    "metricsExporterType=PROM\nmetricsPromExporterHost=127.0.0.1\nmetricsPromExporterPort={metrics_port}\n"
                ),
            )
            .with_context(|| format!("writing {}", conf.display()))?;
            layout.nodes.push(Node {
                name: format!("namesrv-{port}"),
                kind: Kind::Namesrv,
                port,
                metrics_port: Some(metrics_port),
                program: namesrv_bin.clone(),
                args: vec![
                    "-c".into(),
                    conf.display().to_string(),
                    "--listen-port".into(),
                    port.to_string(),
                    "--home".into(),
                    home.display().to_string(),
                ],
            });
        }
        for _ in 0..p.groups {
            layout.add_group(p.slaves, dir)?;
        }
        Ok(layout)
    }

    /// Plans one more group (the next letter) with a master and `slaves` slaves on the next free
    /// broker slots, writing their configs; returns the new nodes' names, master first.
    pub fn add_group(&mut self, slaves: u16, dir: &Path) -> anyhow::Result<Vec<String>> {
        let broker_bin = sibling("mqbroker")?;
        let groups = self.groups();
        let g = u16::try_from(groups.len()).context("too many groups")?;
        let name = group_name(g);
        let ns_list = self.namesrv_list();
        let first_slot = self.nodes.iter().filter(|n| n.kind != Kind::Namesrv).count() as u32;
        let mut added = Vec::new();
        for id in 0..=slaves {
            let slot = first_slot + u32::from(id);
            let port = u32::from(self.broker_base_port) + slot * 10;
            let port = u16::try_from(port)
                .ok()
                .filter(|p| p.checked_add(1).is_some())
                .context("broker ports overflow; use a lower --broker-base-port")?;
            let node_name = format!("{name}-{id}");
            let bdir = dir.join(&node_name);
            std::fs::create_dir_all(&bdir).with_context(|| format!("creating {}", bdir.display()))?;
            let role = if id == 0 { self.role.as_str() } else { "SLAVE" };
            let metrics_port = broker_metrics_port(port);
            let mut conf = format!(
                "brokerClusterName={}\nbrokerName={name}\nbrokerId={id}\nnamesrvAddr={ns_list}\n\
                 listenPort={port}\nbrokerIP1=127.0.0.1\nbrokerRole={role}\nflushDiskType={}\n\
                 storePathRootDir={}\nmetricsExporterType=PROM\nmetricsPromExporterPort={metrics_port}\n",
                self.cluster_name,
                self.flush,
                bdir.join("store").display()
            );
            if self.acl {
                // The broker reads <rocketmqHome>/conf/plain_acl.yml.
                crate::acl::install_for_broker(dir, &bdir)?;
                conf.push_str(&format!("aclEnable=true\nrocketmqHome={}\n", bdir.display()));
            }
            let conf_path = bdir.join("broker.conf");
            std::fs::write(&conf_path, conf).with_context(|| format!("writing {}", conf_path.display()))?;
            self.nodes.push(Node {
                name: node_name.clone(),
                kind: Kind::Broker {
                    group: name.clone(),
                    id,
                },
                port,
                metrics_port: Some(metrics_port),
                program: broker_bin.clone(),
                args: vec!["-c".into(), conf_path.display().to_string()],
            });
            added.push(node_name);
        }
        Ok(added)
    }

    /// Group names in order of creation.
    pub fn groups(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in &self.nodes {
            if let Kind::Broker { group, .. } = &n.kind {
                if !out.contains(group) {
                    out.push(group.clone());
                }
            }
        }
        out
    }

    /// Nameserver addresses, `;`-joined (the `NAMESRV_ADDR` to export).
    pub fn namesrv_list(&self) -> String {
        self.namesrvs().map(Node::addr).collect::<Vec<_>>().join(";")
    }

    /// The nameserver nodes.
    pub fn namesrvs(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.kind == Kind::Namesrv)
    }

    /// The node called `name`, or an error listing the names that exist.
    pub fn node(&self, name: &str) -> anyhow::Result<&Node> {
        self.nodes.iter().find(|n| n.name == name).with_context(|| {
            let names: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
            format!("no node called {name}; the nodes are: {}", names.join(", "))
        })
    }

    /// Reads `<dir>/cluster.json`.
    pub fn load(dir: &Path) -> anyhow::Result<Layout> {
        let path = dir.join(LAYOUT_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a cluster layout", path.display()))
    }

    /// Writes `<dir>/cluster.json` (temp file and rename, so a reader never sees half of it).
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(LAYOUT_FILE);
        let tmp = dir.join(format!("{LAYOUT_FILE}.tmp"));
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// A broker's metrics port: `listenPort + 3`, inside the 10 ports of its slot (the slot uses
/// `listenPort - 2`, `listenPort` and `listenPort + 1`), so clusters on other base ports never
/// collide.
pub fn broker_metrics_port(listen_port: u16) -> u16 {
    listen_port.saturating_add(3)
}

/// A nameserver's metrics port: `listenPort + 1000` (9876 → 10876, below the default broker
/// ports).
pub fn namesrv_metrics_port(listen_port: u16) -> anyhow::Result<u16> {
    listen_port
        .checked_add(1000)
        .context("nameserver metrics port (listen port + 1000) overflows; use a lower --base-port")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, kind: Kind, port: u16) -> Node {
        Node {
            name: name.into(),
            kind,
            port,
            metrics_port: None,
            program: PathBuf::from("/bin/true"),
            args: Vec::new(),
        }
    }

    #[test]
    fn group_names_follow_the_alphabet() {
        assert_eq!(group_name(0), "broker-a");
        assert_eq!(group_name(1), "broker-b");
        assert_eq!(group_name(25), "broker-z");
        assert_eq!(group_name(26), "broker-aa");
    }

    #[test]
    fn roles_ports_and_lookups() {
        let layout = Layout {
            cluster_name: "C".into(),
            flush: "ASYNC_FLUSH".into(),
            role: "ASYNC_MASTER".into(),
            broker_base_port: 10911,
            acl: false,
            nodes: vec![
                node("namesrv-9876", Kind::Namesrv, 9876),
                node("namesrv-9877", Kind::Namesrv, 9877),
                node(
                    "broker-a-0",
                    Kind::Broker {
                        group: "broker-a".into(),
                        id: 0,
                    },
                    10911,
                ),
                node(
                    "broker-a-1",
                    Kind::Broker {
                        group: "broker-a".into(),
                        id: 1,
                    },
                    10921,
                ),
            ],
        };
        assert_eq!(layout.namesrv_list(), "127.0.0.1:9876;127.0.0.1:9877");
        assert_eq!(layout.groups(), vec!["broker-a".to_string()]);
        let a1 = layout.node("broker-a-1").unwrap();
        assert_eq!(a1.role(), "slave");
        assert_eq!(a1.ports(), "10921 (HA 10922, VIP 10919)");
        assert_eq!(layout.node("namesrv-9876").unwrap().role(), "nameserver");
        let err = layout.node("broker-z-0").unwrap_err().to_string();
        assert!(err.contains("broker-a-0, broker-a-1"), "{err}");
    }
}
