//! What the examples share: their log set-up. (`examples/common/mod.rs` is no example of its own:
//! Cargo only builds `examples/*.rs` and `examples/*/main.rs`.)

/// Logs to stderr, filtered by `RUST_LOG` (default `warn`, so the client's warnings show without
/// it). Colour only on a terminal: piped or in a container log the escape codes are noise.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
}
