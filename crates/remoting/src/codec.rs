//! The frame codec (a tokio-util `Decoder`/`Encoder`).
//!
//! ```text
//! i32 length                      bytes that follow = 4 + headerLen + bodyLen
//! u8  serializeType | u24 headerLen
//! header (headerLen bytes)        JSON or ROCKETMQ binary, see `serialize`
//! body   (the rest)
//! ```
//!
//! Short input means "read more" (`Ok(None)`). A frame whose length exceeds the limit, or whose
//! header is inconsistent, is a [`CodecError`]; the connection that sent it should be closed. The
//! decoder never reserves memory for the length a frame announces: the caller's buffer grows
//! only with the bytes that arrive, so a peer that announces 16 MiB and sends 8 bytes costs 8.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::command::{RemotingCommand, SerializeType};
use crate::serialize::{decode_header, encode_header, HeaderFormatError};

/// RocketMQ's default maximum frame (`com.rocketmq.remoting.frameMaxLength`), length field included.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// Why a frame could not be decoded or encoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The frame announces more bytes than the limit allows.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// Announced size, length field included.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The frame's framing or header is inconsistent.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The header bytes could not be decoded.
    #[error(transparent)]
    Header(#[from] HeaderFormatError),
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes and decodes [`RemotingCommand`] frames.
#[derive(Debug, Clone, Copy)]
pub struct RemotingCodec {
    max_frame: usize,
}

impl Default for RemotingCodec {
    fn default() -> Self {
        RemotingCodec {
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

impl RemotingCodec {
    /// A codec refusing frames larger than `max_frame` bytes (length field included).
    pub fn new(max_frame: usize) -> Self {
        RemotingCodec { max_frame }
    }

    /// The frame limit.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }
}

impl Decoder for RemotingCodec {
    type Item = RemotingCommand;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RemotingCommand>, CodecError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let length = i32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        if length < 4 {
            return Err(CodecError::Malformed(format!(
                "frame length {length} is below the minimum of 4"
            )));
        }
        let total = length as usize + 4;
        if total > self.max_frame {
            return Err(CodecError::FrameTooLarge {
                len: total,
                max: self.max_frame,
            });
        }
        if src.len() < total {
            return Ok(None);
        }
        let mut frame = src.split_to(total);
        frame.advance(4);
        let word = frame.get_u32();
        let kind_byte = (word >> 24) as u8;
        let header_len = (word & 0x00FF_FFFF) as usize;
        let kind = SerializeType::from_code(kind_byte)
            .ok_or_else(|| CodecError::Malformed(format!("unknown serialize type {kind_byte}")))?;
        if header_len > frame.len() {
            return Err(CodecError::Malformed(format!(
                "header length {header_len} exceeds the {} bytes left in the frame",
                frame.len()
            )));
        }
        let header_bytes = frame.split_to(header_len);
        let h = decode_header(kind, &header_bytes)?;
        Ok(Some(RemotingCommand {
            code: h.code,
            language: h.language,
            version: h.version,
            opaque: h.opaque,
            flag: h.flag,
            remark: h.remark,
            ext_fields: h.ext_fields,
            body: frame.freeze(),
            serialize_type: kind,
        }))
    }
}

impl Encoder<RemotingCommand> for RemotingCodec {
    type Error = CodecError;

    fn encode(&mut self, cmd: RemotingCommand, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode_frame(&cmd, dst, self.max_frame)
    }
}

/// Appends the frame of `cmd` to `dst`; a frame over `max_frame` bytes leaves `dst` unchanged
/// and is an error.
pub fn encode_frame(cmd: &RemotingCommand, dst: &mut BytesMut, max_frame: usize) -> Result<(), CodecError> {
    let start = dst.len();
    dst.reserve(8 + 256 + cmd.body.len());
    dst.put_u64(0); // length and header-length words, patched below
    encode_header(cmd, dst);
    let header_len = dst.len() - start - 8;
    if header_len > 0x00FF_FFFF {
        dst.truncate(start);
        return Err(CodecError::Malformed(format!(
            "header of {header_len} bytes does not fit 24 bits"
        )));
    }
    let total = 8 + header_len + cmd.body.len();
    if total > max_frame {
        dst.truncate(start);
        return Err(CodecError::FrameTooLarge {
            len: total,
            max: max_frame,
        });
    }
    dst.put_slice(&cmd.body);
    let length = (total - 4) as u32;
    let word = ((cmd.serialize_type.code() as u32) << 24) | header_len as u32;
    dst[start..start + 4].copy_from_slice(&length.to_be_bytes());
    dst[start + 4..start + 8].copy_from_slice(&word.to_be_bytes());
    Ok(())
}

/// Encodes one command into a fresh buffer (tests, tools).
pub fn encode_command(cmd: &RemotingCommand) -> Result<BytesMut, CodecError> {
    let mut buf = BytesMut::new();
    encode_frame(cmd, &mut buf, usize::MAX)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::{RequestCode, ResponseCode};

    fn sample(kind: SerializeType) -> RemotingCommand {
        let mut cmd = RemotingCommand::request(RequestCode::PULL_MESSAGE)
            .with_ext("topic", "TopicTest")
            .with_ext("queueId", 3)
            .with_body(&b"payload"[..])
            .with_remark("hello \u{1} world");
        cmd.opaque = 77;
        cmd.serialize_type = kind;
        cmd
    }

    #[test]
    fn round_trips_both_serializations() {
        for kind in [SerializeType::Json, SerializeType::RocketMq] {
            let cmd = sample(kind);
            let mut buf = encode_command(&cmd).unwrap();
            let decoded = RemotingCodec::default().decode(&mut buf).unwrap().unwrap();
            assert_eq!(decoded, cmd);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn short_input_reads_more() {
        let full = encode_command(&sample(SerializeType::RocketMq)).unwrap();
        for cut in 0..full.len() {
            let mut part = BytesMut::from(&full[..cut]);
            assert!(
                RemotingCodec::default().decode(&mut part).unwrap().is_none(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn oversized_and_malformed_frames_are_errors() {
        let mut codec = RemotingCodec::new(1024);
        let mut big = BytesMut::from(&(2000u32).to_be_bytes()[..]);
        assert!(matches!(
            codec.decode(&mut big),
            Err(CodecError::FrameTooLarge { .. })
        ));
        let mut tiny = BytesMut::from(&[0, 0, 0, 1, 0][..]);
        assert!(matches!(codec.decode(&mut tiny), Err(CodecError::Malformed(_))));
        let mut bad_type = BytesMut::from(&[0, 0, 0, 4, 9, 0, 0, 0][..]);
        assert!(matches!(
            codec.decode(&mut bad_type),
            Err(CodecError::Malformed(_))
        ));
        let mut bad_json = BytesMut::from(&[0, 0, 0, 6, 0, 0, 0, 2, b'{', b'x'][..]);
        assert!(matches!(codec.decode(&mut bad_json), Err(CodecError::Header(_))));
    }

    #[test]
    fn response_always_has_ext_fields_in_json() {
        let req = sample(SerializeType::Json);
        let resp = req.reply(ResponseCode::SUCCESS, None);
        let buf = encode_command(&resp).unwrap();
        let text = String::from_utf8_lossy(&buf[8..]);
        assert!(text.contains("\"extFields\":{}"), "{text}");
        assert!(text.contains("\"flag\":1"));
        assert!(text.contains("\"opaque\":77"));
    }
}
