//! One slave's connection on the master (RocketMQ's `HAConnection`): a reader of the slave's
//! 8-byte reports and a writer that streams commit-log bytes from the offset the slave asked for.
//!
//! Invariants: the writer sends nothing before the first report; transfers are contiguous, each
//! starting where the previous one ended; a report beyond the master's max offset (the slave has
//! data the master lacks) is answered with one heartbeat carrying the master's max offset, so the
//! slave sees the mismatch, and the connection closes. Either half ending ends both.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::protocol::{encode_header, ProtocolError, ReportDecoder, HEADER_SIZE};
use super::shared::Shared;
use super::LogError;

/// How far behind the log's end a transfer may start and still be read on the connection's
/// task: bytes written this recently are in the page cache (the broker just wrote them), so the
/// read is a copy. Further back a read may wait for the disk and goes to the blocking pool.
const HOT_TAIL: u64 = 64 << 20;

/// Why a slave connection ended.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    #[error("slave closed the connection")]
    Closed,
    #[error("no report from the slave for {0:?}")]
    Idle(Duration),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("slave reports offset {reported} beyond the master's max offset {master_max}: it holds data this master does not have")]
    SlaveAhead { reported: u64, master_max: u64 },
    #[error("slave needs offset {wanted} but the master's oldest retained byte is {min}")]
    DataGone { wanted: u64, min: u64 },
    #[error("reading the commit log failed: {0}")]
    Log(#[from] LogError),
}

/// Runs the connection until the slave goes away, an error, or `cancel`.
pub(crate) async fn run(
    shared: &Shared,
    stream: TcpStream,
    id: u64,
    peer: SocketAddr,
    cancel: CancellationToken,
) {
    let (mut rd, mut wr) = stream.into_split();
    let (first_tx, first_rx) = watch::channel(None);
    let result = tokio::select! {
        _ = cancel.cancelled() => return,
        r = read_reports(shared, &mut rd, id, first_tx) => r,
        r = write_transfers(shared, &mut wr, first_rx) => r,
    };
    match result {
        Err(e @ ConnError::SlaveAhead { master_max, .. }) => {
            error!(slave = %peer, error = %e, "replication to this slave refused");
            let mut out = BytesMut::new();
            encode_header(master_max, 0, &mut out);
            let _ = tokio::time::timeout(Duration::from_secs(1), wr.write_all(&out)).await;
        }
        Err(e @ (ConnError::DataGone { .. } | ConnError::Log(_))) => {
            error!(slave = %peer, error = %e, "cannot replicate to this slave");
        }
        Err(e) => warn!(slave = %peer, error = %e, "slave disconnected"),
        Ok(()) => info!(slave = %peer, "slave disconnected"),
    }
}

async fn read_reports(
    shared: &Shared,
    rd: &mut OwnedReadHalf,
    id: u64,
    first: watch::Sender<Option<u64>>,
) -> Result<(), ConnError> {
    let idle = shared.config.housekeeping_interval;
    let mut dec = ReportDecoder::new();
    loop {
        let n = tokio::time::timeout(idle, rd.read_buf(dec.buffer()))
            .await
            .map_err(|_| ConnError::Idle(idle))??;
        if n == 0 {
            return Err(ConnError::Closed);
        }
        let Some(reported) = dec.latest()? else {
            continue;
        };
        let master_max = shared.log.end_offset();
        if reported > master_max {
            return Err(ConnError::SlaveAhead { reported, master_max });
        }
        shared.on_report(id, reported);
        if first.borrow().is_none() {
            first.send_replace(Some(reported));
        }
    }
}

async fn write_transfers(
    shared: &Shared,
    wr: &mut OwnedWriteHalf,
    mut first: watch::Receiver<Option<u64>>,
) -> Result<(), ConnError> {
    let reported = first.wait_for(Option::is_some).await.map(|v| v.unwrap_or(0));
    let Ok(reported) = reported else {
        // The reader ended; the select in `run` reports why.
        return std::future::pending().await;
    };
    let log = shared.log.clone();
    let mut next = if reported == 0 {
        log.start_offset()
    } else {
        reported
    };
    let batch = shared.config.transfer_batch_size;
    let mut last_write = Instant::now();
    let mut out = BytesMut::with_capacity(HEADER_SIZE + batch);
    loop {
        let notified = shared.new_data.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let max = log.end_offset();
        if next < max {
            let min = log.start_offset();
            if next < min {
                return Err(ConnError::DataGone { wanted: next, min });
            }
            let len = (max - next).min(batch as u64) as usize;
            let chunk = if max - next <= HOT_TAIL {
                // Just written, so in the page cache: a copy of at most 32 KiB, done here.
                log.read(next, len)?
            } else {
                // A slave catching up from far behind may read from disk: off the runtime.
                let reader = log.clone();
                tokio::task::spawn_blocking(move || reader.read(next, len))
                    .await
                    .map_err(|e| LogError::Store(format!("read task failed: {e}")))??
            };
            // An empty read (a file being rolled) is retried after the poll interval.
            if !chunk.is_empty() {
                out.clear();
                encode_header(next, chunk.len() as u32, &mut out);
                out.extend_from_slice(&chunk);
                wr.write_all(&out).await?;
                next += chunk.len() as u64;
                last_write = Instant::now();
                continue;
            }
        }
        if last_write.elapsed() >= shared.config.heartbeat_interval {
            out.clear();
            encode_header(next, 0, &mut out);
            wr.write_all(&out).await?;
            last_write = Instant::now();
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep(shared.config.poll_interval) => {}
        }
    }
}
