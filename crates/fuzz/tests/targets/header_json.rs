//! The JSON header reader (serialize type 0) on mutated Apache headers.

use std::sync::Arc;

use proptest::prelude::*;
use rmq_fuzz::mutate::hostile;
use rmq_fuzz::seeds::{command_of, header_bytes, json_header_corpus};
use rmq_remoting::serialize::{decode_header, HeaderFields};
use rmq_remoting::SerializeType;

/// Bytes of the decoded strings; none can be longer than the header it was read from.
pub fn strings_len(h: &HeaderFields) -> usize {
    h.ext_fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
        + h.remark.as_ref().map_or(0, String::len)
}

/// Decodes `input` as `kind`; what decodes must be bounded by the input and survive an
/// encode/decode round trip unchanged. True when it decoded.
pub fn check(kind: SerializeType, input: &[u8]) -> Result<bool, TestCaseError> {
    let Ok(h) = decode_header(kind, input) else {
        return Ok(false);
    };
    prop_assert!(strings_len(&h) <= input.len(), "{h:?} from {} bytes", input.len());
    let again = header_bytes(&command_of(h.clone(), kind));
    let back = decode_header(kind, &again);
    prop_assert!(back.as_ref() == Ok(&h), "{h:?} came back as {back:?}");
    Ok(true)
}

#[test]
fn json_header() {
    let corpus = Arc::new(json_header_corpus(crate::frames()));
    crate::fuzz("header_json", hostile(corpus), |input| {
        check(SerializeType::Json, &input)
    });
}
