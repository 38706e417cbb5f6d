//! The chaos run's bookkeeping, with no IO and the clock passed in: which sequence-numbered
//! messages were acknowledged (SEND_OK only), which were delivered and how often, and the longest
//! stretch without a SEND_OK.
//!
//! A message is `(producer, seq)`. Lost = acknowledged but never delivered. Duplicates = deliveries
//! beyond the first of a message. A message that was delivered without a SEND_OK (the broker stored
//! it but answered FLUSH_SLAVE_TIMEOUT or SLAVE_NOT_AVAILABLE, or the reply was lost) is counted
//! apart: it is neither lost nor a duplicate.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// One message: producer index and its sequence number.
pub type MsgId = (u32, u64);

/// What the producers and consumers have seen so far.
#[derive(Debug, Default)]
pub struct Ledger {
    acked: BTreeSet<MsgId>,
    deliveries: HashMap<MsgId, u32>,
    not_acked: BTreeMap<String, u64>,
    send_errors: u64,
    first_ok: Option<Instant>,
    last_ok: Option<Instant>,
    longest_outage: Duration,
}

/// The numbers a run prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Sends answered SEND_OK.
    pub acked: usize,
    /// Sends answered with another status (stored, but not confirmed by flush and slave), by status.
    pub not_acked: BTreeMap<String, u64>,
    /// Sends that failed outright.
    pub send_errors: u64,
    /// Distinct messages delivered.
    pub consumed: usize,
    /// Acknowledged messages never delivered.
    pub lost: Vec<MsgId>,
    /// Deliveries beyond the first.
    pub duplicates: u64,
    /// Messages delivered that were never acknowledged.
    pub delivered_unacked: usize,
    /// The longest time with no SEND_OK, up to `now`.
    pub longest_outage: Duration,
}

impl Ledger {
    /// A send answered SEND_OK at `now`.
    pub fn acked(&mut self, id: MsgId, now: Instant) {
        self.acked.insert(id);
        if let Some(last) = self.last_ok {
            self.longest_outage = self.longest_outage.max(now.saturating_duration_since(last));
        }
        self.first_ok.get_or_insert(now);
        self.last_ok = Some(now);
    }

    /// A send answered with `status`, not SEND_OK.
    pub fn not_acked(&mut self, status: &str) {
        *self.not_acked.entry(status.to_string()).or_insert(0) += 1;
    }

    /// A send failed (timeout, no route, connection refused).
    pub fn send_failed(&mut self) {
        self.send_errors += 1;
    }

    /// A consumer callback received `id`.
    pub fn delivered(&mut self, id: MsgId) {
        *self.deliveries.entry(id).or_insert(0) += 1;
    }

    /// Acknowledged messages not delivered yet.
    pub fn missing(&self) -> usize {
        self.acked
            .iter()
            .filter(|id| !self.deliveries.contains_key(id))
            .count()
    }

    /// The numbers so far; `sends_ended` closes the last outage (when the producers stopped).
    pub fn report(&self, sends_ended: Instant) -> Report {
        let tail = self
            .last_ok
            .map_or(Duration::ZERO, |last| sends_ended.saturating_duration_since(last));
        Report {
            acked: self.acked.len(),
            not_acked: self.not_acked.clone(),
            send_errors: self.send_errors,
            consumed: self.deliveries.len(),
            lost: self
                .acked
                .iter()
                .filter(|id| !self.deliveries.contains_key(id))
                .copied()
                .collect(),
            duplicates: self.deliveries.values().map(|&n| u64::from(n - 1)).sum(),
            delivered_unacked: self
                .deliveries
                .keys()
                .filter(|id| !self.acked.contains(id))
                .count(),
            longest_outage: self.longest_outage.max(tail),
        }
    }
}

/// Parses a message body `"<producer>:<seq>"`.
pub fn parse_body(body: &[u8]) -> Option<MsgId> {
    let text = std::str::from_utf8(body).ok()?;
    let (p, s) = text.split_once(':')?;
    Some((p.parse().ok()?, s.parse().ok()?))
}

/// The body of message `id`.
pub fn body_of(id: MsgId) -> String {
    format!("{}:{}", id.0, id.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lost_duplicates_and_unacked_deliveries() {
        let t0 = Instant::now();
        let mut l = Ledger::default();
        l.acked((0, 1), t0);
        l.acked((0, 2), t0);
        l.acked((1, 1), t0);
        l.not_acked("SlaveNotAvailable");
        l.send_failed();
        l.delivered((0, 1));
        l.delivered((0, 1));
        l.delivered((1, 1));
        l.delivered((1, 2)); // stored, but its send was not acknowledged
        assert_eq!(l.missing(), 1);
        let r = l.report(t0);
        assert_eq!(r.acked, 3);
        assert_eq!(r.consumed, 3);
        assert_eq!(r.lost, vec![(0, 2)]);
        assert_eq!(r.duplicates, 1);
        assert_eq!(r.delivered_unacked, 1);
        assert_eq!(
            r.not_acked,
            BTreeMap::from([("SlaveNotAvailable".to_string(), 1)])
        );
        assert_eq!(r.send_errors, 1);
    }

    #[test]
    fn the_longest_outage_is_the_widest_gap_between_acks_or_before_the_end() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut l = Ledger::default();
        // Time before the first SEND_OK (the cluster starting) is not an outage.
        assert_eq!(l.report(t0 + s(5)).longest_outage, Duration::ZERO);
        l.acked((0, 1), t0 + s(5));
        l.acked((0, 2), t0 + s(6));
        l.acked((0, 3), t0 + s(10));
        l.acked((0, 4), t0 + s(11));
        assert_eq!(l.report(t0 + s(12)).longest_outage, s(4));
        // No SEND_OK in the last 7 s before the sends ended.
        assert_eq!(l.report(t0 + s(18)).longest_outage, s(7));
    }

    #[test]
    fn bodies_round_trip_and_garbage_is_none() {
        assert_eq!(parse_body(body_of((3, 99)).as_bytes()), Some((3, 99)));
        assert_eq!(parse_body(b"3-99"), None);
        assert_eq!(parse_body(b"x:1"), None);
        assert_eq!(parse_body(&[0xFF, b':', b'1']), None);
    }
}
