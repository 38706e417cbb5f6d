//! The drill's ledger: every send (sequence number, outcome, where it landed) and every delivery
//! the consumer saw, and the tally computed from them. Pure bookkeeping, no IO; times are
//! `Instant`s passed in by the caller.
//!
//! A message's body is `drill-<seq>`, so a delivery names its send even when the send's answer
//! was lost (a send that failed may still have been stored and be delivered).

use std::collections::BTreeMap;
use std::time::Instant;

/// Where a SEND_OK message was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Broker group.
    pub group: String,
    /// Queue id.
    pub queue_id: i32,
    /// Offset in the queue.
    pub queue_offset: i64,
}

/// One send.
#[derive(Debug, Clone)]
pub struct Send {
    /// When the answer came.
    pub at: Instant,
    /// Attempts the client made (1 = first broker stored it).
    pub attempts: u32,
    /// `Some` for SEND_OK, `None` for a send that failed.
    pub stored: Option<Stored>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Sends and deliveries so far.
#[derive(Debug, Default)]
pub struct Ledger {
    sends: BTreeMap<u64, Send>,
    deliveries: BTreeMap<u64, u32>,
}

/// The final count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Sends answered SEND_OK.
    pub sent_ok: usize,
    /// Sends that failed after every retry.
    pub failed: usize,
    /// SEND_OK sends that needed more than one attempt.
    pub retried: usize,
    /// Most attempts one send took.
    pub max_attempts: u32,
    /// SEND_OK messages delivered at least once.
    pub consumed: usize,
    /// Deliveries beyond the first of a message.
    pub duplicates: u64,
    /// SEND_OK messages never delivered (the first few sequence numbers).
    pub lost: Vec<u64>,
    /// Count of SEND_OK messages never delivered.
    pub lost_count: usize,
    /// Why sends failed (the first few, `seq: reason`).
    pub failures: Vec<String>,
    /// SEND_OK messages per group.
    pub per_group: BTreeMap<String, usize>,
}

/// The body of message `seq`.
pub fn body(seq: u64) -> String {
    format!("drill-{seq}")
}

/// The sequence number in a body, if it is a drill body.
pub fn parse_body(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body)
        .ok()?
        .strip_prefix("drill-")?
        .parse()
        .ok()
}

impl Ledger {
    /// Records the outcome of send `seq`.
    pub fn sent(&mut self, seq: u64, send: Send) {
        self.sends.insert(seq, send);
    }

    /// Records one delivery of message `seq`.
    pub fn delivered(&mut self, seq: u64) {
        *self.deliveries.entry(seq).or_default() += 1;
    }

    /// Number of sends answered (OK or not).
    pub fn send_count(&self) -> usize {
        self.sends.len()
    }

    /// SEND_OK messages stored on `group`.
    pub fn stored_on(&self, group: &str) -> usize {
        self.ok_sends().filter(|(_, s)| s.group == group).count()
    }

    /// SEND_OK messages stored on `group` that were delivered at least once.
    pub fn delivered_on(&self, group: &str) -> usize {
        self.ok_sends()
            .filter(|(seq, s)| s.group == group && self.deliveries.contains_key(seq))
            .count()
    }

    /// The first SEND_OK on `group` answered at or after `since`.
    pub fn first_on_after(&self, group: &str, since: Instant) -> Option<Instant> {
        self.sends
            .values()
            .filter(|s| s.at >= since && s.stored.as_ref().is_some_and(|st| st.group == group))
            .map(|s| s.at)
            .min()
    }

    /// Sends answered at or after `since` that did not go to `group` (in sequence order, counted
    /// back from the newest until one that went to `group`).
    pub fn recent_sends_avoiding(&self, group: &str, since: Instant) -> usize {
        self.sends
            .values()
            .rev()
            .take_while(|s| s.at >= since)
            .take_while(|s| s.stored.as_ref().map(|st| st.group.as_str()) != Some(group))
            .count()
    }

    /// Sends answered at or after `since` that failed or needed a retry.
    pub fn troubled_since(&self, since: Instant) -> (usize, usize) {
        let recent = self.sends.values().filter(|s| s.at >= since);
        let (mut failed, mut retried) = (0, 0);
        for s in recent {
            if s.stored.is_none() {
                failed += 1;
            } else if s.attempts > 1 {
                retried += 1;
            }
        }
        (failed, retried)
    }

    /// SEND_OK messages of `group` that are not delivered yet and for which `include` holds.
    pub fn undelivered_on(&self, group: &str, include: impl Fn(&Stored) -> bool) -> Vec<u64> {
        self.ok_sends()
            .filter(|(seq, s)| s.group == group && include(s) && !self.deliveries.contains_key(seq))
            .map(|(seq, _)| seq)
            .collect()
    }

    /// Whether every SEND_OK message was delivered.
    pub fn all_delivered(&self) -> bool {
        self.ok_sends().all(|(seq, _)| self.deliveries.contains_key(&seq))
    }

    fn ok_sends(&self) -> impl Iterator<Item = (u64, &Stored)> {
        self.sends
            .iter()
            .filter_map(|(seq, s)| s.stored.as_ref().map(|st| (*seq, st)))
    }

    /// The tally so far.
    pub fn tally(&self) -> Tally {
        let mut t = Tally {
            sent_ok: 0,
            failed: 0,
            retried: 0,
            max_attempts: 0,
            consumed: 0,
            duplicates: 0,
            lost: Vec::new(),
            lost_count: 0,
            failures: Vec::new(),
            per_group: BTreeMap::new(),
        };
        for (seq, s) in &self.sends {
            t.max_attempts = t.max_attempts.max(s.attempts);
            let Some(stored) = &s.stored else {
                t.failed += 1;
                if t.failures.len() < 5 {
                    t.failures.push(format!(
                        "{seq}: {}",
                        s.error.as_deref().unwrap_or("no reason given")
                    ));
                }
                continue;
            };
            t.sent_ok += 1;
            *t.per_group.entry(stored.group.clone()).or_default() += 1;
            if s.attempts > 1 {
                t.retried += 1;
            }
            match self.deliveries.get(seq) {
                Some(_) => t.consumed += 1,
                None => {
                    t.lost_count += 1;
                    if t.lost.len() < 20 {
                        t.lost.push(*seq);
                    }
                }
            }
        }
        t.duplicates = self.deliveries.values().map(|n| u64::from(n - 1)).sum();
        t
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ok(at: Instant, group: &str, queue_offset: i64, attempts: u32) -> Send {
        Send {
            at,
            attempts,
            stored: Some(Stored {
                group: group.into(),
                queue_id: 0,
                queue_offset,
            }),
            error: None,
        }
    }

    #[test]
    fn bodies_name_their_sequence_number() {
        assert_eq!(parse_body(body(42).as_bytes()), Some(42));
        assert_eq!(parse_body(b"drill-x"), None);
        assert_eq!(parse_body(b"other-1"), None);
        assert_eq!(parse_body(&[0xff, 0xfe]), None);
    }

    #[test]
    fn the_tally_counts_lost_duplicates_retries_and_failures() {
        let t0 = Instant::now();
        let mut l = Ledger::default();
        l.sent(0, ok(t0, "broker-a", 0, 1));
        l.sent(1, ok(t0, "broker-b", 0, 2));
        l.sent(
            2,
            Send {
                at: t0,
                attempts: 3,
                stored: None,
                error: Some("timeout".into()),
            },
        );
        l.sent(3, ok(t0, "broker-a", 1, 1));
        l.delivered(0);
        l.delivered(0);
        l.delivered(1);
        l.delivered(2); // stored although its answer was lost: not counted as consumed
        let t = l.tally();
        assert_eq!((t.sent_ok, t.failed, t.retried, t.max_attempts), (3, 1, 1, 3));
        assert_eq!((t.consumed, t.duplicates, t.lost_count), (2, 1, 1));
        assert_eq!(t.lost, vec![3]);
        assert_eq!(t.failures, vec!["2: timeout".to_string()]);
        assert_eq!(t.per_group["broker-a"], 2);
        assert!(!l.all_delivered());
        l.delivered(3);
        assert!(l.all_delivered());
    }

    #[test]
    fn queries_by_group_and_time() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        let mut l = Ledger::default();
        l.sent(0, ok(t0, "broker-a", 0, 1));
        l.sent(1, ok(t1, "broker-a", 1, 2));
        l.sent(2, ok(t1, "broker-b", 0, 1));
        l.sent(3, ok(t1, "broker-b", 1, 1));
        assert_eq!(l.first_on_after("broker-b", t0), Some(t1));
        assert_eq!(l.first_on_after("broker-c", t0), None);
        assert_eq!(l.recent_sends_avoiding("broker-a", t0), 2);
        assert_eq!(l.recent_sends_avoiding("broker-b", t0), 0);
        assert_eq!(l.troubled_since(t1), (0, 1));
        assert_eq!(l.undelivered_on("broker-a", |s| s.queue_offset < 1), vec![0]);
        assert_eq!(l.stored_on("broker-b"), 2);
        l.delivered(2);
        assert_eq!((l.delivered_on("broker-b"), l.delivered_on("broker-a")), (1, 0));
    }
}
