//! The commit-log record decoder (`MessageRecord::decode`, `decode_all`): what a pull reply body,
//! a replicated chunk and recovery read.

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use rmq_fuzz::mutate::{hostile, Input};
use rmq_fuzz::seeds::record_corpus;
use rmq_remoting::message::MessageRecord;

/// The smallest record: fixed fields with IPv4 hosts, empty body, topic and properties.
const MIN_RECORD: usize = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 2;

/// Whether the first record decoded.
fn check(input: &[u8]) -> Result<bool, TestCaseError> {
    let first = MessageRecord::decode(input, true);
    let accepted = first.is_ok();
    if let Ok((rec, size)) = first {
        prop_assert!(size <= input.len() && size >= MIN_RECORD);
        // Lossy UTF-8 may widen a bad byte to U+FFFD (3 bytes); nothing else grows.
        prop_assert!(rec.body.len() + rec.topic.len() + rec.properties.len() <= 3 * size);
        if !rec.topic.contains('\u{fffd}') && !rec.properties.contains('\u{fffd}') {
            // A record that decodes whole and clean encodes to the same bytes.
            if let Ok(again) = rec.to_bytes() {
                prop_assert_eq!(&again[..], &input[..size]);
            }
        }
    }
    let bytes = Bytes::copy_from_slice(input);
    if let Ok(all) = MessageRecord::decode_all(&bytes) {
        prop_assert!(all.len() <= input.len() / MIN_RECORD);
        prop_assert!(all.capacity() <= 2 * (input.len() / MIN_RECORD).max(4));
    }
    Ok(accepted)
}

#[test]
fn message_record() {
    let corpus = Arc::new(record_corpus(crate::frames()));
    let corpus2 = corpus.clone();
    // Records back to back, as in a pull body, half the time.
    let strategy = prop_oneof![
        hostile(corpus),
        (hostile(corpus2.clone()), hostile(corpus2)).prop_map(|(a, b)| Input([a.0, b.0].concat())),
    ];
    crate::fuzz("record", strategy, |input| check(&input));
}
