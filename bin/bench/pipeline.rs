//! One pipelined connection of `rmq-bench send`, `batch` and `e2e`: it keeps up to `in_flight`
//! requests outstanding, writes every request it may send in one `write`, reads whatever
//! replies have arrived in one `read`, and times each request from the moment it was queued to
//! the moment its reply was read.
//!
//! With a [`Pacer`] (e2e's fixed rate) a request is sent only when its slot in the schedule has
//! come: request `n` of this connection is due `n / rate` seconds after the start. A connection
//! that fell behind catches up as fast as its in-flight budget allows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::BytesMut;
use rmq_remoting::message::id::UniqIdGenerator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::stats::Recorder;
use crate::wire::{next_reply, SendEncoder};

/// What every pipeline of a run shares.
pub struct Budget {
    /// Messages left with `--count`; `i64::MAX` when running for a duration.
    pub remaining: AtomicI64,
    pub deadline: Instant,
    pub timeout: Duration,
    /// Makes each message's `UNIQ_KEY`.
    pub uniq: UniqIdGenerator,
}

impl Budget {
    /// Takes `n` messages from the budget.
    fn take(&self, now: Instant, n: usize) -> bool {
        now < self.deadline && self.remaining.fetch_sub(n as i64, Ordering::Relaxed) > 0
    }
}

/// A fixed send schedule: `per_sec` requests a second from `start`.
pub struct Pacer {
    pub start: Instant,
    pub per_sec: f64,
    sent: u64,
}

impl Pacer {
    pub fn new(start: Instant, per_sec: f64) -> Self {
        Pacer {
            start,
            per_sec,
            sent: 0,
        }
    }

    /// When the next request is due.
    fn next_due(&self) -> Instant {
        self.start + Duration::from_secs_f64(self.sent as f64 / self.per_sec)
    }
}

/// One connection's work.
pub struct Pipeline {
    pub addr: String,
    pub queue_ids: Vec<i32>,
    pub in_flight: usize,
    pub encoder: SendEncoder,
    pub pacer: Option<Pacer>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Pipeline {
    /// Sends until the budget is spent and every reply is in, recording into `rec`.
    pub async fn run(mut self, budget: Arc<Budget>, rec: Arc<Recorder>) -> anyhow::Result<()> {
        let mut stream = TcpStream::connect(&self.addr)
            .await
            .with_context(|| format!("cannot connect to {}; is the broker running?", self.addr))?;
        stream.set_nodelay(true)?;
        let batch = self.encoder.batch();
        let mut out = BytesMut::with_capacity(self.in_flight * 1500);
        let mut input = BytesMut::with_capacity(64 * 1024);
        let mut outstanding: HashMap<i32, Instant> = HashMap::with_capacity(self.in_flight * 2);
        let mut latencies = Vec::with_capacity(self.in_flight);
        let mut next_opaque = 0i32;
        let mut next_queue = 0usize;
        let mut sending = true;
        loop {
            let now = Instant::now();
            while sending && outstanding.len() < self.in_flight {
                if self.pacer.as_ref().is_some_and(|p| p.next_due() > now) {
                    break;
                }
                if !budget.take(now, batch) {
                    sending = false;
                    break;
                }
                let queue_id = self.queue_ids[next_queue % self.queue_ids.len()];
                next_queue += 1;
                self.encoder
                    .encode(&mut out, next_opaque, queue_id, now_ms(), &budget.uniq);
                outstanding.insert(next_opaque, now);
                next_opaque = next_opaque.wrapping_add(1);
                if let Some(p) = &mut self.pacer {
                    p.sent += 1;
                }
            }
            if !sending && outstanding.is_empty() {
                return Ok(());
            }
            if !out.is_empty() {
                stream.write_all(&out).await?;
                out.clear();
            }
            if outstanding
                .values()
                .any(|t| now.duration_since(*t) > budget.timeout)
            {
                bail!("{}: no reply within {:?}", self.addr, budget.timeout);
            }
            // Wake for the next reply, the next scheduled send or the deadline, whichever is first.
            let due = self.pacer.as_ref().filter(|_| sending).map(Pacer::next_due);
            let wake = match due {
                Some(d) => d.min(budget.deadline).max(now),
                None => now + budget.timeout,
            };
            if outstanding.is_empty() {
                tokio::time::sleep_until(wake.into()).await;
                continue;
            }
            let n = match tokio::time::timeout_at(wake.into(), stream.read_buf(&mut input)).await {
                Ok(read) => read?,
                Err(_) if due.is_some() => continue,
                Err(_) => bail!("{}: no reply within {:?}", self.addr, budget.timeout),
            };
            if n == 0 {
                bail!("{} closed the connection", self.addr);
            }
            let read_at = Instant::now();
            let mut done = 0u64;
            latencies.clear();
            while let Some(reply) = next_reply(&mut input).map_err(anyhow::Error::msg)? {
                let Some(sent) = outstanding.remove(&reply.opaque) else {
                    bail!("{} answered an unknown opaque {}", self.addr, reply.opaque);
                };
                match reply.failure {
                    None => {
                        latencies.push(read_at.duration_since(sent).as_micros() as u64);
                        done += batch as u64;
                    }
                    Some(cmd) => rec.fail(batch as u64, || {
                        format!("code {} {}", cmd.code, cmd.remark.unwrap_or_default())
                    }),
                }
            }
            rec.record(done, &latencies);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_spaces_requests_evenly() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 1000.0);
        assert_eq!(p.next_due(), t0);
        p.sent = 500;
        assert_eq!(p.next_due(), t0 + Duration::from_millis(500));
    }

    #[test]
    fn budget_stops_at_the_count_or_the_deadline() {
        let now = Instant::now();
        let b = Budget {
            remaining: AtomicI64::new(64),
            deadline: now + Duration::from_secs(60),
            timeout: Duration::from_secs(1),
            uniq: UniqIdGenerator::new(std::net::Ipv4Addr::LOCALHOST, 1, 1),
        };
        assert!(b.take(now, 32));
        assert!(b.take(now, 32));
        assert!(!b.take(now, 1));
        b.remaining.store(10, Ordering::Relaxed);
        assert!(!b.take(now + Duration::from_secs(61), 1));
    }
}
