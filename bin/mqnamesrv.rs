//! `mqnamesrv`: runs one RocketMQ 4.x nameserver.
//!
//! Settings come from, lowest priority first: the defaults, a Java-properties file (`-c`, with
//! Apache's key names), then the flags. `-p` prints the effective settings and exits, as Apache's
//! `mqnamesrv -p` does. SIGTERM or SIGINT stops it cleanly.

/// mimalloc: the broker allocates and frees small header strings per request, and glibc's
/// malloc spent a fifth of the broker's CPU on them under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use rmq_namesrv::{NameServer, NamesrvConfig};
use rmq_remoting::java_properties::JavaProperties;
use tracing::info;

#[path = "shared/server_process.rs"]
mod server_process;

/// Runs a RocketMQ 4.x nameserver: brokers register their topics with it, producers, consumers and
/// mqadmin ask it for routes. Run several side by side for availability; they never talk to each
/// other, every broker registers with each of them.
#[derive(Debug, Parser)]
#[command(
    name = "mqnamesrv",
    version,
    after_help = "Config file keys (Apache names): listenPort, rocketmqHome, kvConfigPath, orderMessageEnable,\n\
                  scanNotActiveBrokerInterval (ms), brokerChannelExpiredTime (ms), kvConfigLogInterval (ms),\n\
                  serverChannelMaxIdleTimeSeconds. Unknown keys are warned about; bad values stop the start.\n\
                  The KV config is kept in <home>/namesrv/kvConfig.json unless kvConfigPath says otherwise.\n\
                  Logging: RUST_LOG (default info), e.g. RUST_LOG=rmq_namesrv=debug."
)]
struct Args {
    /// Java-properties config file (namesrv.conf) with Apache's key names.
    #[arg(short = 'c', long = "config-file", alias = "configFile", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Port to listen on (default 9876); overrides `listenPort` from the file.
    #[arg(long, value_name = "PORT")]
    listen_port: Option<u16>,
    /// Home directory (default $HOME); the KV config lives under it. Overrides `rocketmqHome`.
    #[arg(long, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Print the effective configuration and exit.
    #[arg(short = 'p', long)]
    print_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run_main(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One readable line (the cause chain), not a backtrace: these are operator errors.
            eprintln!("mqnamesrv: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_main(args: &Args) -> anyhow::Result<()> {
    server_process::init_logging();
    let config = effective_config(args)?;
    if args.print_config {
        print!("{}", config.to_properties_text());
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("namesrv")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(config))
}

fn effective_config(args: &Args) -> anyhow::Result<NamesrvConfig> {
    // Apache keeps its files under the user's home by default.
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut config = NamesrvConfig {
        home,
        ..NamesrvConfig::default()
    };
    if let Some(path) = &args.config_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        config
            .apply(&JavaProperties::parse(&text))
            .with_context(|| format!("bad config file {}", path.display()))?;
        info!(file = %path.display(), "config file loaded");
    }
    if let Some(port) = args.listen_port {
        config.listen_port = port;
    }
    if let Some(home) = &args.home {
        if home.as_os_str().is_empty() {
            bail!("--home must not be empty");
        }
        config.home = home.clone();
    }
    config.validate().context("bad configuration")?;
    Ok(config)
}

async fn run(config: NamesrvConfig) -> anyhow::Result<()> {
    let port = config.listen_port;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port))
        .await
        .with_context(|| {
            format!("cannot listen on port {port} (listenPort); is another nameserver running?")
        })?;
    let kv_file = config.kv_config_file();
    let server = NameServer::start(config, listener).context("cannot start the nameserver")?;
    info!(addr = %server.local_addr(), kv_file = %kv_file.display(), "The Name Server boot success. serializeType=JSON");
    let signal = server_process::wait_for_signal().await?;
    info!("{signal} received");
    info!("shutting down");
    server.shutdown().await;
    Ok(())
}
