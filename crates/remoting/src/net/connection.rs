//! [`Connection`]: the server's handle on one accepted connection.
//!
//! Handlers get it with every request: it names the peer, lets the server push requests to the
//! peer (NOTIFY_CONSUMER_IDS_CHANGED one-way, CONSUME_MESSAGE_DIRECTLY with [`Connection::invoke`],
//! which waits for the peer's response), and tells whether the peer is still there. Pushes go
//! through a small bounded queue drained by the connection's task; when it is full a push is
//! dropped rather than growing memory. A response from the peer completes the invoke waiting on
//! its `opaque`; one nobody waits for (late, or never asked) is dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::NetError;
use crate::command::RemotingCommand;

/// One accepted connection, cheap to clone.
#[derive(Clone, Debug)]
pub struct Connection {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: u64,
    peer: SocketAddr,
    outbound: mpsc::Sender<RemotingCommand>,
    closed: CancellationToken,
    next_opaque: AtomicI32,
    // Invokes waiting for the peer's response, by opaque. Entries are added only by this
    // server's own invokes and removed on response, timeout or close, so a peer cannot grow it.
    waiting: Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>,
}

impl Connection {
    pub(crate) fn new(id: u64, peer: SocketAddr, outbound: mpsc::Sender<RemotingCommand>) -> Self {
        Connection {
            inner: Arc::new(Inner {
                id,
                peer,
                outbound,
                closed: CancellationToken::new(),
                next_opaque: AtomicI32::new(0),
                waiting: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A process-unique id of this connection.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.inner.peer
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    /// Resolves when the connection closes.
    pub async fn closed(&self) {
        self.inner.closed.cancelled().await
    }

    pub(crate) fn mark_closed(&self) {
        self.inner.closed.cancel();
        // Dropping the senders ends every waiting invoke with ConnectionClosed.
        self.waiting().clear();
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<i32, oneshot::Sender<RemotingCommand>>> {
        // A poisoned map is still a valid map: the lock guards only inserts and removes.
        self.inner.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a request to the peer and waits up to `timeout` for its response (Apache's
    /// `Broker2Client.callClient`).
    pub async fn invoke(
        &self,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, NetError> {
        let addr = self.peer().to_string();
        let opaque = self.inner.next_opaque.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        request.opaque = opaque;
        let (tx, rx) = oneshot::channel();
        self.waiting().insert(opaque, tx);
        if self.is_closed() || self.inner.outbound.try_send(request).is_err() {
            self.waiting().remove(&opaque);
            return Err(NetError::ConnectionClosed { addr });
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(_)) => Err(NetError::ConnectionClosed { addr }),
            Err(_) => {
                self.waiting().remove(&opaque);
                Err(NetError::Timeout {
                    addr,
                    millis: timeout.as_millis(),
                })
            }
        }
    }

    /// Hands a response frame from the peer to the invoke waiting for it; false when none waits.
    pub(crate) fn complete(&self, response: RemotingCommand) -> bool {
        let waiter = self.waiting().remove(&response.opaque);
        waiter.is_some_and(|w| w.send(response).is_ok())
    }

    /// Pushes a one-way request to the peer. Returns false when the connection is gone or its
    /// queue is full (a notification is best effort, as in RocketMQ).
    pub fn send_oneway(&self, mut request: RemotingCommand) -> bool {
        request.set_oneway();
        request.opaque = self.inner.next_opaque.fetch_add(1, Ordering::Relaxed);
        !self.is_closed() && self.inner.outbound.try_send(request).is_ok()
    }
}
