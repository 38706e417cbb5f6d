//! The control socket: how `rmq-cluster status|kill|stop|start|restart|add-group` reach the
//! supervisor that `rmq-cluster start` runs.
//!
//! The supervisor listens on the Unix socket `<dir>/control.sock`. A client connects, writes one
//! JSON [`Request`] on one line and reads one JSON [`Reply`] on one line; then both close. The
//! listener hands each request to the supervisor's loop over a channel, so requests are carried out
//! one at a time. A socket file nobody listens on (a supervisor that was killed) reads as "no
//! cluster running".

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

use crate::status::NodeStatus;

/// File name of the socket inside the cluster directory.
pub const SOCKET_FILE: &str = "control.sock";

/// Longest request line accepted.
const MAX_LINE: u64 = 64 * 1024;

/// What a client asks of the supervisor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// Every node's state.
    Status,
    /// SIGKILL a node.
    Kill {
        /// Node name.
        node: String,
    },
    /// SIGTERM a node and wait for it to exit.
    Stop {
        /// Node name.
        node: String,
    },
    /// Start a node that is down and wait until it is ready.
    Start {
        /// Node name.
        node: String,
    },
    /// Stop (SIGTERM) then start a node.
    Restart {
        /// Node name.
        node: String,
    },
    /// A new group: a master and `slaves` slaves, started and registered.
    AddGroup {
        /// Slaves of the new group.
        slaves: u16,
    },
    /// Stop the whole cluster and the supervisor.
    StopCluster,
}

/// The supervisor's answer.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Reply {
    /// Whether the request was carried out.
    pub ok: bool,
    /// What happened, for a person.
    pub text: String,
    /// Every node after the request (for `status` and the drill's address lookups).
    pub nodes: Vec<NodeStatus>,
    /// Names of the nodes a request created (`add-group`).
    pub added: Vec<String>,
}

impl Reply {
    /// A failure with a message that says what to do.
    pub fn error(text: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            text: text.into(),
            ..Default::default()
        }
    }
}

/// One request from the socket, with the way back to its client.
pub type Job = (Request, oneshot::Sender<Reply>);

/// `<dir>/control.sock`.
pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join(SOCKET_FILE)
}

/// Binds the socket, removing a stale one left by a supervisor that did not exit cleanly.
/// Fails if another supervisor is answering on it.
pub async fn bind(dir: &Path) -> anyhow::Result<UnixListener> {
    let path = socket_path(dir);
    if path.exists() {
        if UnixStream::connect(&path).await.is_ok() {
            bail!(
                "a cluster is already running under {}; use `rmq-cluster status --dir {}` or stop it \
                 with `rmq-cluster stop --dir {}`",
                dir.display(),
                dir.display(),
                dir.display()
            );
        }
        std::fs::remove_file(&path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))
}

/// Accepts clients; each connection is served on its own task on `tracker`, so the supervisor can
/// wait for its last replies (the answer to `stop`) to be written before it exits.
pub async fn serve(listener: UnixListener, jobs: mpsc::Sender<Job>, tracker: TaskTracker) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let jobs = jobs.clone();
        tracker.spawn(async move {
            if let Err(e) = serve_one(stream, jobs).await {
                tracing::warn!("control client: {e:#}");
            }
        });
    }
}

async fn serve_one(stream: UnixStream, jobs: mpsc::Sender<Job>) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_LINE));
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
        .await
        .context("no request within 10 s")??;
    let reply = match serde_json::from_str::<Request>(line.trim()) {
        Ok(request) => {
            let (tx, rx) = oneshot::channel();
            if jobs.send((request, tx)).await.is_err() {
                Reply::error("the cluster is shutting down")
            } else {
                rx.await
                    .unwrap_or_else(|_| Reply::error("the cluster is shutting down"))
            }
        }
        Err(e) => Reply::error(format!("bad request ({e}); use the rmq-cluster subcommands")),
    };
    let mut text = serde_json::to_string(&reply)?;
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    write.shutdown().await?;
    Ok(())
}

/// Sends `request` to the supervisor under `dir` and waits up to `timeout` for its reply.
pub async fn call(dir: &Path, request: &Request, timeout: Duration) -> anyhow::Result<Reply> {
    let path = socket_path(dir);
    let not_running = || {
        format!(
            "no cluster running under {}; start one with `rmq-cluster start --dir {}`",
            dir.display(),
            dir.display()
        )
    };
    if !path.exists() {
        bail!(not_running());
    }
    let stream = UnixStream::connect(&path).await.with_context(not_running)?;
    let (read, mut write) = stream.into_split();
    let mut text = serde_json::to_string(request)?;
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    let mut line = String::new();
    tokio::time::timeout(timeout, BufReader::new(read).read_line(&mut line))
        .await
        .with_context(|| {
            format!(
                "the supervisor under {} did not answer within {timeout:?}",
                dir.display()
            )
        })??;
    if line.trim().is_empty() {
        bail!(
            "the supervisor under {} closed the connection without answering",
            dir.display()
        );
    }
    serde_json::from_str(line.trim()).context("reading the supervisor's reply")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_as_one_json_line() {
        for r in [
            Request::Status,
            Request::Kill {
                node: "broker-a-0".into(),
            },
            Request::AddGroup { slaves: 2 },
            Request::StopCluster,
        ] {
            let text = serde_json::to_string(&r).unwrap();
            assert!(!text.contains('\n'));
            assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        }
        let kill = serde_json::to_string(&Request::Kill { node: "x".into() }).unwrap();
        assert_eq!(kill, r#"{"cmd":"kill","node":"x"}"#);
    }

    #[tokio::test]
    async fn a_missing_cluster_says_how_to_start_one() {
        let dir = tempfile::tempdir().unwrap();
        let err = call(dir.path(), &Request::Status, Duration::from_secs(1))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("no cluster running under"), "{err}");
        assert!(err.contains("rmq-cluster start --dir"), "{err}");
    }

    #[tokio::test]
    async fn a_request_reaches_the_loop_and_its_reply_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let listener = bind(dir.path()).await.unwrap();
        let (tx, mut rx) = mpsc::channel::<Job>(4);
        tokio::spawn(serve(listener, tx, TaskTracker::new()));
        tokio::spawn(async move {
            while let Some((req, back)) = rx.recv().await {
                let _ = back.send(Reply {
                    ok: true,
                    text: format!("{req:?}"),
                    ..Default::default()
                });
            }
        });
        let reply = call(
            dir.path(),
            &Request::Stop { node: "n".into() },
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert!(reply.ok);
        assert!(reply.text.contains("Stop"), "{}", reply.text);
        // A second supervisor on the same directory is refused.
        let err = bind(dir.path()).await.unwrap_err().to_string();
        assert!(err.contains("already running"), "{err}");
    }
}
