//! `rmq-cluster start`: the supervisor of a long-lived local cluster.
//!
//! It plans (or extends) the layout, starts every node and waits until it is ready, then stays in
//! the foreground. A node that dies is reported (name, exit status, log) and the others keep
//! running. Requests from the control socket (`status`, `kill`, `stop`, `start`, `restart`,
//! `add-group`, `stop` of the cluster) are carried out one at a time by the same loop that watches
//! the children. The cluster stops on Ctrl-C, SIGTERM or `rmq-cluster stop`: brokers first (they
//! unregister while the nameservers still run), then nameservers; nothing is left running.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use rmq_remoting::net::{ClientConfig, RemotingClient};
use tokio::process::Child;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use crate::control::{self, Job, Reply, Request};
use crate::layout::{Kind, Layout, Node, Plan};
use crate::process;
use crate::status::{self, NodeStatus};

/// How often the children are checked for an exit.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// One node and its process.
struct Slot {
    node: Node,
    child: Option<Child>,
    last_exit: Option<String>,
}

/// The running cluster.
struct Supervisor {
    dir: PathBuf,
    layout: Layout,
    slots: Vec<Slot>,
    client: RemotingClient,
    ready_timeout: Duration,
}

/// Runs `rmq-cluster start` until Ctrl-C, SIGTERM or `rmq-cluster stop`.
pub async fn run(plan: Plan, dir: &Path, ready_timeout: Duration) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let listener = control::bind(&dir).await?;
    let layout = plan_layout(&plan, &dir)?;
    let leftovers = process::kill_leftovers(&layout, &dir).await;
    if !leftovers.is_empty() {
        println!(
            "killed nodes left running by an earlier supervisor that did not stop them: {}",
            leftovers.join(", ")
        );
    }
    for node in &layout.nodes {
        if let Some(addr) = process::port_in_use(node).await {
            bail!(
                "{addr} (for {}) is already in use (another cluster running?); stop it or pick other \
                 --base-port/--broker-base-port",
                node.name
            );
        }
    }
    layout.save(&dir)?;
    std::fs::create_dir_all(dir.join("run"))?;
    std::fs::write(
        process::pid_path(&dir, "supervisor"),
        std::process::id().to_string(),
    )?;
    // With ACL the supervisor signs as the tool account (the nameservers do not check, brokers
    // would), so whatever it asks stays valid if it ever talks to a broker.
    let credentials = if layout.acl {
        Some(crate::acl::credentials(&dir)?)
    } else {
        None
    };
    let (jobs_tx, mut jobs) = mpsc::channel::<Job>(16);
    let replies = TaskTracker::new();
    let server = tokio::spawn(control::serve(listener, jobs_tx, replies.clone()));
    let mut sup = Supervisor {
        slots: layout
            .nodes
            .iter()
            .map(|n| Slot {
                node: n.clone(),
                child: None,
                last_exit: None,
            })
            .collect(),
        dir,
        layout,
        client: RemotingClient::new(ClientConfig {
            credentials,
            ..ClientConfig::default()
        }),
        ready_timeout,
    };
    // Installed before the first child starts: from here on Ctrl-C and SIGTERM reach this loop
    // (the children are in their own process groups and never see the terminal's Ctrl-C).
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let names: Vec<String> = sup.slots.iter().map(|s| s.node.name.clone()).collect();
    let total = names.len();
    let startup = async {
        for (i, name) in names.iter().enumerate() {
            print!("[{}/{total}] ", i + 1);
            sup.start_node(name).await?;
        }
        anyhow::Ok(())
    };
    let result = tokio::select! {
        r = startup => r,
        _ = int.recv() => Err(anyhow::anyhow!("interrupted by Ctrl-C")),
        _ = term.recv() => Err(anyhow::anyhow!("interrupted by SIGTERM")),
    };
    if let Err(e) = result {
        eprintln!("startup failed: {e:#}; stopping what was started");
        sup.stop_all().await;
        server.abort();
        sup.cleanup();
        return Err(e);
    }
    sup.print_summary();

    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    loop {
        tokio::select! {
            _ = int.recv() => {
                println!("\nCtrl-C: stopping the cluster");
                break;
            }
            _ = term.recv() => {
                println!("\nSIGTERM: stopping the cluster");
                break;
            }
            _ = tick.tick() => sup.watch(),
            Some((request, back)) = jobs.recv() => {
                if request == Request::StopCluster {
                    println!("`rmq-cluster stop`: stopping the cluster");
                    sup.stop_all().await;
                    let _ = back.send(Reply { ok: true, text: "cluster stopped".into(), ..Default::default() });
                    server.abort();
                    replies.close();
                    let _ = tokio::time::timeout(Duration::from_secs(5), replies.wait()).await;
                    sup.cleanup();
                    return Ok(());
                }
                let reply = sup.handle(request).await;
                let _ = back.send(reply);
            }
        }
    }
    sup.stop_all().await;
    server.abort();
    sup.cleanup();
    Ok(())
}

/// The layout from the flags, plus any group a previous run added with `add-group` under the same
/// directory (kept when its ports do not collide with the new plan).
fn plan_layout(plan: &Plan, dir: &Path) -> anyhow::Result<Layout> {
    let mut layout = Layout::plan(plan, dir)?;
    if let Ok(saved) = Layout::load(dir) {
        let planned_groups = layout.groups();
        for group in saved.groups().into_iter().filter(|g| !planned_groups.contains(g)) {
            let slaves = saved
                .nodes
                .iter()
                .filter(|n| matches!(&n.kind, Kind::Broker { group: g, id } if *g == group && *id > 0))
                .count();
            let slaves = u16::try_from(slaves).unwrap_or(0);
            if group != crate::layout::group_name(layout.groups().len() as u16) {
                break;
            }
            layout.add_group(slaves, dir)?;
            println!("keeping {group} (added earlier with add-group), {slaves} slave(s)");
        }
    }
    Ok(layout)
}

impl Supervisor {
    fn slot(&mut self, name: &str) -> anyhow::Result<&mut Slot> {
        self.layout.node(name)?;
        self.slots
            .iter_mut()
            .find(|s| s.node.name == name)
            .context("node missing from the supervisor")
    }

    fn hint(&self) -> String {
        format!("--dir {}", self.dir.display())
    }

    /// Starts a node that is down and waits until it is ready.
    async fn start_node(&mut self, name: &str) -> anyhow::Result<String> {
        let dir = self.dir.clone();
        let (layout, client, timeout) = (self.layout.clone(), self.client.clone(), self.ready_timeout);
        let slot = self.slot(name)?;
        if slot.child.is_some() {
            bail!("{name} is already running; `rmq-cluster restart {name}` restarts it");
        }
        let node = slot.node.clone();
        if let Some(addr) = process::port_in_use(&node).await {
            bail!("{addr} is in use by another process; free it before starting {name}");
        }
        let log = process::log_path(&dir, name);
        println!("starting {name} ({}) {} ...", node.role(), node.addr());
        let t = std::time::Instant::now();
        let mut child = process::spawn(&node, &dir)?;
        let ready = process::wait_ready(&node, &mut child, &layout, &client, timeout).await;
        let slot = self.slot(name)?;
        slot.child = Some(child);
        if let Err(e) = ready {
            return Err(e.context(format!("see {}", log.display())));
        }
        slot.last_exit = None;
        let msg = format!("{name} is up ({:.1} s)", t.elapsed().as_secs_f64());
        println!("      {msg}");
        Ok(msg)
    }

    /// Stops a node with SIGTERM (`kill = false`) or SIGKILL and waits for it to exit.
    async fn stop_node(&mut self, name: &str, kill: bool) -> anyhow::Result<String> {
        let log = process::log_path(&self.dir, name);
        let pid_file = process::pid_path(&self.dir, name);
        let slot = self.slot(name)?;
        let Some(mut child) = slot.child.take() else {
            bail!("{name} is not running; `rmq-cluster start {name}` starts it");
        };
        let status = if kill {
            child.kill().await?;
            child.wait().await?
        } else {
            process::terminate(&mut child).await?
        };
        let how = process::describe(status);
        slot.last_exit = Some(how.clone());
        let _ = std::fs::remove_file(pid_file);
        let verb = if kill {
            "killed (SIGKILL)"
        } else {
            "stopped (SIGTERM)"
        };
        let msg = format!("{name} {verb} on request: {how}; log {}", log.display());
        println!("{msg}");
        Ok(msg)
    }

    async fn add_group(&mut self, slaves: u16) -> anyhow::Result<Reply> {
        let mut layout = self.layout.clone();
        let added = layout.add_group(slaves, &self.dir)?;
        for name in &added {
            if let Some(addr) = process::port_in_use(layout.node(name)?).await {
                bail!("{addr} (for {name}) is in use; free it and try again");
            }
        }
        layout.save(&self.dir)?;
        for name in &added {
            let node = layout.node(name)?.clone();
            self.slots.push(Slot {
                node,
                child: None,
                last_exit: None,
            });
        }
        self.layout = layout;
        let mut text = Vec::new();
        for name in &added {
            text.push(self.start_node(name).await?);
        }
        let master = self.layout.node(&added[0])?.addr();
        text.push(format!(
            "new group master at {master}; give it the topic with `mqadmin updateTopic -b {master} -t <topic>`"
        ));
        Ok(Reply {
            ok: true,
            text: text.join("\n"),
            added,
            ..Default::default()
        })
    }

    async fn handle(&mut self, request: Request) -> Reply {
        let result = match request {
            Request::Status => Ok(String::new()),
            Request::Kill { node } => self.stop_node(&node, true).await,
            Request::Stop { node } => self.stop_node(&node, false).await,
            Request::Start { node } => self.start_node(&node).await,
            Request::Restart { node } => match self.stop_node(&node, false).await {
                Ok(stopped) => self.start_node(&node).await.map(|up| format!("{stopped}\n{up}")),
                Err(e) => Err(e),
            },
            Request::AddGroup { slaves } => match self.add_group(slaves).await {
                Ok(mut reply) => {
                    reply.nodes = self.status().await;
                    return reply;
                }
                Err(e) => Err(e),
            },
            Request::StopCluster => Ok(String::new()),
        };
        let nodes = self.status().await;
        match result {
            Ok(text) => Reply {
                ok: true,
                text,
                nodes,
                ..Default::default()
            },
            Err(e) => Reply {
                ok: false,
                text: format!("{e:#} ({})", self.hint()),
                nodes,
                ..Default::default()
            },
        }
    }

    /// Reports every child that exited since the last look; the others keep running.
    fn watch(&mut self) {
        let dir = self.dir.clone();
        for slot in &mut self.slots {
            let Some(child) = slot.child.as_mut() else {
                continue;
            };
            let Ok(Some(status)) = child.try_wait() else {
                continue;
            };
            slot.child = None;
            let how = process::describe(status);
            let name = &slot.node.name;
            let _ = std::fs::remove_file(process::pid_path(&dir, name));
            println!(
                "!! {name} ({}) exited on its own: {how}; log {}. The other nodes keep running; \
                 `rmq-cluster start {name} --dir {}` starts it again.",
                slot.node.role(),
                process::log_path(&dir, name).display(),
                dir.display()
            );
            slot.last_exit = Some(how);
        }
    }

    async fn status(&mut self) -> Vec<NodeStatus> {
        self.watch();
        let namesrvs: Vec<String> = self.layout.namesrvs().map(Node::addr).collect();
        let listed = status::registrations(&self.client, &namesrvs).await;
        self.slots
            .iter()
            .map(|s| {
                let addr = s.node.addr();
                NodeStatus {
                    name: s.node.name.clone(),
                    role: s.node.role().to_string(),
                    group: match &s.node.kind {
                        Kind::Broker { group, .. } => group.clone(),
                        Kind::Namesrv => String::new(),
                    },
                    ports: s.node.ports(),
                    pid: s.child.as_ref().and_then(Child::id),
                    last_exit: s.last_exit.clone(),
                    registered_on: match s.node.kind {
                        Kind::Namesrv => Vec::new(),
                        Kind::Broker { .. } => listed
                            .iter()
                            .filter(|(_, brokers)| brokers.contains(&addr))
                            .map(|(ns, _)| ns.clone())
                            .collect(),
                    },
                    log: process::log_path(&self.dir, &s.node.name).display().to_string(),
                    metrics: s.node.metrics_url().unwrap_or_default(),
                    addr,
                }
            })
            .collect()
    }

    /// Stops every running node: brokers (newest first), then nameservers.
    async fn stop_all(&mut self) {
        let order: Vec<String> = self
            .slots
            .iter()
            .rev()
            .filter(|s| s.node.kind != Kind::Namesrv)
            .chain(self.slots.iter().filter(|s| s.node.kind == Kind::Namesrv))
            .filter(|s| s.child.is_some())
            .map(|s| s.node.name.clone())
            .collect();
        for name in order {
            if let Err(e) = self.stop_node(&name, false).await {
                eprintln!("stopping {name}: {e:#}");
            }
        }
    }

    fn cleanup(&self) {
        let _ = std::fs::remove_file(control::socket_path(&self.dir));
        let _ = std::fs::remove_file(process::pid_path(&self.dir, "supervisor"));
        self.client.shutdown();
        println!("cluster stopped; data and logs stay in {}", self.dir.display());
    }

    fn print_summary(&self) {
        println!("\ncluster {} is up:", self.layout.cluster_name);
        for n in &self.layout.nodes {
            println!(
                "  {:<14} {:<10} {:<28} {}",
                n.name,
                n.role(),
                n.ports(),
                n.metrics_url().unwrap_or_default()
            );
        }
        println!("data and logs: {}", self.dir.display());
        println!("\nexport NAMESRV_ADDR='{}'", self.layout.namesrv_list());
        if self.layout.acl {
            if let Ok(c) = crate::acl::credentials(&self.dir) {
                println!(
                    "\nACL is on (aclEnable=true; rules in {}, copied to each broker's conf/). \
                     Admin account {}:",
                    crate::acl::cluster_file(&self.dir).display(),
                    c.access_key
                );
                println!(
                    "  mqadmin clusterList --ak {} --sk {}\n  \
                     or: export ROCKETMQ_HOME='{}'   (mqadmin reads conf/tools.yml there)\n  \
                     or: export RMQ_ACCESS_KEY='{}' RMQ_SECRET_KEY='{}'",
                    c.access_key,
                    c.secret_key,
                    self.dir.display(),
                    c.access_key,
                    c.secret_key
                );
                println!(
                    "  clients sign with the same keys (rmq_client::ClientConfig::credentials); \
                     unsigned requests to a broker are refused"
                );
            }
        }
        println!(
            "\nCtrl-C or `rmq-cluster stop {}` stops the cluster; `rmq-cluster status {}` shows it.",
            self.hint(),
            self.hint()
        );
    }
}
