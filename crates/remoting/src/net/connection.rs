//! [`Connection`]: the server's handle on one accepted connection.
//!
//! Handlers get it with every request: it names the peer, lets the server push requests to the
//! peer (NOTIFY_CONSUMER_IDS_CHANGED), and tells whether the peer is still there. Pushes go through
//! a small bounded queue drained by the connection's task; when it is full a push is dropped
//! rather than growing memory.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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
    }

    /// Pushes a one-way request to the peer. Returns false when the connection is gone or its
    /// queue is full (a notification is best effort, as in RocketMQ).
    pub fn send_oneway(&self, mut request: RemotingCommand) -> bool {
        request.set_oneway();
        request.opaque = self.inner.next_opaque.fetch_add(1, Ordering::Relaxed);
        !self.is_closed() && self.inner.outbound.try_send(request).is_ok()
    }
}
