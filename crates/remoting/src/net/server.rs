//! The request server: an accept loop and one task per connection
//! (`server_connection.rs`), in which requests are handled concurrently and answered in
//! order of completion (a held pull does not block a send on the same connection).
//!
//! Limits keep memory bounded: at most `max_connections` connections (extra ones are closed at
//! once with a log line), at most `max_in_flight_per_connection` requests being handled per
//! connection (the reader stops reading until one finishes), frames up to `max_frame` bytes.
//! Request bytes buffered in read buffers count towards one budget per server
//! (`max_buffered_request_bytes`); past it the slowest peers are closed.
//! A malformed or oversized frame closes only that connection. Unknown codes are answered with
//! REQUEST_CODE_NOT_SUPPORTED, handler failures with SYSTEM_ERROR; one-way requests get nothing.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use super::handler::{HandlerError, RequestHandler, ServerConfig, DEFAULT_MAX_BUFFERED_REQUEST_BYTES};
use super::read_budget::ReadBudget;
use super::server_connection::run_connection;

/// Runs the accept loop until `shutdown` is cancelled; then stops accepting and closes every
/// connection.
pub async fn serve<H: RequestHandler>(
    listener: TcpListener,
    handler: Arc<H>,
    config: ServerConfig,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let connections = Arc::new(Semaphore::new(config.max_connections));
    let budget = ReadBudget::new(config.max_buffered_request_bytes);
    let config = Arc::new(config);
    info!(%local, "remoting server listening");
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off briefly rather than spin.
                    warn!(%local, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            warn!(%peer, limit = config.max_connections, "connection limit reached; closing new connection");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let config = config.clone();
        let shutdown = shutdown.child_token();
        let budget = budget.clone();
        config.open_connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            run_connection(stream, peer, handler, &config, &budget, shutdown).await;
            config.open_connections.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    info!(%local, "remoting server stopped");
    Ok(())
}
