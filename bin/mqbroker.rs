//! `mqbroker`: runs one RocketMQ 4.x broker (master or slave).
//!
//! Settings come from, lowest priority first: the defaults, a `broker.conf` (`-c`, Java properties
//! with Apache's key names), then the flags (`-n` replaces `namesrvAddr`). `-p` prints the
//! effective settings and exits, as Apache's `mqbroker -p` does. SIGTERM or SIGINT stops it
//! cleanly: it unregisters from the nameservers, writes its offsets and closes the store.

/// mimalloc: the broker allocates and frees small header strings per request, and glibc's
/// malloc spent a fifth of the broker's CPU on them under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Parser;
use rmq_broker::config::{split_namesrv_addrs, unknown_keys};
use rmq_broker::{Broker, BrokerConfig};
use rmq_remoting::java_properties::JavaProperties;
use tracing::{info, warn};

#[path = "shared/server_process.rs"]
mod server_process;

/// Runs a RocketMQ 4.x broker: stores messages, serves producers, consumers and mqadmin, and
/// registers itself with every nameserver.
#[derive(Debug, Parser)]
#[command(
    name = "mqbroker",
    version,
    after_help = "Config file keys (Apache names) include brokerClusterName, brokerName, brokerId, namesrvAddr\n\
                  (';'-separated), listenPort, haListenPort, brokerIP1, brokerIP2, brokerRole (ASYNC_MASTER,\n\
                  SYNC_MASTER, SLAVE), flushDiskType (ASYNC_FLUSH, SYNC_FLUSH), storePathRootDir,\n\
                  autoCreateTopicEnable, autoCreateSubscriptionGroup, defaultTopicQueueNums, fileReservedTime,\n\
                  mapedFileSizeCommitLog, maxMessageSize, brokerPermission, slaveReadEnable, messageDelayLevel,\n\
                  registerNameServerPeriod, flushConsumerOffsetInterval, syncFlushTimeout, slaveTimeout,\n\
                  haMasterAddress, longPollingEnable, enablePropertyFilter, warmMapedFileEnable, diskMaxUsedSpaceRatio (percent),\n\
                  diskSpaceWarningLevelRatio (fraction; sends refused above it), messageIndexEnable, maxHashSlotNum,\n\
                  maxIndexNum, maxMsgsNumBatch, defaultQueryMaxNum. Unknown keys are warned about; bad values stop\n\
                  the start.\n\
                  Logging: RUST_LOG (default info), e.g. RUST_LOG=rmq_broker=debug."
)]
struct Args {
    /// Java-properties config file (broker.conf) with Apache's key names. Repeat it to layer
    /// files: a key in a later file overrides an earlier one (docker-compose.acl.yml adds
    /// aclEnable this way).
    #[arg(short = 'c', long = "config-file", alias = "configFile", value_name = "FILE")]
    config_file: Vec<PathBuf>,
    /// Nameserver addresses `host:port[;host:port]`; overrides `namesrvAddr` from the file.
    #[arg(
        short = 'n',
        long = "namesrv-addr",
        alias = "namesrvAddr",
        value_name = "ADDRS"
    )]
    namesrv_addr: Option<String>,
    /// Print the effective configuration and exit.
    #[arg(short = 'p', long)]
    print_config: bool,
    /// Async worker threads (default: one per core). The store's flush and retention threads
    /// come on top.
    #[arg(long, value_name = "N")]
    worker_threads: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    server_process::init_logging();
    let mut config = effective_config(&args)?;
    if args.print_config {
        print!("{}", config.to_properties());
        return Ok(());
    }
    budget_descriptors(&mut config);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.worker_threads.filter(|n| *n > 0) {
        builder.worker_threads(n);
    }
    let runtime = builder
        .enable_all()
        .thread_name("broker")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(config))
}

fn effective_config(args: &Args) -> anyhow::Result<BrokerConfig> {
    let mut props = JavaProperties::default();
    for path in &args.config_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let layer = JavaProperties::parse(&text);
        for key in unknown_keys(&layer) {
            warn!(key, file = %path.display(), "unknown config key ignored");
        }
        for (key, value) in layer.iter() {
            props.set(key, value);
        }
    }
    if let Some(addrs) = &args.namesrv_addr {
        if split_namesrv_addrs(addrs).is_empty() {
            bail!("-n needs at least one nameserver address like 127.0.0.1:9876");
        }
        props.set("namesrvAddr", addrs);
    }
    let config = BrokerConfig::from_properties(&props).with_context(|| {
        let files: Vec<String> = args.config_file.iter().map(|p| p.display().to_string()).collect();
        if files.is_empty() {
            "bad broker config".to_string()
        } else {
            format!("bad broker config (file {})", files.join(", "))
        }
    })?;
    if config.namesrv_addrs.is_empty() {
        warn!("no nameserver configured (namesrvAddr or -n): clients will not find this broker through a nameserver");
    }
    Ok(config)
}

/// Raises the soft descriptor limit to the hard one and, unless `maxOpenConsumeQueueFiles` is
/// set, lets consume-queue files use a quarter of it: the rest stays for the commit log, the
/// config files and the connections, so thousands of queues cannot starve the listener.
fn budget_descriptors(config: &mut BrokerConfig) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => limit = raised,
            Err(e) => warn!(error = %e, "cannot raise the open-file limit to the hard limit"),
        }
    }
    let fds = limit.current.unwrap_or(1 << 20);
    if config.max_open_consume_queue_files == 0 {
        config.max_open_consume_queue_files = (fds / 4).clamp(16, 1 << 20) as usize;
    }
    info!(
        open_file_limit = fds,
        max_open_consume_queue_files = config.max_open_consume_queue_files,
        "file descriptor budget"
    );
}

async fn run(config: BrokerConfig) -> anyhow::Result<()> {
    let broker = Broker::start(config).await.context("broker failed to start")?;
    info!(addr = %broker.broker_addr(), "mqbroker running; SIGTERM or Ctrl-C stops it");
    server_process::wait_for_signal().await?;
    info!("stopping broker");
    broker.shutdown().await;
    Ok(())
}
