//! `rmq-cluster`: runs and operates a local RocketMQ 4.x cluster of minirmq processes.
//!
//! * `start` supervises nameservers and master/slave groups in the foreground ([`supervisor`]);
//!   the layout is planned in [`layout`], children are started and stopped by [`process`].
//! * `status`, `kill`, `stop`, `start NODE`, `restart`, `add-group` reach that supervisor from
//!   another terminal through the control socket in its `--dir` ([`control`]).
//! * `drill` runs a fault drill (seed 002's dead master, seed 001's upgrade) on a fresh cluster
//!   with the Rust client and the mqadmin library ([`drill`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[path = "cluster/acl.rs"]
mod acl;
#[path = "cluster/control.rs"]
mod control;
#[path = "cluster/drill/mod.rs"]
mod drill;
#[path = "cluster/layout.rs"]
mod layout;
#[path = "cluster/process.rs"]
mod process;
#[path = "cluster/status.rs"]
mod status;
#[path = "cluster/supervisor.rs"]
mod supervisor;

use control::Request;

#[derive(Parser, Debug)]
#[command(
    name = "rmq-cluster",
    version,
    about = "Run and operate a local RocketMQ 4.x cluster of minirmq processes",
    after_help = "Examples:\n  \
        rmq-cluster start                      # 2 nameservers, broker-a and broker-b (master + slave each)\n  \
        rmq-cluster start --acl                # the same with plain ACL (the sample plain_acl.yml)\n  \
        rmq-cluster status                     # from another terminal\n  \
        rmq-cluster kill broker-a-0            # SIGKILL group a's master; the rest keeps running\n  \
        rmq-cluster start broker-a-0           # start it again\n  \
        rmq-cluster add-group --slaves 1       # broker-c: a new master and one slave\n  \
        rmq-cluster stop                       # stop the whole cluster\n  \
        rmq-cluster drill seed002              # the dead-master drill on a fresh cluster\n\n\
        Node names are the ones `start` and `status` print: namesrv-9876, broker-a-0 (master), broker-a-1 (slave).\n\
        Every subcommand takes --dir (default ./.rmq-local) to find its cluster."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Args, Debug, Clone)]
struct DirArg {
    /// The cluster's directory: configs, stores, logs and the control socket.
    #[arg(long, default_value = "./.rmq-local")]
    dir: PathBuf,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Without NODE: start nameservers and broker groups in the foreground and supervise them
    /// (a node that dies is reported, the others keep running; Ctrl-C stops them all).
    /// With NODE: start that stopped node of the running cluster and wait until it is ready.
    Start(StartArgs),
    /// Without NODE: stop the whole running cluster (brokers, then nameservers).
    /// With NODE: stop that node with SIGTERM (a clean shutdown) and wait for it to exit.
    Stop {
        /// Node to stop, e.g. broker-a-0.
        node: Option<String>,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Show each node: role, state (up/down), pid, ports and the nameservers it is registered on.
    Status {
        #[command(flatten)]
        dir: DirArg,
    },
    /// SIGKILL a node (a crash): the supervisor reports it and keeps the others running.
    Kill {
        /// Node to kill, e.g. broker-a-0.
        node: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Stop a node with SIGTERM, start it again and wait until it is ready.
    Restart {
        /// Node to restart, e.g. broker-a-0.
        node: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Add a broker group (the next letter: broker-c, …): a master and --slaves slaves, started and
    /// registered with every nameserver. Give it topics with `mqadmin updateTopic -b <master>`.
    AddGroup {
        /// Slaves of the new group.
        #[arg(long, default_value_t = 1)]
        slaves: u16,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Run a fault drill on a fresh cluster it starts (and stops) itself; exits non-zero if a
    /// step fails or an acknowledged message is lost.
    Drill(drill::DrillArgs),
}

#[derive(clap::Args, Debug, Clone)]
struct StartArgs {
    /// A node of the running cluster to start (e.g. broker-a-0); omit it to start a cluster.
    node: Option<String>,
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
    #[command(flatten)]
    dir: DirArg,
    /// flushDiskType of every broker: ASYNC_FLUSH or SYNC_FLUSH.
    #[arg(long, default_value = "ASYNC_FLUSH")]
    flush: String,
    /// brokerRole of the masters: ASYNC_MASTER or SYNC_MASTER.
    #[arg(long, default_value = "ASYNC_MASTER")]
    role: String,
    /// brokerClusterName.
    #[arg(long, default_value = "DefaultCluster")]
    cluster_name: String,
    /// Seconds each node gets to become ready.
    #[arg(long, default_value_t = 60)]
    ready_timeout: u64,
    /// Plain ACL on every broker (aclEnable=true) with this plain_acl.yml, copied to each
    /// broker's <rocketmqHome>/conf/; without FILE the shipped sample scripts/acl/plain_acl.yml.
    /// Its first admin account goes to <dir>/conf/tools.yml: use it with
    /// `ROCKETMQ_HOME=<dir> mqadmin …` or `mqadmin --ak … --sk …` (start prints both).
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    acl: Option<Option<PathBuf>>,
}

impl StartArgs {
    fn plan(&self) -> layout::Plan {
        layout::Plan {
            namesrv_count: self.namesrv_count,
            groups: self.groups,
            slaves: self.slaves,
            base_port: self.base_port,
            broker_base_port: self.broker_base_port,
            flush: self.flush.clone(),
            role: self.role.clone(),
            cluster_name: self.cluster_name.clone(),
            acl: self.acl.clone(),
        }
    }
}

/// How long a control request may take: starting a node waits for its registration.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(180);

/// Sends one request to the running cluster and prints its answer.
async fn remote(dir: &DirArg, request: Request) -> anyhow::Result<()> {
    let reply = control::call(&dir.dir, &request, CONTROL_TIMEOUT).await?;
    if request == Request::Status {
        let namesrvs = reply.nodes.iter().filter(|n| n.role == "nameserver").count();
        print!("{}", status::render(&reply.nodes, namesrvs));
    } else if !reply.text.is_empty() {
        println!("{}", reply.text);
    }
    if !reply.ok {
        anyhow::bail!("{} failed", command_name(&request));
    }
    Ok(())
}

fn command_name(r: &Request) -> &'static str {
    match r {
        Request::Status => "status",
        Request::Kill { .. } => "kill",
        Request::Stop { .. } => "stop",
        Request::Start { .. } => "start",
        Request::Restart { .. } => "restart",
        Request::AddGroup { .. } => "add-group",
        Request::StopCluster => "stop",
    }
}

async fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Start(a) => match a.node.clone() {
            Some(node) => remote(&a.dir, Request::Start { node }).await,
            None => supervisor::run(a.plan(), &a.dir.dir, Duration::from_secs(a.ready_timeout)).await,
        },
        Cmd::Stop {
            node: Some(node),
            dir,
        } => remote(&dir, Request::Stop { node }).await,
        Cmd::Stop { node: None, dir } => remote(&dir, Request::StopCluster).await,
        Cmd::Status { dir } => remote(&dir, Request::Status).await,
        Cmd::Kill { node, dir } => remote(&dir, Request::Kill { node }).await,
        Cmd::Restart { node, dir } => remote(&dir, Request::Restart { node }).await,
        Cmd::AddGroup { slaves, dir } => remote(&dir, Request::AddGroup { slaves }).await,
        Cmd::Drill(a) => drill::run(a).await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The drill's client and the control socket log warnings to stderr; RUST_LOG=debug for more.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    // Two workers: the drill's producer, consumer and control calls run side by side.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_takes_an_optional_file() {
        let start = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Cmd::Start(a) => a.acl,
            other => panic!("{other:?}"),
        };
        assert_eq!(start(&["rmq-cluster", "start"]), None);
        assert_eq!(
            start(&["rmq-cluster", "start", "--acl", "--dir", "/x"]),
            Some(None)
        );
        assert_eq!(
            start(&["rmq-cluster", "start", "--acl", "my.yml"]),
            Some(Some(PathBuf::from("my.yml")))
        );
    }
}
