//! The slave side (RocketMQ's `HAClient`): connect to the master's HA port with backoff, report
//! the local max offset, append every transfer at exactly its physical offset, report again after
//! each batch and every heartbeat interval, and reconnect after any break, resuming from the
//! local offset. The loop has the fluvio follower shape: connect, then `select!` over cancel, a
//! master-address change, the report timer, the idle timer and socket data.
//!
//! Invariants: a transfer is applied only when its offset equals the local max offset (or the
//! local log is empty); anything else is a gap or a divergence, after which the client stops for
//! good with [`SlaveState::Stopped`] and an error log, leaving the local log untouched. The
//! master address comes from configuration (`haMasterAddress`) or from the nameserver's answer
//! to each registration, via [`HaClient::set_master`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use super::protocol::{encode_report, Transfer, TransferDecoder};
use super::{HaConfig, LogError, ReplicaLog};

/// What the slave's replication is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlaveState {
    /// No master HA address known yet (waiting for a registration answer).
    NoMaster,
    /// Connecting, or waiting to reconnect, to this master.
    Connecting(String),
    /// Streaming from this master.
    Connected(String),
    /// The local data does not line up with the master's; replication stopped and needs an
    /// operator (the reason says what was seen).
    Stopped(String),
    /// The client was cancelled.
    ShutDown,
}

struct ClientShared {
    master: watch::Sender<Option<String>>,
    // Guards only the state value; replaced whole.
    state: Mutex<SlaveState>,
    /// The end of the last transfer or heartbeat offset seen from the master.
    master_offset_seen: AtomicU64,
}

impl ClientShared {
    fn set_state(&self, state: SlaveState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }
}

/// Handle to the slave's replication client; cheap to clone.
#[derive(Clone)]
pub struct HaClient {
    shared: Arc<ClientShared>,
    log: Arc<dyn ReplicaLog>,
}

impl HaClient {
    /// Starts replicating into `log` from `master` (host:port of the master's HA port), or from
    /// the address later given to [`HaClient::set_master`].
    pub fn start(
        log: Arc<dyn ReplicaLog>,
        config: HaConfig,
        master: Option<String>,
        cancel: CancellationToken,
        tracker: &TaskTracker,
    ) -> HaClient {
        let initial = if master.is_some() {
            SlaveState::Connecting(master.clone().unwrap_or_default())
        } else {
            SlaveState::NoMaster
        };
        let shared = Arc::new(ClientShared {
            master: watch::Sender::new(master),
            state: Mutex::new(initial),
            master_offset_seen: AtomicU64::new(0),
        });
        let client = HaClient { shared, log };
        tracker.spawn(run(client.clone(), config, cancel));
        client
    }

    /// Sets the master's HA address (from a registration answer); a change drops the current
    /// connection and connects to the new address.
    pub fn set_master(&self, addr: Option<String>) {
        let addr = addr.filter(|a| !a.is_empty());
        self.shared.master.send_if_modified(|cur| {
            if *cur == addr {
                return false;
            }
            info!(master = ?addr, "HA master address changed");
            *cur = addr;
            true
        });
    }

    /// The master HA address in use.
    pub fn master(&self) -> Option<String> {
        self.shared.master.borrow().clone()
    }

    /// What replication is doing.
    pub fn state(&self) -> SlaveState {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The local commit log's max offset.
    pub fn local_offset(&self) -> u64 {
        self.log.end_offset()
    }

    /// The highest master offset this slave has heard of.
    pub fn master_offset_seen(&self) -> u64 {
        self.shared.master_offset_seen.load(Ordering::Relaxed)
    }

    /// Key/value pairs for GET_BROKER_RUNTIME_INFO: `haMasterAddress`, `haSlaveState`,
    /// `haSlaveOffset`, `haMasterOffsetSeen`, `haSlaveLagBytes`.
    pub fn runtime_info(&self) -> Vec<(String, String)> {
        let local = self.local_offset();
        let seen = self.master_offset_seen();
        let state = match self.state() {
            SlaveState::NoMaster => "NO_MASTER".to_string(),
            SlaveState::Connecting(_) => "CONNECTING".to_string(),
            SlaveState::Connected(_) => "CONNECTED".to_string(),
            SlaveState::Stopped(reason) => format!("STOPPED: {reason}"),
            SlaveState::ShutDown => "SHUT_DOWN".to_string(),
        };
        vec![
            ("haMasterAddress".to_string(), self.master().unwrap_or_default()),
            ("haSlaveState".to_string(), state),
            ("haSlaveOffset".to_string(), local.to_string()),
            ("haMasterOffsetSeen".to_string(), seen.to_string()),
            (
                "haSlaveLagBytes".to_string(),
                seen.saturating_sub(local).to_string(),
            ),
        ]
    }
}

/// How one connection ended.
enum SessionEnd {
    Cancelled,
    MasterChanged,
    /// Reconnect after a pause; `progressed` resets the backoff.
    Broken {
        why: String,
        progressed: bool,
    },
    /// Stop replicating for good.
    Fatal(String),
}

async fn run(client: HaClient, config: HaConfig, cancel: CancellationToken) {
    let mut master_rx = client.shared.master.subscribe();
    let mut backoff = config.reconnect_min;
    loop {
        let Some(addr) = wait_for_master(&client, &mut master_rx, &cancel).await else {
            client.shared.set_state(SlaveState::ShutDown);
            return;
        };
        client.shared.set_state(SlaveState::Connecting(addr.clone()));
        let connect = tokio::time::timeout(config.heartbeat_interval, TcpStream::connect(&addr));
        let connected = tokio::select! {
            _ = cancel.cancelled() => {
                client.shared.set_state(SlaveState::ShutDown);
                return;
            }
            c = connect => c,
        };
        match connected {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                info!(master = %addr, offset = client.log.end_offset(), "connected to the HA master");
                client.shared.set_state(SlaveState::Connected(addr.clone()));
                match session(&client, &config, stream, &mut master_rx, &cancel).await {
                    SessionEnd::Cancelled => {
                        client.shared.set_state(SlaveState::ShutDown);
                        return;
                    }
                    SessionEnd::MasterChanged => {
                        backoff = config.reconnect_min;
                        continue;
                    }
                    SessionEnd::Fatal(reason) => {
                        error!(
                            master = %addr,
                            offset = client.log.end_offset(),
                            "REPLICATION STOPPED: {reason}; this slave's commit log does not line up with \
                             its master's and is left as it is; it needs an operator"
                        );
                        client.shared.set_state(SlaveState::Stopped(reason));
                        return;
                    }
                    SessionEnd::Broken { why, progressed } => {
                        warn!(master = %addr, offset = client.log.end_offset(), "HA connection broken: {why}");
                        if progressed {
                            backoff = config.reconnect_min;
                        }
                    }
                }
            }
            Ok(Err(e)) => {
                warn!(master = %addr, error = %e, retry_in = ?backoff, "cannot connect to the HA master")
            }
            Err(_) => warn!(master = %addr, retry_in = ?backoff, "connecting to the HA master timed out"),
        }
        client.shared.set_state(SlaveState::Connecting(addr));
        tokio::select! {
            _ = cancel.cancelled() => {
                client.shared.set_state(SlaveState::ShutDown);
                return;
            }
            _ = tokio::time::sleep(backoff) => {}
            _ = master_rx.changed() => {}
        }
        backoff = (backoff * 2).min(config.reconnect_max);
    }
}

/// The current master address, waiting for one to be set; `None` on cancel.
async fn wait_for_master(
    client: &HaClient,
    rx: &mut watch::Receiver<Option<String>>,
    cancel: &CancellationToken,
) -> Option<String> {
    loop {
        if let Some(addr) = rx.borrow_and_update().clone() {
            return Some(addr);
        }
        client.shared.set_state(SlaveState::NoMaster);
        tokio::select! {
            _ = cancel.cancelled() => return None,
            changed = rx.changed() => {
                // The sender lives in the client's shared state, so this cannot close first.
                changed.ok()?;
            }
        }
    }
}

async fn report(wr: &mut OwnedWriteHalf, offset: u64) -> std::io::Result<()> {
    wr.write_all(&encode_report(offset)).await
}

async fn session(
    client: &HaClient,
    config: &HaConfig,
    stream: TcpStream,
    master_rx: &mut watch::Receiver<Option<String>>,
    cancel: &CancellationToken,
) -> SessionEnd {
    let broken = |why: String, progressed| SessionEnd::Broken { why, progressed };
    let (mut rd, mut wr) = stream.into_split();
    let mut dec = TransferDecoder::new(config.max_transfer_body);
    let start = client.log.end_offset();
    let mut reported = start;
    if let Err(e) = report(&mut wr, reported).await {
        return broken(format!("cannot send the first report: {e}"), false);
    }
    let mut last_report = Instant::now();
    let mut last_read = Instant::now();
    loop {
        let progressed = client.log.end_offset() > start;
        tokio::select! {
            _ = cancel.cancelled() => return SessionEnd::Cancelled,
            changed = master_rx.changed() => {
                if changed.is_err() {
                    return SessionEnd::Cancelled;
                }
                return SessionEnd::MasterChanged;
            }
            _ = tokio::time::sleep_until(last_report + config.heartbeat_interval) => {
                reported = client.log.end_offset();
                if let Err(e) = report(&mut wr, reported).await {
                    return broken(format!("cannot report: {e}"), progressed);
                }
                last_report = Instant::now();
            }
            _ = tokio::time::sleep_until(last_read + config.housekeeping_interval) => {
                let why = format!("nothing from the master for {:?}", config.housekeeping_interval);
                return broken(why, progressed);
            }
            read = rd.read_buf(dec.buffer()) => {
                match read {
                    Ok(0) => return broken("the master closed the connection".into(), progressed),
                    Err(e) => return broken(format!("socket error: {e}"), progressed),
                    Ok(_) => last_read = Instant::now(),
                }
                loop {
                    let transfer = match dec.next_frame() {
                        Ok(Some(t)) => t,
                        Ok(None) => break,
                        Err(e) => return broken(format!("bad stream from the master: {e}"), progressed),
                    };
                    if let Err(end) = apply(client, transfer).await {
                        return end;
                    }
                }
                let now_at = client.log.end_offset();
                if now_at != reported {
                    reported = now_at;
                    if let Err(e) = report(&mut wr, reported).await {
                        return broken(format!("cannot report: {e}"), true);
                    }
                    last_report = Instant::now();
                }
            }
        }
    }
}

/// Checks that a transfer lines up with the local log and appends it.
async fn apply(client: &HaClient, t: Transfer) -> Result<(), SessionEnd> {
    let log = &client.log;
    let local = log.end_offset();
    let end = t.offset + t.body.len() as u64;
    client.shared.master_offset_seen.fetch_max(end, Ordering::Relaxed);
    let empty = local == 0;
    if t.offset != local && !empty {
        let reason = if t.offset > local {
            format!(
                "gap: the master sends from offset {} but this slave's log ends at {local}",
                t.offset
            )
        } else {
            format!(
                "mismatch: the master is at offset {} but this slave's log already ends at {local} \
                 (the master lost data or is a different log)",
                t.offset
            )
        };
        return Err(SessionEnd::Fatal(reason));
    }
    if t.body.is_empty() {
        return Ok(());
    }
    // Appended on this task, not a blocking-pool thread: a transfer is at most
    // `haTransferBatchSize` (32 KiB) copied into a mapping whose blocks the writer reserves in
    // 8 MiB steps, and the next file is prepared by the allocator thread, so an append takes
    // microseconds. Handing each one to another thread cost two context switches per transfer,
    // which on a 2-core machine was most of what a slave spent (perf: a third of its samples in
    // the scheduler).
    match log.append_at(t.offset, &t.body) {
        Ok(()) => Ok(()),
        Err(e @ (LogError::Mismatch { .. } | LogError::Corrupt(_))) => Err(SessionEnd::Fatal(e.to_string())),
        Err(e) => Err(SessionEnd::Broken {
            why: format!("cannot append at {}: {e}", t.offset),
            progressed: false,
        }),
    }
}
