//! `rmq-cluster start`: one command that runs a local cluster — nameservers plus master/slave
//! broker groups — as child processes of the sibling `mqnamesrv` and `mqbroker` binaries.
//!
//! It writes each broker's `broker.conf` under `--dir`, starts everything, waits until every
//! nameserver answers and every broker is registered at every nameserver, prints the addresses
//! and the `NAMESRV_ADDR` to export, then stays in the foreground. Ctrl-C or SIGTERM is forwarded
//! to the children as SIGTERM (a clean shutdown), with SIGKILL for any that do not exit in time.
//! If a child dies on its own, the rest are stopped and the exit code is non-zero.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use rmq_remoting::net::{ClientConfig, RemotingClient};
use rmq_remoting::{RemotingCommand, RequestCode};
use tokio::process::{Child, Command};

#[derive(Parser, Debug)]
#[command(
    name = "rmq-cluster",
    version,
    about = "Run a local RocketMQ 4.x cluster of minirmq processes"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Start nameservers and broker groups in the foreground; Ctrl-C stops them all.
    Start(StartArgs),
}

#[derive(clap::Args, Debug, Clone)]
struct StartArgs {
    /// Number of nameservers (ports --base-port, --base-port+1, …).
    #[arg(long, default_value_t = 2)]
    namesrv_count: u16,
    /// Number of broker groups (broker-a, broker-b, …), each one master plus --slaves slaves.
    #[arg(long, default_value_t = 2)]
    groups: u16,
    /// Slaves per group.
    #[arg(long, default_value_t = 1)]
    slaves: u16,
    /// First nameserver port.
    #[arg(long, default_value_t = 9876)]
    base_port: u16,
    /// First broker listen port; each broker takes 10 ports (listen, HA = listen+1, VIP = listen-2).
    #[arg(long, default_value_t = 10911)]
    broker_base_port: u16,
    /// Where configs, stores and logs go (kept across runs: a restart reuses the data).
    #[arg(long, default_value = "./.rmq-local")]
    dir: PathBuf,
    /// flushDiskType of every broker: ASYNC_FLUSH or SYNC_FLUSH.
    #[arg(long, default_value = "ASYNC_FLUSH")]
    flush: String,
    /// brokerRole of the masters: ASYNC_MASTER or SYNC_MASTER.
    #[arg(long, default_value = "ASYNC_MASTER")]
    role: String,
    /// brokerClusterName.
    #[arg(long, default_value = "DefaultCluster")]
    cluster_name: String,
    /// Seconds to wait for everything to become ready.
    #[arg(long, default_value_t = 60)]
    ready_timeout: u64,
}

/// One planned child process.
#[derive(Debug, Clone)]
struct Planned {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    addr: String,
    describe: String,
}

fn sibling(name: &str) -> anyhow::Result<PathBuf> {
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

fn group_name(g: u16) -> String {
    let mut n = g as u32;
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

fn plan(a: &StartArgs, dir: &Path) -> anyhow::Result<(Vec<Planned>, Vec<Planned>, String)> {
    if a.namesrv_count == 0 || a.groups == 0 {
        bail!("--namesrv-count and --groups must be at least 1");
    }
    if !["ASYNC_FLUSH", "SYNC_FLUSH"].contains(&a.flush.as_str()) {
        bail!("--flush must be ASYNC_FLUSH or SYNC_FLUSH, not {}", a.flush);
    }
    if !["ASYNC_MASTER", "SYNC_MASTER"].contains(&a.role.as_str()) {
        bail!("--role must be ASYNC_MASTER or SYNC_MASTER, not {}", a.role);
    }
    let namesrv_bin = sibling("mqnamesrv")?;
    let broker_bin = sibling("mqbroker")?;
    let mut namesrvs = Vec::new();
    for i in 0..a.namesrv_count {
        let port = a.base_port.checked_add(i).context("nameserver port overflows")?;
        let home = dir.join(format!("namesrv-{port}"));
        std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
        namesrvs.push(Planned {
            name: format!("namesrv-{port}"),
            program: namesrv_bin.clone(),
            args: vec![
                "--listen-port".into(),
                port.to_string(),
                "--home".into(),
                home.display().to_string(),
            ],
            addr: format!("127.0.0.1:{port}"),
            describe: "nameserver".into(),
        });
    }
    let ns_list = namesrvs
        .iter()
        .map(|n| n.addr.clone())
        .collect::<Vec<_>>()
        .join(";");
    let mut brokers = Vec::new();
    let per_group = u32::from(a.slaves) + 1;
    for g in 0..a.groups {
        let name = group_name(g);
        for id in 0..=a.slaves {
            let slot = u32::from(g) * per_group + u32::from(id);
            let port = u32::from(a.broker_base_port) + slot * 10;
            let port = u16::try_from(port).context("broker ports overflow; lower --broker-base-port")?;
            let bdir = dir.join(format!("{name}-{id}"));
            std::fs::create_dir_all(&bdir).with_context(|| format!("creating {}", bdir.display()))?;
            let role = if id == 0 { a.role.as_str() } else { "SLAVE" };
            let conf = format!(
                "brokerClusterName={}\nbrokerName={name}\nbrokerId={id}\nnamesrvAddr={ns_list}\nlistenPort={port}\n\
                 brokerIP1=127.0.0.1\nbrokerRole={role}\nflushDiskType={}\nstorePathRootDir={}\n",
                a.cluster_name,
                a.flush,
                bdir.join("store").display()
            );
            let conf_path = bdir.join("broker.conf");
            std::fs::write(&conf_path, conf).with_context(|| format!("writing {}", conf_path.display()))?;
            let describe = if id == 0 {
                format!("{name} master ({role})")
            } else {
                format!("{name} slave {id}")
            };
            brokers.push(Planned {
                name: format!("{name}-{id}"),
                program: broker_bin.clone(),
                args: vec!["-c".into(), conf_path.display().to_string()],
                addr: format!("127.0.0.1:{port}"),
                describe,
            });
        }
    }
    Ok((namesrvs, brokers, ns_list))
}

fn spawn(p: &Planned, logs: &Path) -> anyhow::Result<Child> {
    let log_path = logs.join(format!("{}.log", p.name));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let err = log.try_clone()?;
    let mut cmd = Command::new(&p.program);
    cmd.args(&p.args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .kill_on_drop(true);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "info");
    }
    cmd.spawn()
        .with_context(|| format!("starting {}", p.program.display()))
}

async fn can_connect(addr: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_millis(500), tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

async fn registered(client: &RemotingClient, ns: &str, broker_addr: &str) -> bool {
    let cmd = RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO);
    match client.invoke(ns, cmd, Duration::from_secs(2)).await {
        Ok(resp) if resp.is_success() => {
            String::from_utf8_lossy(&resp.body).contains(&format!("\"{broker_addr}\""))
        }
        _ => false,
    }
}

/// Polls `check` every 100 ms until it holds, the deadline passes (error), or the child exits.
async fn wait_ready<F, Fut>(
    p: &Planned,
    child: &mut Child,
    deadline: Instant,
    mut check: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        if check().await {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("{} exited during startup with {status}", p.name);
        }
        if Instant::now() >= deadline {
            bail!("{} ({}) not ready in time", p.name, p.addr);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn stop_all(children: &mut [(Planned, Child)]) {
    // Brokers first (reverse start order), so they unregister while nameservers still run.
    for (p, child) in children.iter_mut().rev() {
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
            Ok(Ok(status)) => println!("stopped {} ({status})", p.name),
            _ => {
                let _ = child.kill().await;
                println!("killed {} (did not exit within 10 s of SIGTERM)", p.name);
            }
        }
    }
}

async fn start(a: StartArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let dir = a.dir.canonicalize()?;
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let (namesrvs, brokers, ns_list) = plan(&a, &dir)?;
    for p in namesrvs.iter().chain(&brokers) {
        if can_connect(&p.addr).await {
            bail!("{} is already in use (another cluster running?); stop it or pick other --base-port/--broker-base-port", p.addr);
        }
    }
    let total = namesrvs.len() + brokers.len();
    let deadline = Instant::now() + Duration::from_secs(a.ready_timeout);
    let client = RemotingClient::new(ClientConfig::default());
    let mut children: Vec<(Planned, Child)> = Vec::new();
    let result: anyhow::Result<()> = async {
        for (i, p) in namesrvs.iter().chain(&brokers).enumerate() {
            let t = Instant::now();
            println!("[{}/{total}] starting {} {} ...", i + 1, p.describe, p.addr);
            let mut child = spawn(p, &logs)?;
            let addr = p.addr.clone();
            let res = if p.describe == "nameserver" {
                wait_ready(p, &mut child, deadline, || can_connect(&addr)).await
            } else {
                let (client, ns) = (
                    client.clone(),
                    namesrvs.iter().map(|n| n.addr.clone()).collect::<Vec<_>>(),
                );
                wait_ready(p, &mut child, deadline, || {
                    let (client, ns, addr) = (client.clone(), ns.clone(), addr.clone());
                    async move {
                        for n in &ns {
                            if !registered(&client, n, &addr).await {
                                return false;
                            }
                        }
                        true
                    }
                })
                .await
            };
            children.push((p.clone(), child));
            res.with_context(|| format!("see {}", logs.join(format!("{}.log", p.name)).display()))?;
            println!("      ready in {:.1} s", t.elapsed().as_secs_f64());
        }
        Ok(())
    }
    .await;
    client.shutdown();
    if let Err(e) = result {
        eprintln!("startup failed: {e:#}; stopping what was started");
        stop_all(&mut children).await;
        return Err(e);
    }

    println!("\ncluster {} is up:", a.cluster_name);
    for p in namesrvs.iter().chain(&brokers) {
        println!("  {:<28} {}", p.describe, p.addr);
    }
    println!("data and logs: {}", dir.display());
    println!("\nexport NAMESRV_ADDR='{ns_list}'");
    println!("\nCtrl-C stops the cluster.");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let exited = async {
        loop {
            for (p, child) in children.iter_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return (p.name.clone(), status);
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let failure = tokio::select! {
        _ = tokio::signal::ctrl_c() => { println!("\nCtrl-C: stopping the cluster"); None }
        _ = term.recv() => { println!("\nSIGTERM: stopping the cluster"); None }
        (name, status) = exited => Some(format!("{name} exited on its own with {status}; see {}", logs.join(format!("{name}.log")).display())),
    };
    stop_all(&mut children).await;
    match failure {
        Some(msg) => bail!(msg),
        None => Ok(()),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Cmd::Start(a) => rt.block_on(start(a)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_follow_the_alphabet() {
        assert_eq!(group_name(0), "broker-a");
        assert_eq!(group_name(1), "broker-b");
        assert_eq!(group_name(25), "broker-z");
        assert_eq!(group_name(26), "broker-aa");
    }
}
