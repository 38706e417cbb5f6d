//! [`RemotingCommand`]: one RocketMQ frame as a typed value, independent of how it was serialized.
//!
//! Every frame carries the same logical header fields (code, language, version, opaque, flag, remark,
//! extFields) and an opaque body. `flag` bit 0 marks a response, bit 1 a one-way request. A reply is
//! always encoded in the serialize type of the request it answers, which [`RemotingCommand::reply`]
//! takes care of.

use bytes::Bytes;

use crate::code::{LanguageCode, RequestCode, ResponseCode, CURRENT_VERSION};
pub use crate::header::ExtFields;
use crate::header::{CommandHeader, HeaderError};

/// `flag` bit marking a response.
pub const FLAG_RESPONSE: i32 = 1;
/// `flag` bit marking a one-way request (no response is sent).
pub const FLAG_ONEWAY: i32 = 2;

/// How the header of a frame is serialized (the high byte of the header-length word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SerializeType {
    /// Type 0: a JSON object.
    #[default]
    Json,
    /// Type 1: RocketMQ's compact binary layout.
    RocketMq,
}

impl SerializeType {
    /// The byte used on the wire.
    pub fn code(self) -> u8 {
        match self {
            SerializeType::Json => 0,
            SerializeType::RocketMq => 1,
        }
    }

    /// Parses the wire byte.
    pub fn from_code(code: u8) -> Option<SerializeType> {
        match code {
            0 => Some(SerializeType::Json),
            1 => Some(SerializeType::RocketMq),
            _ => None,
        }
    }
}

/// One frame: a request, a one-way request, or a response.
#[derive(Debug, Clone, PartialEq)]
pub struct RemotingCommand {
    /// Request code for requests, response code for responses; raw so unknown codes survive.
    pub code: i32,
    /// The sender's language.
    pub language: LanguageCode,
    /// The sender's version ordinal.
    pub version: i32,
    /// Request id; a response carries its request's opaque.
    pub opaque: i32,
    /// Bit 0 response, bit 1 one-way.
    pub flag: i32,
    /// Human-readable text, mostly error detail in responses.
    pub remark: Option<String>,
    /// The custom header fields.
    pub ext_fields: ExtFields,
    /// The raw body.
    pub body: Bytes,
    /// How this frame's header was (or will be) serialized.
    pub serialize_type: SerializeType,
}

impl RemotingCommand {
    fn new(code: i32, flag: i32) -> Self {
        RemotingCommand {
            code,
            language: LanguageCode::JAVA,
            version: CURRENT_VERSION,
            opaque: 0,
            flag,
            remark: None,
            ext_fields: ExtFields::default(),
            body: Bytes::new(),
            serialize_type: SerializeType::Json,
        }
    }

    /// A request with no custom header.
    pub fn request(code: RequestCode) -> Self {
        Self::new(code.code(), 0)
    }

    /// A request with a raw code (for codes this crate has no name for).
    pub fn raw_request(code: i32) -> Self {
        Self::new(code, 0)
    }

    /// A request carrying `header` in its extFields.
    pub fn request_with<H: CommandHeader>(code: RequestCode, header: &H) -> Self {
        let mut cmd = Self::request(code);
        cmd.ext_fields = header.to_ext_fields();
        cmd
    }

    /// A standalone response (the caller sets opaque and serialize type, or uses [`Self::reply`]).
    pub fn response(code: ResponseCode, remark: Option<String>) -> Self {
        let mut cmd = Self::new(code.code(), FLAG_RESPONSE);
        cmd.remark = remark;
        cmd
    }

    /// A response to `self`: same opaque, same serialize type.
    pub fn reply(&self, code: ResponseCode, remark: impl Into<Option<String>>) -> Self {
        let mut cmd = Self::response(code, remark.into());
        cmd.opaque = self.opaque;
        cmd.serialize_type = self.serialize_type;
        cmd
    }

    /// A SUCCESS response to `self` carrying `header`.
    pub fn reply_with<H: CommandHeader>(&self, header: &H) -> Self {
        let mut cmd = self.reply(ResponseCode::SUCCESS, None);
        cmd.ext_fields = header.to_ext_fields();
        cmd
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the remark.
    pub fn with_remark(mut self, remark: impl Into<String>) -> Self {
        self.remark = Some(remark.into());
        self
    }

    /// Adds one extField.
    pub fn with_ext(mut self, key: &str, value: impl ToString) -> Self {
        self.ext_fields.insert(key.to_string(), value.to_string());
        self
    }

    /// Whether this frame is a response.
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// Whether this frame is a one-way request.
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    /// Marks this request one-way.
    pub fn set_oneway(&mut self) {
        self.flag |= FLAG_ONEWAY;
    }

    /// The typed request code, or the raw number when unknown.
    pub fn request_code(&self) -> Result<RequestCode, i32> {
        RequestCode::try_from(self.code)
    }

    /// The typed response code, or the raw number when unknown.
    pub fn response_code(&self) -> Result<ResponseCode, i32> {
        ResponseCode::try_from(self.code)
    }

    /// Whether this is a SUCCESS response.
    pub fn is_success(&self) -> bool {
        self.code == ResponseCode::SUCCESS.code()
    }

    /// Decodes the custom header; a missing required field or a bad number names the field.
    pub fn decode_header<H: CommandHeader>(&self) -> Result<H, HeaderError> {
        H::from_ext_fields(&self.ext_fields)
    }

    /// One extField, if present.
    pub fn ext(&self, key: &str) -> Option<&str> {
        self.ext_fields.get(key).map(String::as_str)
    }
}
