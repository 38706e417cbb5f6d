//! Reading the op queue (`RMQ_SYS_TRANS_OP_HALF_TOPIC` queue 0): which half queue offsets are
//! settled, and how far the op queue itself may be marked processed.
//!
//! An op marker's body is the ASCII decimal half-queue offset it settles. [`SettledOps`] is
//! plain data filled from the store by [`read_ops`], so the round's bookkeeping is testable
//! without one.

use std::collections::HashMap;

use rmq_remoting::message::MessageRecord;

use super::{OP_TOPIC, SYS_TRANS_GROUP};
use crate::state::BrokerState;
use crate::store::GetStatus;

/// The op markers read in one round, in op-queue order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SettledOps {
    /// Op offset the round started reading at.
    pub start: u64,
    /// Half offset settled by each op marker read (`None`: an undecodable marker), in order.
    pub markers: Vec<Option<u64>>,
    /// Half offset → op offset of its marker.
    pub by_half: HashMap<u64, u64>,
}

impl SettledOps {
    /// Whether the half message at `half_offset` is settled.
    pub fn is_settled(&self, half_offset: u64) -> bool {
        self.by_half.contains_key(&half_offset)
    }

    /// Adds the marker at op offset `start + markers.len()`.
    pub fn push(&mut self, half_offset: Option<u64>) {
        let op_offset = self.start + self.markers.len() as u64;
        if let Some(h) = half_offset {
            self.by_half.insert(h, op_offset);
        }
        self.markers.push(half_offset);
    }

    /// Where the op queue is processed up to once the half queue is processed up to
    /// `half_done`: past the leading run of markers that settle an offset below it (or that
    /// cannot be read).
    pub fn processed_up_to(&self, half_done: u64) -> u64 {
        let run = self
            .markers
            .iter()
            .take_while(|m| !matches!(m, Some(h) if *h >= half_done))
            .count();
        self.start + run as u64
    }
}

/// The half offset an op marker's body names.
pub fn parse_marker(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body).ok()?.trim().parse().ok()
}

/// Reads every op marker from the `CID_RMQ_SYS_TRANS` op offset to the end of the op queue.
pub fn read_ops(state: &BrokerState) -> SettledOps {
    let store = &state.store;
    let min = store.min_offset(OP_TOPIC, 0);
    let start = state
        .offsets
        .query(SYS_TRANS_GROUP, OP_TOPIC, 0)
        .map_or(min, |o| (o.max(0) as u64).max(min));
    let mut ops = SettledOps {
        start,
        ..SettledOps::default()
    };
    let end = store.max_offset(OP_TOPIC, 0);
    let mut next = start;
    while next < end {
        let r = store.get_messages(OP_TOPIC, 0, next, 32, &|_| true);
        if r.status != GetStatus::Found {
            // A gap (deleted file) ends what can be read; later markers wait for the next round.
            break;
        }
        for bytes in &r.messages {
            let marker = MessageRecord::decode_bytes(bytes, false)
                .ok()
                .and_then(|(rec, _)| parse_marker(&rec.body));
            ops.push(marker);
        }
        next = start + ops.markers.len() as u64;
        if r.next_begin_offset < next {
            break;
        }
        // Entries the read skipped count as unreadable markers.
        while next < r.next_begin_offset {
            ops.push(None);
            next += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_settle_offsets_and_the_op_offset_moves_past_the_done_run() {
        let mut ops = SettledOps {
            start: 10,
            ..SettledOps::default()
        };
        for h in [Some(3), Some(7), None, Some(12), Some(5)] {
            ops.push(h);
        }
        assert!(ops.is_settled(7) && ops.is_settled(12) && !ops.is_settled(4));
        assert_eq!(ops.by_half[&12], 13);
        assert_eq!(ops.processed_up_to(8), 13, "stops at the marker of 12");
        assert_eq!(ops.processed_up_to(13), 15);
        assert_eq!(ops.processed_up_to(0), 10);
    }

    #[test]
    fn a_marker_body_is_a_decimal_offset() {
        assert_eq!(parse_marker(b"1234"), Some(1234));
        assert_eq!(parse_marker(b"-1"), None);
        assert_eq!(parse_marker(b"\xff"), None);
    }
}
