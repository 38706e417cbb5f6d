//! The SEND_BATCH_MESSAGE body decoder (`message::batch::decode`).

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use rmq_fuzz::mutate::hostile;
use rmq_fuzz::seeds::batch_corpus;
use rmq_remoting::message::batch::{decode, encode, BatchItem};

/// The smallest member: 22 bytes of fixed fields, empty body and properties.
const MIN_MEMBER: usize = 22;

/// Whether the body decoded.
fn check(input: &[u8]) -> Result<bool, TestCaseError> {
    let body = Bytes::copy_from_slice(input);
    let Ok(items) = decode(&body) else {
        return Ok(false);
    };
    let most = input.len() / MIN_MEMBER;
    prop_assert!(items.len() <= most);
    // The list may have grown by doubling, never by a count read from the input.
    prop_assert!(
        items.capacity() * std::mem::size_of::<BatchItem>()
            <= 2 * most.max(4) * std::mem::size_of::<BatchItem>()
    );
    let text: usize = items.iter().map(|i| i.properties.len()).sum();
    prop_assert!(text <= 3 * input.len());
    // MAGIC and BODYCRC are not read (Apache ignores them too), so the round trip is by value.
    let again = decode(&encode(&items));
    prop_assert!(again.as_ref() == Ok(&items), "{items:?} came back as {again:?}");
    Ok(true)
}

#[test]
fn batch_body() {
    let corpus = Arc::new(batch_corpus(crate::frames()));
    crate::fuzz("batch", hostile(corpus), |input| check(&input));
}
