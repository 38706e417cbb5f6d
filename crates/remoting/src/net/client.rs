//! [`RemotingClient`]: one connection per address, many requests in flight, responses matched by
//! `opaque` in any order.
//!
//! A connection is opened on first use and kept; when it breaks, every request waiting on it fails
//! at once with [`NetError::ConnectionClosed`] (not after its timeout), and the next call opens a
//! fresh connection. Requests the server pushes (NOTIFY_CONSUMER_IDS_CHANGED) go to the
//! [`ServerRequestHandler`], whose reply, if any, is written back unless the request is one-way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::NetError;
use crate::codec::{RemotingCodec, DEFAULT_MAX_FRAME};
use crate::command::{RemotingCommand, SerializeType};
use crate::header::{CommandHeader, RpcRequest};

/// Handles requests a server sends to this client (`broker address, request`).
pub type ServerRequestHandler = Arc<dyn Fn(&str, RemotingCommand) -> ServerReply + Send + Sync>;

/// What a [`ServerRequestHandler`] answers.
pub enum ServerReply {
    /// Nothing (a one-way notification).
    None,
    /// This reply, at once.
    Now(RemotingCommand),
    /// The reply this future yields, if any (work that waits, such as running a consumer's
    /// callback for CONSUME_MESSAGE_DIRECTLY); it runs on its own task.
    Later(futures::future::BoxFuture<'static, Option<RemotingCommand>>),
}

impl From<Option<RemotingCommand>> for ServerReply {
    fn from(reply: Option<RemotingCommand>) -> Self {
        reply.map_or(ServerReply::None, ServerReply::Now)
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Largest accepted frame.
    pub max_frame: usize,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Header serialization of outgoing requests.
    pub serialize_type: SerializeType,
    /// Language code put in requests.
    pub language: crate::LanguageCode,
    /// When set, every request is signed for a broker with plain ACL (`aclEnable`).
    pub credentials: Option<crate::acl::SessionCredentials>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            max_frame: DEFAULT_MAX_FRAME,
            connect_timeout: Duration::from_secs(3),
            serialize_type: SerializeType::Json,
            language: crate::LanguageCode::JAVA,
            credentials: None,
        }
    }
}

type Pending = Arc<Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>>;

/// One live connection to one address.
struct Channel {
    outbound: mpsc::Sender<RemotingCommand>,
    pending: Pending,
    closed: CancellationToken,
}

impl Channel {
    fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }
}

/// A multiplexing RocketMQ client, cheap to clone.
#[derive(Clone)]
pub struct RemotingClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    config: ClientConfig,
    // Held briefly to look up or insert a channel; connecting happens outside the lock.
    channels: Mutex<HashMap<String, Arc<Channel>>>,
    // Serializes connection attempts per process so two callers do not open two sockets.
    connecting: tokio::sync::Mutex<()>,
    next_opaque: AtomicI32,
    on_request: Mutex<Option<ServerRequestHandler>>,
    shutdown: CancellationToken,
}

impl Default for RemotingClient {
    fn default() -> Self {
        Self::new(ClientConfig::default())
    }
}

impl RemotingClient {
    /// A client with the given settings.
    pub fn new(config: ClientConfig) -> Self {
        RemotingClient {
            inner: Arc::new(ClientInner {
                config,
                channels: Mutex::new(HashMap::new()),
                connecting: tokio::sync::Mutex::new(()),
                next_opaque: AtomicI32::new(0),
                on_request: Mutex::new(None),
                shutdown: CancellationToken::new(),
            }),
        }
    }

    /// Installs the handler for requests pushed by servers.
    pub fn set_request_handler(&self, handler: ServerRequestHandler) {
        *self.inner.on_request.lock().expect("handler lock") = Some(handler);
    }

    fn prepare(&self, request: &mut RemotingCommand) {
        request.opaque = self.inner.next_opaque.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        request.serialize_type = self.inner.config.serialize_type;
        request.language = self.inner.config.language;
        if let Some(credentials) = &self.inner.config.credentials {
            credentials.sign(request);
        }
    }

    /// Sends a request and waits for its response.
    pub async fn invoke(
        &self,
        addr: &str,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, NetError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let timeout_err = || NetError::Timeout {
            addr: addr.to_string(),
            millis: timeout.as_millis(),
        };
        let channel = tokio::time::timeout_at(deadline, self.channel(addr))
            .await
            .map_err(|_| timeout_err())??;
        self.prepare(&mut request);
        let opaque = request.opaque;
        let (tx, rx) = oneshot::channel();
        channel.pending.lock().expect("pending lock").insert(opaque, tx);
        if channel.is_closed() || channel.outbound.send(request).await.is_err() {
            channel.pending.lock().expect("pending lock").remove(&opaque);
            return Err(NetError::ConnectionClosed {
                addr: addr.to_string(),
            });
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(_)) => Err(NetError::ConnectionClosed {
                addr: addr.to_string(),
            }),
            Err(_) => {
                channel.pending.lock().expect("pending lock").remove(&opaque);
                Err(timeout_err())
            }
        }
    }

    /// Sends a one-way request (no response expected).
    pub async fn invoke_oneway(&self, addr: &str, mut request: RemotingCommand) -> Result<(), NetError> {
        let channel = self.channel(addr).await?;
        self.prepare(&mut request);
        request.set_oneway();
        channel
            .outbound
            .send(request)
            .await
            .map_err(|_| NetError::ConnectionClosed {
                addr: addr.to_string(),
            })
    }

    /// A typed call: sends `header` (and `body`) with its request code, requires SUCCESS, and
    /// decodes the response header. Returns the header and the whole response (for its body).
    pub async fn call<R: RpcRequest>(
        &self,
        addr: &str,
        header: &R,
        body: Option<Bytes>,
        timeout: Duration,
    ) -> Result<(R::Response, RemotingCommand), NetError> {
        let mut request = RemotingCommand::request_with(R::CODE, header);
        if let Some(body) = body {
            request.body = body;
        }
        let response = self.invoke(addr, request, timeout).await?;
        if !response.is_success() {
            return Err(NetError::Remote {
                addr: addr.to_string(),
                code: response.code,
                remark: response.remark.clone().unwrap_or_default(),
            });
        }
        let decoded =
            R::Response::from_ext_fields(&response.ext_fields).map_err(|source| NetError::BadHeader {
                addr: addr.to_string(),
                source,
            })?;
        Ok((decoded, response))
    }

    /// Whether a live connection to `addr` exists.
    pub fn is_connected(&self, addr: &str) -> bool {
        self.inner
            .channels
            .lock()
            .expect("channels lock")
            .get(addr)
            .is_some_and(|c| !c.is_closed())
    }

    /// Closes the connection to `addr`, failing its pending requests.
    pub fn close_connection(&self, addr: &str) {
        if let Some(channel) = self.inner.channels.lock().expect("channels lock").remove(addr) {
            channel.closed.cancel();
        }
    }

    /// Closes every connection.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
        let channels: Vec<_> = self
            .inner
            .channels
            .lock()
            .expect("channels lock")
            .drain()
            .collect();
        for (_, channel) in channels {
            channel.closed.cancel();
        }
    }

    fn live_channel(&self, addr: &str) -> Option<Arc<Channel>> {
        let channels = self.inner.channels.lock().expect("channels lock");
        channels.get(addr).filter(|c| !c.is_closed()).cloned()
    }

    async fn channel(&self, addr: &str) -> Result<Arc<Channel>, NetError> {
        if let Some(channel) = self.live_channel(addr) {
            return Ok(channel);
        }
        let _guard = self.inner.connecting.lock().await;
        if let Some(channel) = self.live_channel(addr) {
            return Ok(channel);
        }
        let connect = TcpStream::connect(addr);
        let stream = match tokio::time::timeout(self.inner.config.connect_timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => {
                return Err(NetError::Connect {
                    addr: addr.to_string(),
                    source,
                })
            }
            Err(_) => {
                let source = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out");
                return Err(NetError::Connect {
                    addr: addr.to_string(),
                    source,
                });
            }
        };
        let _ = stream.set_nodelay(true);
        let channel = self.spawn_channel(addr, stream);
        self.inner
            .channels
            .lock()
            .expect("channels lock")
            .insert(addr.to_string(), channel.clone());
        debug!(addr, "connected");
        Ok(channel)
    }

    fn spawn_channel(&self, addr: &str, stream: TcpStream) -> Arc<Channel> {
        let (read_half, write_half) = stream.into_split();
        let codec = RemotingCodec::new(self.inner.config.max_frame);
        let (tx, mut rx) = mpsc::channel::<RemotingCommand>(4096);
        let closed = self.inner.shutdown.child_token();
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let channel = Arc::new(Channel {
            outbound: tx.clone(),
            pending: pending.clone(),
            closed: closed.clone(),
        });

        // Writer: batch whatever is queued into one flush.
        let writer_closed = closed.clone();
        let writer_addr = addr.to_string();
        tokio::spawn(async move {
            let mut writer = FramedWrite::new(write_half, codec);
            loop {
                let first = tokio::select! {
                    _ = writer_closed.cancelled() => break,
                    next = rx.recv() => match next { Some(cmd) => cmd, None => break },
                };
                let mut result = writer.feed(first).await;
                while result.is_ok() {
                    match rx.try_recv() {
                        Ok(more) => result = writer.feed(more).await,
                        Err(_) => break,
                    }
                }
                if result.is_ok() {
                    result = writer.flush().await;
                }
                if let Err(e) = result {
                    warn!(addr = %writer_addr, error = %e, "write failed; closing connection");
                    break;
                }
            }
            writer_closed.cancel();
        });

        // Reader: complete pending calls, hand server pushes to the handler.
        let reader_addr = addr.to_string();
        let handler = self.inner.on_request.lock().expect("handler lock").clone();
        tokio::spawn(async move {
            let mut reader = FramedRead::new(read_half, codec);
            loop {
                let frame = tokio::select! {
                    _ = closed.cancelled() => break,
                    frame = reader.next() => frame,
                };
                let cmd = match frame {
                    Some(Ok(cmd)) => cmd,
                    Some(Err(e)) => {
                        warn!(addr = %reader_addr, error = %e, "bad frame from server; closing connection");
                        break;
                    }
                    None => break,
                };
                if cmd.is_response() {
                    let waiter = pending.lock().expect("pending lock").remove(&cmd.opaque);
                    match waiter {
                        Some(waiter) => {
                            let _ = waiter.send(cmd);
                        }
                        None => {
                            debug!(addr = %reader_addr, opaque = cmd.opaque, "response for unknown opaque dropped")
                        }
                    }
                } else if let Some(handler) = &handler {
                    let oneway = cmd.is_oneway();
                    let template = cmd.reply(crate::ResponseCode::SUCCESS, None);
                    let answer = move |mut reply: RemotingCommand| {
                        reply.opaque = template.opaque;
                        reply.serialize_type = template.serialize_type;
                        reply.flag |= crate::command::FLAG_RESPONSE;
                        reply
                    };
                    match handler(&reader_addr, cmd) {
                        ServerReply::None => {}
                        ServerReply::Now(reply) => {
                            if !oneway {
                                let _ = tx.try_send(answer(reply));
                            }
                        }
                        ServerReply::Later(work) => {
                            let tx = tx.clone();
                            tokio::spawn(async move {
                                if let (Some(reply), false) = (work.await, oneway) {
                                    let _ = tx.send(answer(reply)).await;
                                }
                            });
                        }
                    }
                }
            }
            closed.cancel();
            // Dropping the senders wakes every waiter with ConnectionClosed at once.
            pending.lock().expect("pending lock").clear();
            debug!(addr = %reader_addr, "connection closed");
        });
        channel
    }
}
