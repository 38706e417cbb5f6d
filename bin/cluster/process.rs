//! Child processes of the supervisor: starting a node with its log and pid file, signalling it,
//! waiting for it to be ready, and finding processes a killed supervisor left behind.
//!
//! Files under the cluster directory: `logs/<node>.log` (stdout and stderr, appended across
//! restarts, each start marked by a `==== start` line), `run/<node>.pid` while the node runs and
//! `run/supervisor.pid` while the supervisor runs. Every node runs in its own process group, so a
//! Ctrl-C in the terminal reaches only the supervisor, which then stops brokers before nameservers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rmq_remoting::net::RemotingClient;
use tokio::process::{Child, Command};

use crate::layout::{Kind, Layout, Node};
use crate::status::registrations;

/// How long a node gets to exit after SIGTERM before it is SIGKILLed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// `<dir>/logs/<node>.log`.
pub fn log_path(dir: &Path, node: &str) -> PathBuf {
    dir.join("logs").join(format!("{node}.log"))
}

/// `<dir>/run/<name>.pid`.
pub fn pid_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("run").join(format!("{name}.pid"))
}

/// Starts `node`, appending its output to its log and writing its pid file.
pub fn spawn(node: &Node, dir: &Path) -> anyhow::Result<Child> {
    let path = log_path(dir, &node.name);
    std::fs::create_dir_all(dir.join("logs"))?;
    std::fs::create_dir_all(dir.join("run"))?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(
        log,
        "==== start {} {} {}",
        node.name,
        node.program.display(),
        node.args.join(" ")
    )?;
    let err = log.try_clone()?;
    let mut cmd = Command::new(&node.program);
    cmd.args(&node.args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .kill_on_drop(true);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "info");
    }
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", node.program.display()))?;
    if let Some(pid) = child.id() {
        std::fs::write(pid_path(dir, &node.name), pid.to_string())?;
    }
    Ok(child)
}

/// "signal: 9 (SIGKILL)" or "exit status: 1".
pub fn describe(status: ExitStatus) -> String {
    status.to_string()
}

/// Sends `signal` (`TERM`, `KILL`) to `pid` with the system's `kill`.
pub async fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

/// SIGTERM, then SIGKILL if it has not exited within [`STOP_TIMEOUT`]; returns how it exited.
pub async fn terminate(child: &mut Child) -> anyhow::Result<ExitStatus> {
    if let Some(pid) = child.id() {
        signal(pid, "TERM").await;
    }
    match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
        Ok(status) => Ok(status?),
        Err(_) => {
            child.kill().await?;
            Ok(child.wait().await?)
        }
    }
}

async fn can_connect(addr: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_millis(500), tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

/// Whether something listens on any port `node` needs.
pub async fn port_in_use(node: &Node) -> Option<String> {
    let mut ports = vec![node.port];
    if matches!(node.kind, Kind::Broker { .. }) {
        ports.extend([node.port.saturating_add(1), node.port.saturating_sub(2)]);
    }
    for p in ports {
        let addr = format!("127.0.0.1:{p}");
        if can_connect(&addr).await {
            return Some(addr);
        }
    }
    None
}

/// Waits until `node` is ready: a nameserver accepts connections, a broker is listed by every
/// nameserver. Fails if the process exits or `timeout` passes.
pub async fn wait_ready(
    node: &Node,
    child: &mut Child,
    layout: &Layout,
    client: &RemotingClient,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let namesrvs: Vec<String> = layout.namesrvs().map(Node::addr).collect();
    let addr = node.addr();
    loop {
        let ready = match node.kind {
            Kind::Namesrv => can_connect(&addr).await,
            Kind::Broker { .. } => registrations(client, &namesrvs)
                .await
                .values()
                .all(|listed| listed.contains(&addr)),
        };
        if ready {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("{} exited during startup with {status}", node.name);
        }
        if Instant::now() >= deadline {
            bail!("{} ({addr}) was not ready within {timeout:?}", node.name);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether `pid` runs the program at `program` (so a recycled pid is never signalled).
fn runs(pid: u32, program: &Path) -> bool {
    std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| {
        let exe = exe.to_string_lossy();
        let exe = exe.trim_end_matches(" (deleted)");
        Path::new(exe) == program || program.canonicalize().is_ok_and(|p| p == Path::new(exe))
    })
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Kills nodes of `layout` that a supervisor which died without stopping them left running
/// (their pid files name a live process running the node's program); returns their names.
pub async fn kill_leftovers(layout: &Layout, dir: &Path) -> Vec<String> {
    let mut killed = Vec::new();
    for node in &layout.nodes {
        let path = pid_path(dir, &node.name);
        let Some(pid) = read_pid(&path) else {
            continue;
        };
        if runs(pid, &node.program) {
            signal(pid, "KILL").await;
            killed.push(format!("{} (pid {pid})", node.name));
        }
        let _ = std::fs::remove_file(&path);
    }
    killed
}
