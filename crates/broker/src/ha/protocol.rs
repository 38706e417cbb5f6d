//! The HA byte protocol as pure code: encoding the master's transfer header and the slave's
//! offset report, and incremental decoders for both directions that take whatever bytes a socket
//! delivered and never panic. Layouts are drawn in the [`crate::ha`] module doc.
//!
//! Invariants: a decoder only ever holds the bytes of one incomplete frame (or report); a
//! negative offset, a negative size or a size above the decoder's limit is a [`ProtocolError`],
//! after which the connection is closed (there is no resynchronising inside a byte stream).

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Bytes in the master's transfer header: i64 physical offset + i32 body size.
pub const HEADER_SIZE: usize = 12;
/// Bytes in the slave's report: i64 max physical offset.
pub const REPORT_SIZE: usize = 8;

/// A stream that cannot be HA protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// An offset field is negative.
    #[error("negative physical offset {0} in the HA stream")]
    NegativeOffset(i64),
    /// A size field is negative or above the limit.
    #[error("transfer size {size} outside [0, {limit}] in the HA stream")]
    BadSize {
        /// The size read.
        size: i32,
        /// The largest size accepted.
        limit: usize,
    },
}

/// Encodes a transfer header (`size` 0 is the master's heartbeat).
pub fn encode_header(offset: u64, size: u32, out: &mut BytesMut) {
    out.reserve(HEADER_SIZE);
    out.put_i64(offset as i64);
    out.put_i32(size as i32);
}

/// Encodes the slave's 8-byte report of its max physical offset.
pub fn encode_report(offset: u64) -> [u8; REPORT_SIZE] {
    (offset as i64).to_be_bytes()
}

/// One master→slave frame: `body` is raw commit log starting at physical `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Physical offset of the first body byte (for a heartbeat: the master's next transfer offset).
    pub offset: u64,
    /// Raw commit-log bytes; empty for a heartbeat.
    pub body: Bytes,
}

/// Incremental decoder of the master→slave stream.
#[derive(Debug)]
pub struct TransferDecoder {
    buf: BytesMut,
    max_body: usize,
}

impl TransferDecoder {
    /// A decoder accepting bodies up to `max_body` bytes (a master sends at most its batch size;
    /// the limit only bounds memory against a broken peer).
    pub fn new(max_body: usize) -> Self {
        TransferDecoder {
            buf: BytesMut::new(),
            max_body,
        }
    }

    /// The buffer to read socket bytes into.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Appends received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Transfer>, ProtocolError> {
        if self.buf.len() < HEADER_SIZE {
            return Ok(None);
        }
        let mut head = &self.buf[..HEADER_SIZE];
        let offset = head.get_i64();
        let size = head.get_i32();
        if offset < 0 {
            return Err(ProtocolError::NegativeOffset(offset));
        }
        if size < 0 || size as usize > self.max_body {
            return Err(ProtocolError::BadSize {
                size,
                limit: self.max_body,
            });
        }
        let size = size as usize;
        if self.buf.len() < HEADER_SIZE + size {
            self.buf.reserve(HEADER_SIZE + size - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(HEADER_SIZE);
        let body = self.buf.split_to(size).freeze();
        Ok(Some(Transfer {
            offset: offset as u64,
            body,
        }))
    }
}

/// Incremental decoder of the slave→master stream of 8-byte reports.
#[derive(Debug, Default)]
pub struct ReportDecoder {
    buf: BytesMut,
}

impl ReportDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The buffer to read socket bytes into.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Appends received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The latest complete report, consuming every complete one; `Ok(None)` when none is complete.
    /// Only the last matters: reports are cumulative, as in RocketMQ's `ReadSocketService`.
    pub fn latest(&mut self) -> Result<Option<u64>, ProtocolError> {
        let complete = self.buf.len() / REPORT_SIZE * REPORT_SIZE;
        if complete == 0 {
            return Ok(None);
        }
        let mut last = &self.buf[complete - REPORT_SIZE..complete];
        let value = last.get_i64();
        self.buf.advance(complete);
        if value < 0 {
            return Err(ProtocolError::NegativeOffset(value));
        }
        Ok(Some(value as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(offset: u64, body: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_header(offset, body.len() as u32, &mut out);
        out.extend_from_slice(body);
        out.to_vec()
    }

    #[test]
    fn header_layout_is_big_endian_offset_then_size() {
        let bytes = frame(0x0102_0304_0506_0708, b"ab");
        assert_eq!(bytes, [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 2, b'a', b'b']);
        assert_eq!(encode_report(258), [0, 0, 0, 0, 0, 0, 1, 2]);
    }

    #[test]
    fn frames_decode_from_any_split() {
        let mut stream = frame(100, b"hello");
        stream.extend(frame(105, b""));
        stream.extend(frame(105, &[7u8; 300]));
        for split in 0..stream.len() {
            let mut dec = TransferDecoder::new(1024);
            let mut got = Vec::new();
            for chunk in [&stream[..split], &stream[split..]] {
                dec.extend(chunk);
                while let Some(t) = dec.next_frame().unwrap() {
                    got.push(t);
                }
            }
            assert_eq!(got.len(), 3, "split at {split}");
            assert_eq!(
                got[0],
                Transfer {
                    offset: 100,
                    body: Bytes::from_static(b"hello")
                }
            );
            assert!(got[1].body.is_empty() && got[1].offset == 105);
            assert_eq!(got[2].body.len(), 300);
        }
    }

    #[test]
    fn byte_by_byte_feeding_yields_the_same_frames() {
        let stream = [frame(0, b"x"), frame(1, b"yz")].concat();
        let mut dec = TransferDecoder::new(16);
        let mut offsets = Vec::new();
        for b in stream {
            dec.extend(&[b]);
            while let Some(t) = dec.next_frame().unwrap() {
                offsets.push((t.offset, t.body.len()));
            }
        }
        assert_eq!(offsets, [(0, 1), (1, 2)]);
    }

    #[test]
    fn bad_headers_are_errors_not_panics() {
        let mut dec = TransferDecoder::new(16);
        dec.extend(&frame(0, &[0u8; 17]));
        assert_eq!(
            dec.next_frame(),
            Err(ProtocolError::BadSize { size: 17, limit: 16 })
        );

        let mut dec = TransferDecoder::new(16);
        dec.extend(&[0xff; 12]);
        assert!(matches!(dec.next_frame(), Err(ProtocolError::NegativeOffset(-1))));

        let mut dec = TransferDecoder::new(16);
        let mut bytes = BytesMut::new();
        bytes.put_i64(5);
        bytes.put_i32(-3);
        dec.extend(&bytes);
        assert!(matches!(
            dec.next_frame(),
            Err(ProtocolError::BadSize { size: -3, .. })
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..2000 {
            let len = rng.gen_range(0..64);
            let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let mut dec = TransferDecoder::new(32);
            dec.extend(&bytes);
            while let Ok(Some(_)) = dec.next_frame() {}
            let mut rep = ReportDecoder::new();
            rep.extend(&bytes);
            let _ = rep.latest();
        }
    }

    #[test]
    fn reports_keep_only_the_latest_complete_value() {
        let mut dec = ReportDecoder::new();
        assert_eq!(dec.latest(), Ok(None));
        dec.extend(&encode_report(10));
        dec.extend(&encode_report(20));
        dec.extend(&encode_report(30)[..3]);
        assert_eq!(dec.latest(), Ok(Some(20)));
        assert_eq!(dec.latest(), Ok(None));
        dec.extend(&encode_report(30)[3..]);
        assert_eq!(dec.latest(), Ok(Some(30)));
        dec.extend(&(-1i64).to_be_bytes());
        assert_eq!(dec.latest(), Err(ProtocolError::NegativeOffset(-1)));
    }
}
