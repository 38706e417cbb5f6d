//! The request server: an accept loop and one task per connection
//! ([`super::server_connection`]), in which requests are handled concurrently and answered in
//! order of completion (a held pull does not block a send on the same connection).
//!
//! Limits keep memory bounded: at most `max_connections` connections (extra ones are closed at
//! once with a log line), at most `max_in_flight_per_connection` requests being handled per
//! connection (the reader stops reading until one finishes), frames up to `max_frame` bytes.
//! A malformed or oversized frame closes only that connection. Unknown codes are answered with
//! REQUEST_CODE_NOT_SUPPORTED, handler failures with SYSTEM_ERROR; one-way requests get nothing.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::connection::Connection;
use super::server_connection::run_connection;
use crate::codec::DEFAULT_MAX_FRAME;
use crate::command::RemotingCommand;
use crate::header::HeaderError;

/// Server limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest accepted frame, length field included.
    pub max_frame: usize,
    /// Most simultaneous connections.
    pub max_connections: usize,
    /// Most requests handled at once per connection.
    pub max_in_flight_per_connection: usize,
    /// Close a connection that sent nothing for this long (RocketMQ: 120 s).
    pub idle_timeout: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_frame: DEFAULT_MAX_FRAME,
            max_connections: 10_000,
            max_in_flight_per_connection: 1024,
            idle_timeout: Some(Duration::from_secs(120)),
        }
    }
}

/// Why a handler could not answer; the server turns it into the wire response.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The request code is not served here.
    #[error("request type {0} not supported")]
    NotSupported(i32),
    /// The request's header is missing a field or has a bad value.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// Anything else; the text becomes the remark of a SYSTEM_ERROR reply.
    #[error("{0}")]
    Other(String),
}

/// Serves the requests of one server kind.
pub trait RequestHandler: Send + Sync + 'static {
    /// Handles one request. `Ok(None)` sends nothing (one-way requests never get a reply anyway).
    fn handle(
        &self,
        conn: &Connection,
        request: RemotingCommand,
    ) -> impl Future<Output = Result<Option<RemotingCommand>, HandlerError>> + Send;

    /// Called once when a connection closes, for whatever reason.
    fn on_connection_closed(&self, _conn: &Connection) {}
}

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
        tokio::spawn(async move {
            run_connection(stream, peer, handler, &config, shutdown).await;
            drop(permit);
        });
    }
    info!(%local, "remoting server stopped");
    Ok(())
}
