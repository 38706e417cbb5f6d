//! What the long-running server binaries (mqnamesrv, mqbroker) share: logging through `tracing`
//! with `RUST_LOG` (default `info`) on stderr, coloured only when stderr is a terminal, and
//! waiting for SIGTERM or SIGINT.

use std::io::IsTerminal;

use anyhow::Context;

/// Installs the stderr log subscriber, filtered by `RUST_LOG` (default `info`). Colour codes only
/// go to a terminal, not to files, pipes or container logs.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Waits for SIGTERM or SIGINT and returns the name of the one that came.
pub async fn wait_for_signal() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}
