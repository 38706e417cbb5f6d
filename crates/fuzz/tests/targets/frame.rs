//! The frame decoder (`RemotingCodec`) on whole frames fed in chunks, as a socket delivers them.

use std::sync::Arc;

use bytes::BytesMut;
use proptest::prelude::*;
use rmq_fuzz::mutate::hostile;
use rmq_fuzz::seeds::frame_corpus;
use rmq_remoting::codec::encode_command;
use rmq_remoting::{RemotingCodec, RemotingCommand};
use tokio_util::codec::Decoder;

/// Bytes the decoded strings may take for a header of `header_len` bytes: every byte of a string
/// comes from the header, and a JSON escape never yields more bytes than it is written with.
fn strings_len(cmd: &RemotingCommand) -> usize {
    cmd.ext_fields
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum::<usize>()
        + cmd.remark.as_ref().map_or(0, String::len)
}

/// Whether at least one frame decoded.
fn check(input: &[u8], chunk: usize, max_frame: usize) -> Result<bool, TestCaseError> {
    const INITIAL: usize = 64;
    let mut codec = RemotingCodec::new(max_frame);
    let mut buf = BytesMut::with_capacity(INITIAL);
    let mut fed = 0;
    let mut decoded = false;
    for piece in input.chunks(chunk) {
        if buf.capacity() - buf.len() < piece.len() {
            buf.reserve(piece.len());
        }
        buf.extend_from_slice(piece);
        fed += piece.len();
        loop {
            let before = buf.len();
            match codec.decode(&mut buf) {
                Ok(Some(cmd)) => {
                    let frame_len = before - buf.len();
                    decoded = true;
                    prop_assert!(frame_len <= max_frame);
                    prop_assert!(cmd.body.len() + strings_len(&cmd) <= frame_len);
                    let again =
                        encode_command(&cmd).map_err(|e| TestCaseError::fail(format!("re-encode: {e}")))?;
                    let mut again = BytesMut::from(&again[..]);
                    let back = RemotingCodec::default().decode(&mut again);
                    prop_assert!(
                        matches!(&back, Ok(Some(b)) if *b == cmd),
                        "{cmd:?} came back as {back:?}"
                    );
                }
                Ok(None) => break,
                Err(_) => return Ok(decoded),
            }
        }
        // An announced length is never reserved beyond the limit: the buffer holds at most what
        // arrived and what one frame within the limit needs (doubling growth, as Vec's).
        let bound = 2 * (INITIAL.max(max_frame) + chunk);
        prop_assert!(
            buf.capacity() <= bound,
            "capacity {} after {fed} bytes (limit {max_frame})",
            buf.capacity()
        );
    }
    Ok(decoded)
}

#[test]
fn frame_decoder() {
    let corpus = Arc::new(frame_corpus(crate::frames()));
    let strategy = (
        hostile(corpus),
        1usize..600,
        prop_oneof![Just(16usize << 20), 64usize..4096],
    );
    crate::fuzz("frame", strategy, |(input, chunk, max)| check(&input, chunk, max));
}

#[test]
fn every_transcript_frame_decodes_and_round_trips() {
    for f in crate::frames() {
        let wire = f.wire();
        assert!(check(&wire, wire.len(), 16 << 20).unwrap());
        let mut buf = BytesMut::from(&f.wire()[..]);
        let cmd = RemotingCodec::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(&cmd.body[..], &f.body[..]);
    }
}
