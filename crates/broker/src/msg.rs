//! Message rewriting shared by send, retry and delayed delivery: editing a raw properties string
//! without building a map, and deciding where a retried message goes. Pure functions.

use rmq_remoting::message::properties::{NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR};

/// Copies `raw` without the properties named in `remove`, then appends `add` (each replacing
/// any earlier value of its key). Segments are kept byte for byte.
pub fn rewrite_properties(raw: &str, remove: &[&str], add: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(raw.len() + add.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>());
    for segment in raw.split(PROPERTY_SEPARATOR) {
        if segment.is_empty() {
            continue;
        }
        let key = segment
            .split_once(NAME_VALUE_SEPARATOR)
            .map_or(segment, |(k, _)| k);
        if remove.contains(&key) || add.iter().any(|(k, _)| *k == key) {
            continue;
        }
        if !out.is_empty() {
            out.push(PROPERTY_SEPARATOR);
        }
        out.push_str(segment);
    }
    for (k, v) in add {
        if v.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(PROPERTY_SEPARATOR);
        }
        out.push_str(k);
        out.push(NAME_VALUE_SEPARATOR);
        out.push_str(v);
    }
    out
}

/// Where CONSUMER_SEND_MSG_BACK sends a failed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryTarget {
    /// To `%RETRY%<group>` after the delay of this level.
    Retry {
        /// Delay level (1-based, already clamped to the table).
        delay_level: i32,
    },
    /// To `%DLQ%<group>`: retries exhausted or the consumer asked for it (negative level).
    DeadLetter,
}

/// `CONSUMER_SEND_MSG_BACK`'s decision; `reconsume_times` is the failed message's count before
/// this failure (Java compares it before incrementing).
pub fn retry_target(
    requested_level: i32,
    reconsume_times: i32,
    max_reconsume_times: i32,
    max_level: i32,
) -> RetryTarget {
    if requested_level < 0 || reconsume_times >= max_reconsume_times {
        return RetryTarget::DeadLetter;
    }
    let level = if requested_level == 0 {
        reconsume_times.saturating_add(3)
    } else {
        requested_level
    };
    RetryTarget::Retry {
        delay_level: level.clamp(1, max_level.max(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_keeps_order_and_replaces() {
        let raw = "KEYS\u{1}k\u{2}WAIT\u{1}true\u{2}TAGS\u{1}A";
        assert_eq!(
            rewrite_properties(raw, &["WAIT"], &[("CLUSTER", "C")]),
            "KEYS\u{1}k\u{2}TAGS\u{1}A\u{2}CLUSTER\u{1}C"
        );
        assert_eq!(
            rewrite_properties(raw, &[], &[("TAGS", "B")]),
            "KEYS\u{1}k\u{2}WAIT\u{1}true\u{2}TAGS\u{1}B"
        );
        assert_eq!(
            rewrite_properties("", &["X"], &[("A", "1"), ("B", "")]),
            "A\u{1}1"
        );
        assert_eq!(
            rewrite_properties("A\u{1}1\u{2}", &[], &[]),
            "A\u{1}1",
            "trailing separator dropped"
        );
    }

    #[test]
    fn retry_levels_and_dead_letters() {
        assert_eq!(retry_target(0, 0, 16, 18), RetryTarget::Retry { delay_level: 3 });
        assert_eq!(retry_target(0, 5, 16, 18), RetryTarget::Retry { delay_level: 8 });
        assert_eq!(
            retry_target(0, 15, 16, 18),
            RetryTarget::Retry { delay_level: 18 }
        );
        assert_eq!(retry_target(0, 16, 16, 18), RetryTarget::DeadLetter);
        assert_eq!(retry_target(-1, 0, 16, 18), RetryTarget::DeadLetter);
        assert_eq!(retry_target(2, 1, 16, 18), RetryTarget::Retry { delay_level: 2 });
        assert_eq!(
            retry_target(0, 4, 16, 5),
            RetryTarget::Retry { delay_level: 5 },
            "clamped to the table"
        );
        assert_eq!(
            retry_target(0, i32::MAX - 1, i32::MAX, 18),
            RetryTarget::Retry { delay_level: 18 },
            "a client's huge counts saturate instead of overflowing"
        );
    }
}
