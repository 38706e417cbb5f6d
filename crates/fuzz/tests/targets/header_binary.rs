//! The ROCKETMQ binary header (serialize type 1) on the transcripts' headers re-encoded.

use std::sync::Arc;

use rmq_fuzz::mutate::hostile;
use rmq_fuzz::seeds::binary_header_corpus;
use rmq_remoting::SerializeType;

use crate::header_json::check;

#[test]
fn binary_header() {
    let corpus = Arc::new(binary_header_corpus(crate::frames()));
    crate::fuzz("header_binary", hostile(corpus), |input| {
        check(SerializeType::RocketMq, &input)
    });
}
