//! One accepted connection, served by a single task with no hop between tasks on the hot path.
//!
//! Each turn of the loop:
//! 1. decodes every complete frame in the read buffer (as far as the in-flight limit allows) and
//!    starts the handler of each one; a handler that finishes at once (a send with ASYNC_FLUSH)
//!    is answered in the same turn, a handler that waits (a held pull, a SYNC_FLUSH send) stays
//!    in a set of pending futures polled by this task when woken;
//! 2. writes every reply encoded so far with one `write` call;
//! 3. sleeps until the socket is readable or writable, a pending handler finishes, a push is
//!    queued (NOTIFY_CONSUMER_IDS_CHANGED), the idle timeout passes or the server stops.
//!
//! So replies to a burst of requests leave in one syscall, and a request answered at once costs
//! one wake-up of this task, not a spawn, a channel send and a second task's wake-up.
//!
//! Memory stays bounded per connection:
//! * at most `max_in_flight_per_connection` handlers run at once, and no new one starts while
//!   the requests they hold (a held pull keeps its request) add up to [`MAX_PENDING_BYTES`];
//! * while more than [`MAX_UNSENT`] bytes wait to be written, no frame is decoded and no pending
//!   handler is polled, so a peer that does not read gets no more replies built for it (a woken
//!   pull reads its messages only when polled);
//! * the read buffer grows with the bytes that actually arrive (a read goes through a stack
//!   buffer unless the read buffer already has room), never with the length a frame announces;
//!   it holds at most one frame of up to `max_frame` bytes plus one read chunk, and the bytes it
//!   holds count towards the server's [`ReadBudget`], past which the slowest peers are closed;
//! * both buffers are given back whenever they are empty before the task sleeps, so a quiet
//!   connection holds no buffer memory at all.

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::connection::Connection;
use super::handler::{HandlerError, RequestHandler, ServerConfig};
use super::read_budget::{BudgetShare, ReadBudget};
use crate::code::ResponseCode;
use crate::codec::{encode_frame, RemotingCodec};
use crate::command::{RemotingCommand, FLAG_RESPONSE};

/// Requests handled between two writes while a burst is being worked through.
const EARLY_WRITE: usize = 32;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 64 * 1024;
/// A read goes straight into the read buffer when it has at least this much room (a large frame
/// is arriving); otherwise through a per-thread scratch buffer, so the read buffer only grows by
/// what came.
const DIRECT_READ_MIN: usize = 16 * 1024;
/// Reading pauses while more than this many reply bytes wait for the peer.
pub(super) const MAX_UNSENT: usize = 4 * 1024 * 1024;
/// Request bytes (frames as read) that handlers still running may hold; past it no new frame is
/// decoded until one finishes. A single larger frame is still taken when nothing is pending.
pub(super) const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;
/// Server pushes queued for one connection; more are dropped (notifications are best effort).
const PUSH_QUEUE: usize = 256;
/// How long a closing connection may take to write the replies it already has.
const FINAL_FLUSH: Duration = Duration::from_secs(1);

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// Why the loop ended.
enum Close {
    Shutdown,
    PeerClosed,
    Idle,
    Evicted,
    BadFrame(crate::codec::CodecError),
    Io(std::io::Error),
}

/// The socket and its two buffers.
struct Wire {
    stream: TcpStream,
    codec: RemotingCodec,
    read: BytesMut,
    write: BytesMut,
}

impl Wire {
    /// One non-blocking read; `Ok(0)` is end of stream.
    fn read_some(&mut self) -> std::io::Result<usize> {
        if self.read.capacity() - self.read.len() >= DIRECT_READ_MIN {
            return self.stream.try_read_buf(&mut self.read);
        }
        // A scratch buffer per thread, zeroed once: a fresh zeroed 64 KiB array per read was
        // 5 % of the broker's CPU at one request in flight.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Box<[u8]>> =
                std::cell::RefCell::new(vec![0u8; READ_CHUNK].into_boxed_slice());
        }
        SCRATCH.with(|scratch| {
            let mut chunk = scratch.borrow_mut();
            let n = self.stream.try_read(&mut chunk)?;
            self.read.extend_from_slice(&chunk[..n]);
            Ok(n)
        })
    }

    /// Gives back the memory of empty buffers (decoded frames keep theirs until dropped).
    fn release_empty(&mut self) {
        if self.read.is_empty() && self.read.capacity() > 0 {
            self.read = BytesMut::new();
        }
        if self.write.is_empty() && self.write.capacity() > 0 {
            self.write = BytesMut::new();
        }
    }

    /// Writes as much of the write buffer as the socket takes now.
    fn write_some(&mut self) -> std::io::Result<()> {
        while !self.write.is_empty() {
            match self.stream.try_write(&self.write) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.write.advance(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Encodes `reply`; one that cannot be encoded (too large) is answered with SYSTEM_ERROR.
    fn queue(&mut self, reply: RemotingCommand, peer: SocketAddr) {
        if let Err(e) = encode_frame(&reply, &mut self.write, self.codec.max_frame()) {
            warn!(%peer, code = reply.code, error = %e, "reply cannot be encoded; answering SYSTEM_ERROR");
            let mut failure = RemotingCommand::response(ResponseCode::SYSTEM_ERROR, Some(e.to_string()));
            failure.opaque = reply.opaque;
            failure.serialize_type = reply.serialize_type;
            failure.flag = reply.flag;
            // A bare error reply is a few dozen bytes: it always fits.
            let _ = encode_frame(&failure, &mut self.write, usize::MAX);
        }
    }

    /// Writes what is left, waiting at most [`FINAL_FLUSH`].
    async fn final_flush(&mut self) {
        let deadline = Instant::now() + FINAL_FLUSH;
        while !self.write.is_empty() && Instant::now() < deadline {
            if self.write_some().is_err() {
                return;
            }
            if self.write.is_empty() {
                return;
            }
            if tokio::time::timeout_at(deadline, self.stream.writable())
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// Runs the handler for one request of `frame_len` bytes and builds the wire reply (`None` for
/// one-way requests and handlers that answer nothing); hands `frame_len` back for the
/// connection's pending-bytes count.
async fn answer<H: RequestHandler>(
    handler: &H,
    conn: &Connection,
    request: RemotingCommand,
    frame_len: usize,
) -> (Option<RemotingCommand>, usize) {
    (reply_to(handler, conn, request).await, frame_len)
}

async fn reply_to<H: RequestHandler>(
    handler: &H,
    conn: &Connection,
    request: RemotingCommand,
) -> Option<RemotingCommand> {
    let oneway = request.is_oneway();
    let code = request.code;
    let template = request.reply(ResponseCode::SUCCESS, None);
    let outcome = handler.handle(conn, request).await;
    if oneway {
        return None;
    }
    match outcome {
        Ok(Some(mut reply)) => {
            reply.opaque = template.opaque;
            reply.serialize_type = template.serialize_type;
            reply.flag |= FLAG_RESPONSE;
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
    }
}

fn with_code(mut template: RemotingCommand, code: ResponseCode, remark: String) -> RemotingCommand {
    template.code = code.code();
    template.remark = Some(remark);
    template
}

/// The handlers still running and the request bytes they hold.
struct Pending<F> {
    futures: FuturesUnordered<F>,
    bytes: usize,
}

impl<F: Future<Output = (Option<RemotingCommand>, usize)>> Pending<F> {
    /// Whether another request may start: below both the count and the byte limit, or nothing
    /// pending at all (one frame up to `max_frame` always gets through).
    fn has_room(&self, max_in_flight: usize) -> bool {
        self.futures.is_empty() || (self.futures.len() < max_in_flight && self.bytes < MAX_PENDING_BYTES)
    }

    fn push(&mut self, future: F, frame_len: usize) {
        self.bytes += frame_len;
        self.futures.push(future);
    }

    /// Settles one finished handler: queues its reply.
    fn finished(&mut self, done: (Option<RemotingCommand>, usize), wire: &mut Wire, peer: SocketAddr) {
        let (reply, frame_len) = done;
        self.bytes -= frame_len;
        if let Some(reply) = reply {
            wire.queue(reply, peer);
        }
    }

    /// Waits until `deadline` for the running handlers and queues their replies (a connection
    /// closing for a bad frame still answers the good frames before it).
    async fn settle(&mut self, wire: &mut Wire, peer: SocketAddr, deadline: Instant) {
        while !self.futures.is_empty() {
            match tokio::time::timeout_at(deadline, self.futures.next()).await {
                Ok(Some(done)) => self.finished(done, wire, peer),
                _ => return,
            }
        }
    }

    /// Queues every reply whose handler has already finished, without waiting, while the write
    /// buffer has room.
    fn queue_finished(&mut self, wire: &mut Wire, peer: SocketAddr) {
        while wire.write.len() < MAX_UNSENT {
            match self.futures.next().now_or_never() {
                Some(Some(done)) => self.finished(done, wire, peer),
                _ => return,
            }
        }
    }
}

/// Serves one connection until the peer leaves, it misbehaves, it idles out or `shutdown`.
pub(super) async fn run_connection<H: RequestHandler>(
    stream: TcpStream,
    peer: SocketAddr,
    handler: Arc<H>,
    config: &ServerConfig,
    budget: &Arc<ReadBudget>,
    shutdown: CancellationToken,
) {
    let (push_tx, mut pushes) = mpsc::channel::<RemotingCommand>(PUSH_QUEUE);
    let conn = Connection::new(NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed), peer, push_tx);
    debug!(%peer, id = conn.id(), "connection opened");
    let share: BudgetShare = budget.join(conn.id(), peer);
    let mut wire = Wire {
        stream,
        codec: RemotingCodec::new(config.max_frame),
        read: BytesMut::new(),
        write: BytesMut::new(),
    };
    let max_in_flight = config.max_in_flight_per_connection.max(1);
    let handler = &*handler;
    let conn_ref = &conn;
    let mut pending = Pending {
        futures: FuturesUnordered::new(),
        bytes: 0,
    };
    // The idle timer is re-armed lazily: a read only records its time.
    let idle = config.idle_timeout;
    let mut last_read = Instant::now();
    let idle_timer = tokio::time::sleep(idle.unwrap_or(Duration::from_secs(86_400)));
    tokio::pin!(idle_timer);

    let reason = 'serve: loop {
        // 1. Start the handlers of the frames already read. Every EARLY_WRITE requests the
        //    replies ready so far are written, so that the peer reads them (and sends more)
        //    while the rest of a large burst is still being handled here.
        let mut started = 0;
        while pending.has_room(max_in_flight) && wire.write.len() < MAX_UNSENT {
            let buffered = wire.read.len();
            match wire.codec.decode(&mut wire.read) {
                Ok(Some(response)) if response.is_response() => {
                    let code = response.code;
                    if !conn_ref.complete(response) {
                        debug!(%peer, code, "ignoring a response frame nobody waits for");
                    }
                }
                Ok(Some(request)) => {
                    let frame_len = buffered - wire.read.len();
                    pending.push(answer(handler, conn_ref, request, frame_len), frame_len);
                    started += 1;
                    if started % EARLY_WRITE == 0 {
                        pending.queue_finished(&mut wire, peer);
                        if let Err(e) = wire.write_some() {
                            break 'serve Close::Io(e);
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => break 'serve Close::BadFrame(e),
            }
        }
        if started % EARLY_WRITE != 0 {
            pending.queue_finished(&mut wire, peer);
        }
        share.update(wire.read.len(), started > 0);
        // 2. Write what is ready.
        if let Err(e) = wire.write_some() {
            break Close::Io(e);
        }
        wire.release_empty();
        // 3. Wait for something to do.
        let room_to_write = wire.write.len() < MAX_UNSENT;
        let reading = pending.has_room(max_in_flight) && room_to_write;
        let polling = !pending.futures.is_empty() && room_to_write;
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break Close::Shutdown,
            _ = share.evicted().cancelled() => break Close::Evicted,
            Some(done) = pending.futures.next(), if polling => {
                pending.finished(done, &mut wire, peer);
                pending.queue_finished(&mut wire, peer);
            }
            Some(push) = pushes.recv() => {
                wire.queue(push, peer);
                while let Ok(more) = pushes.try_recv() {
                    wire.queue(more, peer);
                }
            }
            writable = wire.stream.writable(), if !wire.write.is_empty() => {
                if let Err(e) = writable {
                    break Close::Io(e);
                }
            }
            readable = wire.stream.readable(), if reading => {
                if let Err(e) = readable {
                    break Close::Io(e);
                }
                match wire.read_some() {
                    Ok(0) => break Close::PeerClosed,
                    Ok(_) => {
                        last_read = Instant::now();
                        share.update(wire.read.len(), false);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => break Close::Io(e),
                }
            }
            () = &mut idle_timer, if idle.is_some() => {
                let limit = idle.unwrap_or_default();
                if last_read.elapsed() >= limit {
                    break Close::Idle;
                }
                idle_timer.as_mut().reset(last_read + limit);
            }
        }
    };

    match &reason {
        Close::Shutdown | Close::PeerClosed => wire.final_flush().await,
        Close::Idle => debug!(%peer, "closing idle connection"),
        Close::Evicted => {
            warn!(%peer, buffered = wire.read.len(), "closed to keep buffered request bytes within the server's budget")
        }
        Close::BadFrame(e) => {
            warn!(%peer, error = %e, "bad frame; closing connection after answering the frames before it");
            pending.queue_finished(&mut wire, peer);
            pending
                .settle(&mut wire, peer, Instant::now() + FINAL_FLUSH)
                .await;
            wire.final_flush().await;
        }
        Close::Io(e) => debug!(%peer, error = %e, "connection failed"),
    }
    // Handlers still waiting (held pulls) end here, unanswered: the peer is gone.
    drop(pending);
    drop(share);
    conn.mark_closed();
    handler.on_connection_closed(&conn);
    debug!(%peer, "connection closed");
}
