//! The request server: an accept loop, a reader and a writer task per connection, and a task per
//! request so that replies go out in order of completion (a held pull does not block a send on
//! the same connection).
//!
//! Limits keep memory bounded: at most `max_connections` connections (extra ones are closed at
//! once with a log line), at most `max_in_flight_per_connection` requests being handled per
//! connection (the reader stops reading until one finishes), frames up to `max_frame` bytes.
//! A malformed or oversized frame closes only that connection. Unknown codes are answered with
//! REQUEST_CODE_NOT_SUPPORTED, handler failures with SYSTEM_ERROR; one-way requests get nothing.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::connection::Connection;
use crate::code::ResponseCode;
use crate::codec::{RemotingCodec, DEFAULT_MAX_FRAME};
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

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

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

async fn run_connection<H: RequestHandler>(
    stream: TcpStream,
    peer: SocketAddr,
    handler: Arc<H>,
    config: &ServerConfig,
    shutdown: CancellationToken,
) {
    let (read_half, write_half) = stream.into_split();
    let codec = RemotingCodec::new(config.max_frame);
    let mut reader = FramedRead::new(read_half, codec);
    let writer = FramedWrite::new(write_half, codec);
    let (tx, rx) = mpsc::channel::<RemotingCommand>(config.max_in_flight_per_connection.max(16));
    let conn = Connection::new(NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed), peer, tx);
    debug!(%peer, id = conn.id(), "connection opened");
    let writer_task = tokio::spawn(write_loop(writer, rx, conn.clone()));
    let in_flight = Arc::new(Semaphore::new(config.max_in_flight_per_connection));

    loop {
        let next = async {
            match config.idle_timeout {
                Some(idle) => tokio::time::timeout(idle, reader.next()).await.ok(),
                None => Some(reader.next().await),
            }
        };
        let frame = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = conn.closed() => break,
            frame = next => frame,
        };
        let request = match frame {
            None => {
                debug!(%peer, "closing idle connection");
                break;
            }
            Some(None) => break,
            Some(Some(Ok(cmd))) => cmd,
            Some(Some(Err(e))) => {
                warn!(%peer, error = %e, "bad frame; closing connection");
                break;
            }
        };
        if request.is_response() {
            // Replies to our one-way pushes do not exist; anything else flagged as a response is
            // not ours to handle.
            debug!(%peer, code = request.code, "ignoring response frame from client");
            continue;
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let handler = handler.clone();
        let conn = conn.clone();
        tokio::spawn(async move {
            let oneway = request.is_oneway();
            let code = request.code;
            let template = request.reply(ResponseCode::SUCCESS, None);
            let outcome = handler.handle(&conn, request).await;
            drop(permit);
            let reply = match outcome {
                Ok(Some(mut reply)) => {
                    reply.opaque = template.opaque;
                    reply.serialize_type = template.serialize_type;
                    reply.flag |= crate::command::FLAG_RESPONSE;
                    Some(reply)
                }
                Ok(None) => None,
                Err(HandlerError::NotSupported(code)) => {
                    warn!(peer = %conn.peer(), code, "request code not supported");
                    Some(with_code(
                        template,
                        ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
                        format!(" request type {code} not supported"),
                    ))
                }
                Err(e) => {
                    warn!(peer = %conn.peer(), code, error = %e, "request failed");
                    Some(with_code(template, ResponseCode::SYSTEM_ERROR, e.to_string()))
                }
            };
            if let (Some(reply), false) = (reply, oneway) {
                conn.send_reply(reply).await;
            }
        });
    }
    conn.mark_closed();
    handler.on_connection_closed(&conn);
    // Let queued replies drain; the writer ends when every sender clone is gone or the peer left.
    drop(conn);
    let _ = writer_task.await;
    debug!(%peer, "connection closed");
}

fn with_code(mut template: RemotingCommand, code: ResponseCode, remark: String) -> RemotingCommand {
    template.code = code.code();
    template.remark = Some(remark);
    template
}

/// Writes queued frames, batching whatever is ready into one flush. Ends when the connection
/// closes (after writing what was already queued) or the peer stops reading.
async fn write_loop(
    mut writer: FramedWrite<tokio::net::tcp::OwnedWriteHalf, RemotingCodec>,
    mut rx: mpsc::Receiver<RemotingCommand>,
    conn: Connection,
) {
    loop {
        let (first, closing) = tokio::select! {
            biased;
            next = rx.recv() => match next {
                Some(cmd) => (Some(cmd), false),
                None => break,
            },
            _ = conn.closed() => (None, true),
        };
        let mut batch: Vec<RemotingCommand> = first.into_iter().collect();
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let mut result = Ok(());
        for cmd in batch {
            result = writer.feed(cmd).await;
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = writer.flush().await;
        }
        if let Err(e) = result {
            debug!(peer = %conn.peer(), error = %e, "write failed; closing connection");
            break;
        }
        if closing {
            break;
        }
    }
    conn.mark_closed();
}
