//! Header serializations: JSON (type 0) and ROCKETMQ binary (type 1).
//!
//! Both carry the same logical fields; [`decode_header`] and [`encode_header`] pick the layout by
//! [`SerializeType`]. Decoding never panics: a short or inconsistent header is a [`HeaderFormatError`].

mod binary;
mod json;
mod json_read;

use bytes::BytesMut;

use crate::code::LanguageCode;
use crate::command::{ExtFields, RemotingCommand, SerializeType};

/// The header bytes of a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {kind} header: {detail}")]
pub struct HeaderFormatError {
    /// "JSON" or "ROCKETMQ".
    pub kind: &'static str,
    /// What was wrong.
    pub detail: String,
}

/// The header fields of a frame, without body.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderFields {
    pub code: i32,
    pub language: LanguageCode,
    pub version: i32,
    pub opaque: i32,
    pub flag: i32,
    pub remark: Option<String>,
    pub ext_fields: ExtFields,
}

/// Decodes header bytes of the given type.
pub fn decode_header(kind: SerializeType, bytes: &[u8]) -> Result<HeaderFields, HeaderFormatError> {
    match kind {
        SerializeType::Json => json::decode(bytes),
        SerializeType::RocketMq => binary::decode(bytes),
    }
}

/// Appends the header of `cmd` to `dst` in `cmd.serialize_type`.
pub fn encode_header(cmd: &RemotingCommand, dst: &mut BytesMut) {
    match cmd.serialize_type {
        SerializeType::Json => json::encode(cmd, dst),
        SerializeType::RocketMq => binary::encode(cmd, dst),
    }
}
