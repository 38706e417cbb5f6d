//! The REGISTER_BROKER body in its plain (JSON) and compressed (zlib) forms, as the nameserver
//! reads it. The compressed form is fuzzed twice: the inflated layout mutated and then deflated
//! (so the length fields inside are reached), and the zlib bytes mutated directly.

use std::sync::Arc;

use proptest::prelude::*;
use rmq_fuzz::mutate::{hostile, Corpus};
use rmq_fuzz::seeds::{deflate, register_json_corpus, register_raw_corpus};
use rmq_remoting::body::RegisterBrokerBody;

/// `input` as the `compressed` flag says; `content_len` is what the topics were read from (the
/// inflated length for the compressed form). True when it decoded.
fn check(input: &[u8], compressed: bool, content_len: Option<usize>) -> Result<bool, TestCaseError> {
    let Ok(body) = RegisterBrokerBody::decode_as(input, compressed) else {
        return Ok(false);
    };
    let topics = body.topic_config_serialize_wrapper.topic_config_table.len();
    // A topic costs at least 4 bytes in either form (`"":{` / a length word).
    if let Some(len) = content_len {
        prop_assert!(topics <= len / 4, "{topics} topics from {len} bytes");
    }
    let again = RegisterBrokerBody::decode_as(&body.encode_as(compressed), compressed);
    prop_assert!(again.as_ref() == Ok(&body), "{body:?} came back as {again:?}");
    Ok(true)
}

#[test]
fn register_body_plain() {
    let corpus = Arc::new(register_json_corpus(crate::frames()));
    crate::fuzz("register_plain", hostile(corpus), |input| {
        check(&input, false, Some(input.len()))
    });
}

#[test]
fn register_body_zlib_layout() {
    let corpus = Arc::new(register_raw_corpus(crate::frames()));
    crate::fuzz("register_zlib_layout", hostile(corpus), |raw| {
        check(&deflate(&raw), true, Some(raw.len()))
    });
}

#[test]
fn register_body_zlib_bytes() {
    let raw = register_raw_corpus(crate::frames());
    let corpus = Arc::new(Corpus {
        seeds: raw.seeds.iter().map(|r| deflate(r)).collect(),
        dictionary: vec![vec![0x78, 0x9C], vec![0x78, 0x01]],
    });
    crate::fuzz("register_zlib_bytes", hostile(corpus), |z| check(&z, true, None));
}
