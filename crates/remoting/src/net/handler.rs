//! What a request server is given: its limits ([`ServerConfig`]) and the [`RequestHandler`] that
//! answers each request, with the [`HandlerError`] it may fail with. Shared by the accept loop
//! (`server.rs`) and the per-connection task (`server_connection.rs`).

use std::future::Future;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use super::connection::Connection;
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
    /// Request bytes all connections together may hold in their read buffers while their
    /// frames are incomplete; past it the slowest peers are closed, with a log line.
    pub max_buffered_request_bytes: usize,
    /// Connections open now; the server counts into it (share it to read it, e.g. for metrics).
    pub open_connections: Arc<AtomicUsize>,
}

/// Default [`ServerConfig::max_buffered_request_bytes`]: eight full frames at the default limit.
pub const DEFAULT_MAX_BUFFERED_REQUEST_BYTES: usize = 128 * 1024 * 1024;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_frame: DEFAULT_MAX_FRAME,
            max_connections: 10_000,
            max_in_flight_per_connection: 1024,
            idle_timeout: Some(Duration::from_secs(120)),
            max_buffered_request_bytes: DEFAULT_MAX_BUFFERED_REQUEST_BYTES,
            open_connections: Arc::new(AtomicUsize::new(0)),
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
