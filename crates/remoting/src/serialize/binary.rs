//! ROCKETMQ binary header (serialize type 1):
//!
//! ```text
//! i16 code | u8 language | i16 version | i32 opaque | i32 flag
//! i32 remarkLen | remark (UTF-8)            remarkLen 0 = null
//! i32 extLen    | { i16 keyLen | key | i32 valLen | value } ...   extLen = bytes of the block
//! ```

use bytes::{BufMut, BytesMut};

use super::{HeaderFields, HeaderFormatError};
use crate::code::LanguageCode;
use crate::command::{ExtFields, RemotingCommand};

fn err(detail: impl Into<String>) -> HeaderFormatError {
    HeaderFormatError {
        kind: "ROCKETMQ",
        detail: detail.into(),
    }
}

/// A cursor over the header bytes that reports, rather than panics on, short input.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], HeaderFormatError> {
        if self.buf.len() < n {
            return Err(err(format!("{what} needs {n} bytes, {} left", self.buf.len())));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn i16(&mut self, what: &str) -> Result<i16, HeaderFormatError> {
        Ok(i16::from_be_bytes(
            self.take(2, what)?.try_into().expect("2 bytes"),
        ))
    }
    fn i32(&mut self, what: &str) -> Result<i32, HeaderFormatError> {
        Ok(i32::from_be_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    fn string(&mut self, len: usize, what: &str) -> Result<String, HeaderFormatError> {
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| err(format!("{what} is not UTF-8")))
    }
    fn length(&mut self, raw: i64, what: &str) -> Result<usize, HeaderFormatError> {
        if raw < 0 || raw as usize > self.buf.len() {
            return Err(err(format!(
                "{what} length {raw} exceeds the {} bytes left",
                self.buf.len()
            )));
        }
        Ok(raw as usize)
    }
}

pub(super) fn decode(bytes: &[u8]) -> Result<HeaderFields, HeaderFormatError> {
    let mut r = Reader { buf: bytes };
    let code = r.i16("code")? as i32;
    let language_byte = r.take(1, "language")?[0] as i32;
    let language = LanguageCode::try_from(language_byte).unwrap_or(LanguageCode::OTHER);
    let version = r.i16("version")? as i32;
    let opaque = r.i32("opaque")?;
    let flag = r.i32("flag")?;
    let remark_len = r.i32("remark length")?;
    let remark_len = r.length(remark_len as i64, "remark")?;
    let remark = if remark_len == 0 {
        None
    } else {
        Some(r.string(remark_len, "remark")?)
    };
    let ext_len = r.i32("extFields length")?;
    let ext_len = r.length(ext_len as i64, "extFields")?;
    let mut ext = Reader {
        buf: r.take(ext_len, "extFields")?,
    };
    let mut ext_fields = ExtFields::default();
    while !ext.buf.is_empty() {
        let key_len = ext.i16("extField key length")?;
        let key_len = ext.length(key_len as i64, "extField key")?;
        let key = ext.string(key_len, "extField key")?;
        let val_len = ext.i32("extField value length")?;
        let val_len = ext.length(val_len as i64, "extField value")?;
        let value = ext.string(val_len, "extField value")?;
        ext_fields.insert(key, value);
    }
    Ok(HeaderFields {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields,
    })
}

pub(super) fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    dst.put_i16(cmd.code as i16);
    dst.put_u8(cmd.language.code() as u8);
    dst.put_i16(cmd.version as i16);
    dst.put_i32(cmd.opaque);
    dst.put_i32(cmd.flag);
    match cmd.remark.as_deref() {
        Some(remark) if !remark.is_empty() => {
            dst.put_i32(remark.len() as i32);
            dst.put_slice(remark.as_bytes());
        }
        _ => dst.put_i32(0),
    }
    let ext_len: usize = cmd
        .ext_fields
        .iter()
        .map(|(k, v)| 2 + k.len() + 4 + v.len())
        .sum();
    dst.put_i32(ext_len as i32);
    for (k, v) in &cmd.ext_fields {
        dst.put_i16(k.len() as i16);
        dst.put_slice(k.as_bytes());
        dst.put_i32(v.len() as i32);
        dst.put_slice(v.as_bytes());
    }
}
