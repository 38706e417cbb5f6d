//! Client and server over real sockets on port 0: concurrency with out-of-order replies, one-way
//! requests, timeouts, server pushes, and hostile peers (a peer closing mid-frame, an oversized
//! frame, garbage) that must cost only their own connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::net::{serve, Connection, HandlerError, RemotingClient, RequestHandler, ServerConfig};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Echoes the body; a `delay` extField delays the reply so replies complete out of order.
#[derive(Default)]
struct EchoHandler {
    oneways: AtomicUsize,
    closed: AtomicUsize,
    held: AtomicUsize,
}

impl RequestHandler for EchoHandler {
    async fn handle(
        &self,
        conn: &Connection,
        req: RemotingCommand,
    ) -> Result<Option<RemotingCommand>, HandlerError> {
        match req.code {
            1 => {
                let delay: u64 = req.ext("delay").and_then(|d| d.parse().ok()).unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(delay)).await;
                Ok(Some(
                    req.reply(ResponseCode::SUCCESS, None).with_body(req.body.clone()),
                ))
            }
            2 => {
                self.oneways.fetch_add(1, Ordering::SeqCst);
                Ok(None)
            }
            3 => Err(HandlerError::Other("boom".into())),
            4 => {
                // Push a request back to the caller on the same connection.
                conn.send_oneway(
                    RemotingCommand::request(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED)
                        .with_ext("consumerGroup", "g"),
                );
                Ok(Some(req.reply(ResponseCode::SUCCESS, None)))
            }
            5 => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(None)
            }
            6 => {
                // Holds its request (body included) like a suspended pull.
                self.held.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(Some(
                    req.reply(ResponseCode::SUCCESS, None).with_body(req.body.clone()),
                ))
            }
            other => Err(HandlerError::NotSupported(other)),
        }
    }

    fn on_connection_closed(&self, _conn: &Connection) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

async fn start(config: ServerConfig) -> (String, Arc<EchoHandler>, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handler = Arc::new(EchoHandler::default());
    let token = CancellationToken::new();
    tokio::spawn(serve(listener, handler.clone(), config, token.clone()));
    (addr, handler, token)
}

fn echo(i: usize, delay_ms: u64) -> RemotingCommand {
    RemotingCommand::raw_request(1)
        .with_ext("delay", delay_ms)
        .with_body(format!("msg-{i}").into_bytes())
}

async fn wait_until(mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn thousand_concurrent_calls_on_one_connection_answered_out_of_order() {
    let (addr, _, _token) = start(ServerConfig::default()).await;
    let client = RemotingClient::default();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut calls = Vec::new();
    for i in 0..1000usize {
        let client = client.clone();
        let addr = addr.clone();
        let order = order.clone();
        // Earlier requests wait longer, so they complete after later ones.
        let delay = ((1000 - i) % 50) as u64;
        calls.push(tokio::spawn(async move {
            let resp = client
                .invoke(&addr, echo(i, delay), Duration::from_secs(20))
                .await
                .unwrap();
            assert!(resp.is_success());
            assert_eq!(resp.body, format!("msg-{i}").into_bytes());
            order.lock().unwrap().push(i);
        }));
    }
    for call in calls {
        call.await.unwrap();
    }
    let order = order.lock().unwrap();
    assert_eq!(order.len(), 1000);
    assert!(
        order.windows(2).any(|w| w[0] > w[1]),
        "replies should complete out of request order"
    );
}

#[tokio::test]
async fn oneway_errors_unknown_codes_and_pushes() {
    let (addr, handler, _token) = start(ServerConfig::default()).await;
    let client = RemotingClient::default();
    let pushes = Arc::new(AtomicUsize::new(0));
    let seen = pushes.clone();
    client.set_request_handler(Arc::new(move |_addr, cmd| {
        assert_eq!(cmd.code, RequestCode::NOTIFY_CONSUMER_IDS_CHANGED.code());
        assert!(cmd.is_oneway());
        seen.fetch_add(1, Ordering::SeqCst);
        rmq_remoting::net::ServerReply::None
    }));
    for _ in 0..5 {
        client
            .invoke_oneway(&addr, RemotingCommand::raw_request(2))
            .await
            .unwrap();
    }
    wait_until(|| handler.oneways.load(Ordering::SeqCst) == 5).await;

    let failed = client
        .invoke(&addr, RemotingCommand::raw_request(3), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(failed.code, ResponseCode::SYSTEM_ERROR.code());
    assert_eq!(failed.remark.as_deref(), Some("boom"));

    let unknown = client
        .invoke(&addr, RemotingCommand::raw_request(9999), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(unknown.code, ResponseCode::REQUEST_CODE_NOT_SUPPORTED.code());
    assert!(unknown.remark.unwrap().contains("9999 not supported"));

    client
        .invoke(&addr, RemotingCommand::raw_request(4), Duration::from_secs(5))
        .await
        .unwrap();
    wait_until(|| pushes.load(Ordering::SeqCst) == 1).await;
}

#[tokio::test]
async fn timeout_then_dead_connection_fails_fast_and_reconnects() {
    let (addr, _, token) = start(ServerConfig::default()).await;
    let client = RemotingClient::default();
    let slow = client
        .invoke(&addr, RemotingCommand::raw_request(5), Duration::from_millis(200))
        .await;
    assert!(
        matches!(slow, Err(rmq_remoting::net::NetError::Timeout { .. })),
        "{slow:?}"
    );

    // A call waiting on a connection that breaks fails at once, not after its 30 s timeout.
    let waiting = {
        let client = client.clone();
        let addr = addr.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let r = client
                .invoke(&addr, RemotingCommand::raw_request(5), Duration::from_secs(30))
                .await;
            (r, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.close_connection(&addr);
    let (result, elapsed) = waiting.await.unwrap();
    assert!(
        matches!(result, Err(rmq_remoting::net::NetError::ConnectionClosed { .. })),
        "{result:?}"
    );
    assert!(elapsed < Duration::from_secs(10));

    // The next call reconnects by itself.
    let ok = client
        .invoke(&addr, echo(1, 0), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(ok.is_success());

    // With the server gone, calls fail with a connect error or a closed connection, quickly.
    token.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let gone = client.invoke(&addr, echo(2, 0), Duration::from_secs(30)).await;
    assert!(gone.is_err());
}

#[tokio::test]
async fn hostile_peers_cost_only_their_connection() {
    let config = ServerConfig {
        max_frame: 64 * 1024,
        ..ServerConfig::default()
    };
    let (addr, handler, _token) = start(config).await;
    let client = RemotingClient::default();
    assert!(client
        .invoke(&addr, echo(0, 0), Duration::from_secs(5))
        .await
        .unwrap()
        .is_success());

    // A peer that closes mid-frame.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(&[0, 0, 0, 100, 0, 0, 0, 10, b'{']).await.unwrap();
    drop(s);
    // An oversized frame: 1 GiB announced.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(&(1u32 << 30).to_be_bytes()).await.unwrap();
    s.write_all(&[0u8; 64]).await.unwrap();
    // Garbage header.
    let mut g = TcpStream::connect(&addr).await.unwrap();
    g.write_all(&[0, 0, 0, 8, 0, 0, 0, 4, b'n', b'o', b'p', b'e'])
        .await
        .unwrap();
    wait_until(|| handler.closed.load(Ordering::SeqCst) >= 3).await;
    // The server closed the oversized one: reading yields EOF or a reset.
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut s, &mut buf),
    )
    .await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "oversized-frame connection should be closed: {read:?}"
    );

    // The good client, on its own connection, carries on.
    for i in 0..10 {
        assert!(client
            .invoke(&addr, echo(i, 0), Duration::from_secs(5))
            .await
            .unwrap()
            .is_success());
    }
}

#[tokio::test]
async fn connection_limit_closes_extra_connections() {
    let config = ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    };
    let (addr, _, _token) = start(config).await;
    let first = RemotingClient::default();
    assert!(first
        .invoke(&addr, echo(0, 0), Duration::from_secs(5))
        .await
        .unwrap()
        .is_success());
    let second = RemotingClient::default();
    assert!(second
        .invoke(&addr, echo(1, 0), Duration::from_secs(2))
        .await
        .is_err());
    // The first connection is unaffected.
    assert!(first
        .invoke(&addr, echo(2, 0), Duration::from_secs(5))
        .await
        .unwrap()
        .is_success());
}

#[tokio::test]
async fn requests_held_by_handlers_are_bounded_in_bytes() {
    let (addr, handler, _token) = start(ServerConfig::default()).await;
    // 100 frames of 1 MiB, each held by its handler: far under the in-flight count limit (1024),
    // but 100 MiB in total. The server must stop taking frames at its 64 MiB byte budget.
    let mut frames = bytes::BytesMut::new();
    for _ in 0..100 {
        let req = RemotingCommand::raw_request(6).with_body(vec![7u8; 1 << 20]);
        rmq_remoting::codec::encode_frame(&req, &mut frames, rmq_remoting::DEFAULT_MAX_FRAME).unwrap();
    }
    let mut s = TcpStream::connect(&addr).await.unwrap();
    // The writer blocks once the server stops reading and the socket buffers are full.
    let writer = tokio::spawn(async move {
        let _ = s.write_all(&frames).await;
        s
    });
    wait_until(|| handler.held.load(Ordering::SeqCst) >= 60).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = handler.held.load(Ordering::SeqCst);
    assert!(
        (60..=64).contains(&held),
        "{held} requests of 1 MiB held at once; the budget is 64 MiB"
    );
    assert!(!writer.is_finished(), "the server should push back on the writer");
    writer.abort();
}

/// Reads until EOF or a reset; panics if the connection stays open for 10 s.
async fn expect_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::io::AsyncReadExt::read(s, &mut buf),
        )
        .await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => continue,
            Err(_) => panic!("connection still open after 10 s"),
        }
    }
}

/// Past the server's budget for buffered request bytes, the peer stalled longest is closed
/// and a peer that keeps completing frames is served on.
#[tokio::test]
async fn buffered_request_bytes_past_the_budget_close_the_slowest_peer() {
    let config = ServerConfig {
        max_buffered_request_bytes: 1024 * 1024,
        ..ServerConfig::default()
    };
    let (addr, handler, _token) = start(config).await;
    // A slow peer: announces a 4 MiB frame and sends 700 KB of it.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let mut partial = (4u32 << 20).to_be_bytes().to_vec();
    partial.extend_from_slice(&[0u8; 700 * 1024]);
    slow.write_all(&partial).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        handler.closed.load(Ordering::SeqCst),
        0,
        "under the budget nobody is closed"
    );
    // A second peer does the same: together they pass 1 MiB, and the older one goes.
    let mut newer = TcpStream::connect(&addr).await.unwrap();
    newer.write_all(&partial).await.unwrap();
    expect_closed(&mut slow).await;
    assert_eq!(handler.closed.load(Ordering::SeqCst), 1);
    // Once the budget has room again a client is answered, and the newer peer is still open.
    let client = RemotingClient::default();
    assert!(client
        .invoke(&addr, echo(1, 0), Duration::from_secs(5))
        .await
        .unwrap()
        .is_success());
    assert_eq!(handler.closed.load(Ordering::SeqCst), 1);
    drop(newer);
    wait_until(|| handler.closed.load(Ordering::SeqCst) == 2).await;
}

/// A good frame followed by a bad one in the same write: the good one is answered before the
/// connection is closed.
#[tokio::test]
async fn a_valid_frame_is_answered_before_a_bad_frame_closes_the_connection() {
    let (addr, _, _token) = start(ServerConfig::default()).await;
    let mut request = echo(7, 20);
    request.opaque = 4242;
    let mut bytes = rmq_remoting::codec::encode_command(&request).unwrap();
    bytes.extend_from_slice(&[0, 0, 0, 8, 9, 0, 0, 0, 1, 2, 3, 4]); // serialize type 9
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(&bytes).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut s, &mut got),
    )
    .await
    .expect("closed within 10 s")
    .expect("read");
    let mut buf = bytes::BytesMut::from(&got[..]);
    let reply = tokio_util::codec::Decoder::decode(&mut rmq_remoting::RemotingCodec::default(), &mut buf)
        .unwrap()
        .expect("a reply before the close");
    assert_eq!(reply.opaque, 4242);
    assert_eq!(&reply.body[..], b"msg-7");
}
