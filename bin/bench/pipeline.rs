//! One pipelined connection of `rmq-bench send`: it keeps `in_flight` requests outstanding,
//! writes every request it may send in one `write`, reads whatever replies have arrived in one
//! `read`, and times each request from the moment it was queued to the moment its reply was
//! read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::BytesMut;
use hdrhistogram::Histogram;
use rmq_remoting::message::id::UniqIdGenerator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::wire::{next_reply, SendEncoder};

/// What every pipeline shares.
pub struct Totals {
    /// Sends left with `--count`; `i64::MAX` when running for a duration.
    pub remaining: AtomicI64,
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub deadline: Instant,
    pub timeout: Duration,
    /// Makes each message's `UNIQ_KEY`.
    pub uniq: UniqIdGenerator,
}

impl Totals {
    /// Takes one send from the budget.
    fn take(&self, now: Instant) -> bool {
        now < self.deadline && self.remaining.fetch_sub(1, Ordering::Relaxed) > 0
    }

    fn failure(&self, what: impl FnOnce() -> String) {
        if self.failed.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("send failed: {}", what());
        }
    }
}

/// One connection's work.
pub struct Pipeline {
    pub addr: String,
    pub queue_ids: Vec<i32>,
    pub in_flight: usize,
    pub encoder: SendEncoder,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Pipeline {
    /// Sends until the budget is spent and every reply is in; returns the latencies in µs.
    pub async fn run(mut self, totals: Arc<Totals>) -> anyhow::Result<Histogram<u64>> {
        let mut hist = crate::new_histogram();
        let mut stream = TcpStream::connect(&self.addr)
            .await
            .with_context(|| format!("cannot connect to {}; is the broker running?", self.addr))?;
        stream.set_nodelay(true)?;
        let mut out = BytesMut::with_capacity(self.in_flight * 1500);
        let mut input = BytesMut::with_capacity(64 * 1024);
        let mut outstanding: HashMap<i32, Instant> = HashMap::with_capacity(self.in_flight * 2);
        let mut next_opaque = 0i32;
        let mut next_queue = 0usize;
        let mut sending = true;
        loop {
            let now = Instant::now();
            while sending && outstanding.len() < self.in_flight {
                if !totals.take(now) {
                    sending = false;
                    break;
                }
                let queue_id = self.queue_ids[next_queue % self.queue_ids.len()];
                next_queue += 1;
                let born = now_ms();
                let uniq_key = totals.uniq.next_id(born);
                self.encoder
                    .encode(&mut out, next_opaque, queue_id, born, &uniq_key);
                outstanding.insert(next_opaque, now);
                next_opaque = next_opaque.wrapping_add(1);
            }
            if outstanding.is_empty() {
                return Ok(hist);
            }
            if !out.is_empty() {
                stream.write_all(&out).await?;
                out.clear();
            }
            if outstanding
                .values()
                .any(|t| now.duration_since(*t) > totals.timeout)
            {
                bail!("{}: no reply within {:?}", self.addr, totals.timeout);
            }
            let n = tokio::time::timeout(totals.timeout, stream.read_buf(&mut input))
                .await
                .with_context(|| format!("{}: no reply within {:?}", self.addr, totals.timeout))??;
            if n == 0 {
                bail!("{} closed the connection", self.addr);
            }
            let read_at = Instant::now();
            while let Some(reply) = next_reply(&mut input).map_err(anyhow::Error::msg)? {
                let Some(sent) = outstanding.remove(&reply.opaque) else {
                    bail!("{} answered an unknown opaque {}", self.addr, reply.opaque);
                };
                match reply.failure {
                    None => {
                        let _ = hist.record(read_at.duration_since(sent).as_micros().max(1) as u64);
                        totals.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(cmd) => {
                        totals.failure(|| format!("code {} {}", cmd.code, cmd.remark.unwrap_or_default()))
                    }
                }
            }
        }
    }
}
