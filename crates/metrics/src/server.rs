//! The `/metrics` HTTP endpoint: [`bind`] the configured address (failing with a message that
//! names the key to change), then [`serve`] until cancelled.
//!
//! Each scrape runs the server's render function on a blocking thread (it may stat files and
//! read the store), so a scrape never stalls the runtime that answers sends and pulls. Only
//! `GET /metrics` (and `/` with a pointer to it) is served; anything else is 404.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;

/// The page a server renders on each scrape.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why the metrics endpoint cannot start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The address cannot be bound (port in use, host not local).
    #[error(
        "cannot serve Prometheus metrics on {addr}: {source}; set metricsPromExporterPort \
         (and metricsPromExporterHost) to a free local address, or metricsExporterType=DISABLE"
    )]
    Bind {
        /// `host:port` tried.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Binds `host:port` (`host` an IP address or name) with SO_REUSEADDR, so a restarted server
/// gets its port back while old scrape connections sit in TIME_WAIT. Call inside a tokio
/// runtime.
pub fn bind(host: &str, port: u16) -> Result<TcpListener, MetricsError> {
    let addr = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let fail = |source| MetricsError::Bind {
        addr: addr.clone(),
        source,
    };
    let sock_addr = addr.to_socket_addrs().map_err(fail)?.next().ok_or_else(|| {
        fail(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no address for this host",
        ))
    })?;
    let socket = if sock_addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(fail)?;
    socket.set_reuseaddr(true).map_err(fail)?;
    socket.bind(sock_addr).map_err(fail)?;
    socket.listen(128).map_err(fail)
}

async fn scrape(render: Render) -> axum::response::Response {
    match tokio::task::spawn_blocking(move || render()).await {
        Ok(page) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], page).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "metrics page could not be rendered\n",
            )
                .into_response()
        }
    }
}

/// Serves `GET /metrics` on `listener` until `cancel`.
pub async fn serve(listener: TcpListener, render: Render, cancel: CancellationToken) {
    let local: Option<SocketAddr> = listener.local_addr().ok();
    let app = Router::new()
        .route("/metrics", get(move || scrape(render.clone())))
        .route(
            "/",
            get(|| async { "minirmq: Prometheus metrics are at /metrics\n" }),
        );
    tracing::info!(addr = ?local, "Prometheus metrics at http://<addr>/metrics");
    let shutdown = async move { cancel.cancelled().await };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        tracing::error!(error = %e, "metrics HTTP server failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get_path(addr: SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_the_page_and_refuses_a_taken_port() {
        let listener = bind("127.0.0.1", 0).unwrap();
        let addr = listener.local_addr().unwrap();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(serve(
            listener,
            Arc::new(|| "x_total 1\n".to_string()),
            cancel.clone(),
        ));
        let page = get_path(addr, "/metrics").await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains(CONTENT_TYPE));
        assert!(page.ends_with("x_total 1\n"));
        assert!(get_path(addr, "/nope").await.starts_with("HTTP/1.1 404"));
        let err = bind("127.0.0.1", addr.port()).unwrap_err().to_string();
        assert!(err.contains("metricsPromExporterPort"), "{err}");
        cancel.cancel();
        task.await.unwrap();
    }
}
