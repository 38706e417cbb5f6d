//! The chaos cluster's processes: nameservers and master/slave broker groups started from the
//! sibling `mqnamesrv` and `mqbroker` binaries on free loopback ports, each with its own directory
//! and log under the run's directory, killed with SIGKILL and restarted on the same data.
//!
//! Masters are SYNC_MASTER and every broker SYNC_FLUSH; every other key keeps Apache's default.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Namesrv,
    Master,
    Slave,
}

/// One process of the cluster.
#[derive(Debug)]
pub struct Node {
    /// `namesrv-0`, `broker-a-0` (master), `broker-a-1` (slave).
    pub name: String,
    pub role: Role,
    /// Its remoting address.
    pub addr: String,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// Starts the process (its output is appended to its log).
    pub fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let err = log.try_clone()?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.program.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL, then reap.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// An exit status, if the process ended without being killed.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn log(&self) -> &Path {
        &self.log
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A port `p` with `p + 1` (HA) and `p - 2` (VIP) free as well.
fn free_broker_port() -> anyhow::Result<u16> {
    for _ in 0..200 {
        let p = free_port()?;
        if p > 1026 && p < u16::MAX && port_is_free(p + 1) && port_is_free(p - 2) {
            return Ok(p);
        }
    }
    bail!("no free port p with p+1 and p-2 free after 200 tries")
}

fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating rmq-chaos itself")?;
    let path = exe.with_file_name(name);
    if !path.is_file() {
        bail!(
            "{} not found next to rmq-chaos; run `cargo build --bins`",
            path.display()
        );
    }
    Ok(path)
}

/// Plans `namesrvs` nameservers and `groups` master/slave groups under `dir`; nothing runs yet.
pub fn plan(dir: &Path, namesrvs: usize, groups: usize) -> anyhow::Result<(Vec<Node>, String)> {
    let namesrv_bin = sibling("mqnamesrv")?;
    let broker_bin = sibling("mqbroker")?;
    let mut nodes = Vec::new();
    for i in 0..namesrvs {
        let port = free_port()?;
        let home = dir.join(format!("namesrv-{i}"));
        std::fs::create_dir_all(&home)?;
        nodes.push(Node {
            name: format!("namesrv-{i}"),
            role: Role::Namesrv,
            addr: format!("127.0.0.1:{port}"),
            program: namesrv_bin.clone(),
            args: vec![
                "--listen-port".into(),
                port.to_string(),
                "--home".into(),
                home.display().to_string(),
            ],
            log: dir.join(format!("namesrv-{i}.log")),
            child: None,
        });
    }
    let ns_list = nodes.iter().map(|n| n.addr.clone()).collect::<Vec<_>>().join(";");
    for g in 0..groups {
        let group = format!("broker-{}", char::from(b'a' + (g % 26) as u8));
        for id in 0..2 {
            let port = free_broker_port()?;
            let name = format!("{group}-{id}");
            let bdir = dir.join(&name);
            std::fs::create_dir_all(&bdir)?;
            let role = if id == 0 { "SYNC_MASTER" } else { "SLAVE" };
            let conf = format!(
                "brokerClusterName=DefaultCluster\nbrokerName={group}\nbrokerId={id}\nnamesrvAddr={ns_list}\n\
                 listenPort={port}\nbrokerIP1=127.0.0.1\nbrokerRole={role}\nflushDiskType=SYNC_FLUSH\n\
                 storePathRootDir={}\n",
                bdir.join("store").display()
            );
            let conf_path = bdir.join("broker.conf");
            std::fs::write(&conf_path, conf)?;
            nodes.push(Node {
                name: name.clone(),
                role: if id == 0 { Role::Master } else { Role::Slave },
                addr: format!("127.0.0.1:{port}"),
                program: broker_bin.clone(),
                args: vec!["-c".into(), conf_path.display().to_string()],
                log: dir.join(format!("{name}.log")),
                child: None,
            });
        }
    }
    Ok((nodes, ns_list))
}

/// Whether something accepts connections at `addr`.
pub async fn can_connect(addr: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_millis(500), tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}
