//! JSON header (serialize type 0), as fastjson writes it: keys in alphabetical order, `null`
//! fields omitted, plus the harmless `serializeTypeCurrentRPC` getter Java emits. Decoding
//! ([`super::json_read`]) accepts any key order, missing optional keys, unknown keys, non-string
//! extField values (stringified) and trailing whitespace (the C++ client ends its header with a
//! newline).
//!
//! The writer is hand-made: a header is a handful of integers and strings, and writing them
//! directly costs a fraction of a generic serializer.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use crate::command::RemotingCommand;

pub(super) use super::json_read::decode;

/// Appends `s` as a JSON string literal (escaping as serde_json does: the two-character forms
/// where JSON has them, `\u00XX` for other control characters).
fn put_str(dst: &mut BytesMut, s: &str) {
    dst.put_u8(b'"');
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0C => b'f',
            0..=0x1F => 0,
            _ => continue,
        };
        dst.put_slice(&bytes[run..i]);
        run = i + 1;
        if short != 0 {
            dst.put_slice(&[b'\\', short]);
        } else {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            dst.put_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]);
        }
    }
    dst.put_slice(&bytes[run..]);
    dst.put_u8(b'"');
}

fn put_int(dst: &mut BytesMut, v: i32) {
    // Formatting into a BytesMut cannot fail: it grows as needed.
    let _ = write!(dst, "{v}");
}

pub(super) fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    dst.put_slice(b"{\"code\":");
    put_int(dst, cmd.code);
    // Responses always carry extFields (the Java client dereferences them unconditionally for
    // sends); requests without a custom header carry none, as Java's do.
    if !cmd.ext_fields.is_empty() || cmd.is_response() {
        dst.put_slice(b",\"extFields\":{");
        for (i, (k, v)) in cmd.ext_fields.iter().enumerate() {
            if i > 0 {
                dst.put_u8(b',');
            }
            put_str(dst, k);
            dst.put_u8(b':');
            put_str(dst, v);
        }
        dst.put_u8(b'}');
    }
    dst.put_slice(b",\"flag\":");
    put_int(dst, cmd.flag);
    dst.put_slice(b",\"language\":");
    put_str(dst, cmd.language.name());
    dst.put_slice(b",\"opaque\":");
    put_int(dst, cmd.opaque);
    if let Some(remark) = cmd.remark.as_deref() {
        dst.put_slice(b",\"remark\":");
        put_str(dst, remark);
    }
    dst.put_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    put_int(dst, cmd.version);
    dst.put_u8(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::{RequestCode, ResponseCode};

    #[test]
    fn strings_are_escaped_like_serde_json() {
        for s in [
            "plain",
            "q\"b\\s/",
            "\u{1}\u{2}\n\r\t\u{8}\u{c}\u{1f}",
            "café 😀",
            "",
        ] {
            let mut dst = BytesMut::new();
            put_str(&mut dst, s);
            assert_eq!(&dst[..], serde_json::to_string(s).unwrap().as_bytes(), "{s:?}");
        }
    }

    #[test]
    fn header_matches_fastjson_layout_and_reads_back() {
        let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
            .with_ext("a", "g\u{1}x")
            .with_remark("r\"k");
        cmd.opaque = i32::MIN;
        let mut dst = BytesMut::new();
        encode(&cmd, &mut dst);
        let text = std::str::from_utf8(&dst).unwrap();
        assert_eq!(
            text,
            r#"{"code":310,"extFields":{"a":"g\u0001x"},"flag":0,"language":"JAVA","opaque":-2147483648,"remark":"r\"k","serializeTypeCurrentRPC":"JSON","version":409}"#
        );
        let back = decode(&dst).unwrap();
        assert_eq!(back.ext_fields["a"], "g\u{1}x");
        assert_eq!(back.opaque, i32::MIN);
        let reply = cmd.reply(ResponseCode::SUCCESS, None);
        let mut dst = BytesMut::new();
        encode(&reply, &mut dst);
        assert!(std::str::from_utf8(&dst)
            .unwrap()
            .contains(r#""extFields":{},"flag":1"#));
    }
}
