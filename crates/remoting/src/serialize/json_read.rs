//! A JSON reader made for the one shape a remoting header has: a flat object of a few numbers
//! and strings plus the `extFields` object of strings. It reads straight into [`HeaderFields`],
//! so a header costs one allocation per extField key and value and nothing else; serde_json,
//! by contrast, went through a generic map and a second copy, and was a quarter of the broker's
//! CPU per send.
//!
//! It accepts all of JSON (RFC 8259): any whitespace, any key order, escapes including
//! surrogate pairs, unknown keys with any value (skipped, nested up to [`MAX_DEPTH`]), and
//! numbers, booleans and nulls among the extFields (stringified as written; a null is dropped).
//! Anything else is an error naming the byte offset; nothing panics.

use super::{HeaderFields, HeaderFormatError};
use crate::code::LanguageCode;
use crate::command::ExtFields;

/// Deepest nesting skipped inside an unknown value.
const MAX_DEPTH: usize = 64;

fn err(at: usize, what: &str) -> HeaderFormatError {
    HeaderFormatError {
        kind: "JSON",
        detail: format!("{what} at byte {at}"),
    }
}

struct Reader<'a> {
    /// The header, validated as UTF-8 once; `text` is its bytes.
    str: &'a str,
    text: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next non-blank byte, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.text.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), HeaderFormatError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(err(self.pos, &format!("expected '{}'", byte as char)))
        }
    }

    /// After a member: `true` at `,` (another follows), `false` at the closing `close`.
    fn next_member(&mut self, close: u8) -> Result<bool, HeaderFormatError> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(err(self.pos, &format!("expected ',' or '{}'", close as char))),
        }
    }

    /// Reads a string; borrowed when it has no escapes.
    fn string(&mut self) -> Result<std::borrow::Cow<'a, str>, HeaderFormatError> {
        self.expect(b'"')?;
        let start = self.pos;
        let rest = &self.text[start..];
        let Some(stop) = memchr::memchr2(b'"', b'\\', rest) else {
            return Err(err(start, "unterminated string"));
        };
        if rest[stop] == b'"' && !rest[..stop].iter().any(|&b| b < 0x20) {
            self.pos = start + stop + 1;
            return Ok(std::borrow::Cow::Borrowed(self.utf8(start, start + stop)?));
        }
        // Escapes or a control character (an error, reported below) from here on.
        let plain = rest[..stop].iter().position(|&b| b < 0x20).unwrap_or(stop);
        let mut out = String::from(self.utf8(start, start + plain)?);
        self.pos = start + plain;
        loop {
            let b = *self
                .text
                .get(self.pos)
                .ok_or_else(|| err(self.pos, "unterminated string"))?;
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(std::borrow::Cow::Owned(out));
                }
                b'\\' => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                0..=0x1F => return Err(err(self.pos, "control character in string")),
                _ => {
                    let run = self.text[self.pos..]
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                        .map_or(self.text.len(), |n| self.pos + n);
                    out.push_str(self.utf8(self.pos, run)?);
                    self.pos = run;
                }
            }
        }
    }

    /// The text between two positions, which always sit next to ASCII delimiters and so on
    /// character boundaries (checked anyway: a bad position is an error, not a panic).
    fn utf8(&self, from: usize, to: usize) -> Result<&'a str, HeaderFormatError> {
        self.str
            .get(from..to)
            .ok_or_else(|| err(from, "string boundary inside a UTF-8 character"))
    }

    /// One escape after its backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), HeaderFormatError> {
        let at = self.pos;
        let b = *self.text.get(at).ok_or_else(|| err(at, "unterminated escape"))?;
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                if (0xD800..0xDC00).contains(&high) {
                    // A high surrogate must be followed by an escaped low one.
                    if self.text.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return Err(err(at, "lone surrogate in \\u escape"));
                    }
                    self.pos += 2;
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(err(at, "bad surrogate pair in \\u escape"));
                    }
                    let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                    char::from_u32(code).ok_or_else(|| err(at, "bad \\u escape"))?
                } else {
                    char::from_u32(high).ok_or_else(|| err(at, "lone surrogate in \\u escape"))?
                }
            }
            _ => return Err(err(at, "unknown escape")),
        };
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, HeaderFormatError> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| err(self.pos, "short \\u escape"))?;
        let mut v = 0u32;
        for &d in digits {
            let n = (d as char)
                .to_digit(16)
                .ok_or_else(|| err(self.pos, "bad hex digit in \\u escape"))?;
            v = v * 16 + n;
        }
        self.pos += 4;
        Ok(v)
    }

    /// The text of a number (validated against JSON's grammar).
    fn number(&mut self) -> Result<&'a str, HeaderFormatError> {
        self.skip_ws();
        let start = self.pos;
        let t = self.text;
        let mut p = start;
        let digits = |p: &mut usize| {
            let from = *p;
            while t.get(*p).is_some_and(u8::is_ascii_digit) {
                *p += 1;
            }
            *p > from
        };
        if t.get(p) == Some(&b'-') {
            p += 1;
        }
        if !digits(&mut p) {
            return Err(err(start, "expected a number"));
        }
        if t.get(p) == Some(&b'.') {
            p += 1;
            if !digits(&mut p) {
                return Err(err(p, "expected digits after '.'"));
            }
        }
        if let Some(b'e' | b'E') = t.get(p) {
            p += 1;
            if let Some(b'+' | b'-') = t.get(p) {
                p += 1;
            }
            if !digits(&mut p) {
                return Err(err(p, "expected exponent digits"));
            }
        }
        self.pos = p;
        self.utf8(start, p)
    }

    fn i32(&mut self, name: &str) -> Result<i32, HeaderFormatError> {
        let at = self.pos;
        let text = self.number()?;
        text.parse().map_err(|_| {
            err(
                at,
                &format!("{name} {} is not a 32-bit integer", crate::clip::clip(text)),
            )
        })
    }

    /// `true`, `false` or `null`, whichever is next.
    fn literal(&mut self) -> Result<&'static str, HeaderFormatError> {
        self.skip_ws();
        for word in ["true", "false", "null"] {
            if self.text[self.pos..].starts_with(word.as_bytes()) {
                self.pos += word.len();
                return Ok(word);
            }
        }
        Err(err(self.pos, "expected a value"))
    }

    /// A string or null.
    fn opt_string(&mut self) -> Result<Option<String>, HeaderFormatError> {
        if self.peek() == Some(b'"') {
            return Ok(Some(self.string()?.into_owned()));
        }
        match self.literal()? {
            "null" => Ok(None),
            _ => Err(err(self.pos, "expected a string or null")),
        }
    }

    /// Skips any value.
    fn skip_value(&mut self, depth: usize) -> Result<(), HeaderFormatError> {
        if depth > MAX_DEPTH {
            return Err(err(self.pos, "value nested too deeply"));
        }
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => {
                self.pos += 1;
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.string()?;
                    self.expect(b':')?;
                    self.skip_value(depth + 1)?;
                    if !self.next_member(b'}')? {
                        return Ok(());
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    if !self.next_member(b']')? {
                        return Ok(());
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            _ => self.literal().map(drop),
        }
    }

    /// The extFields object (or null); a value may be a string, number, boolean or null.
    fn ext_fields(&mut self, into: &mut ExtFields) -> Result<(), HeaderFormatError> {
        if self.peek() != Some(b'{') {
            return match self.literal()? {
                "null" => Ok(()),
                _ => Err(err(self.pos, "extFields must be an object")),
            };
        }
        self.pos += 1;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let key = self.string()?.into_owned();
            self.expect(b':')?;
            let value = match self.peek() {
                Some(b'"') => Some(self.string()?.into_owned()),
                Some(b'-' | b'0'..=b'9') => Some(self.number()?.to_string()),
                Some(b'{' | b'[') => return Err(err(self.pos, "an extFields value must be a string")),
                _ => match self.literal()? {
                    "null" => None,
                    word => Some(word.to_string()),
                },
            };
            match value {
                Some(v) => into.insert(key, v),
                None => into.remove(&key),
            };
            if !self.next_member(b'}')? {
                return Ok(());
            }
        }
    }
}

/// Decodes a JSON header.
pub(super) fn decode(text: &[u8]) -> Result<HeaderFields, HeaderFormatError> {
    let str = std::str::from_utf8(text).map_err(|e| err(e.valid_up_to(), "invalid UTF-8"))?;
    let mut r = Reader { str, text, pos: 0 };
    let mut code = None;
    let mut h = HeaderFields {
        code: 0,
        language: LanguageCode::OTHER,
        version: 0,
        opaque: 0,
        flag: 0,
        remark: None,
        ext_fields: ExtFields::with_capacity_and_hasher(16, Default::default()),
    };
    r.expect(b'{')?;
    if r.peek() == Some(b'}') {
        r.pos += 1;
    } else {
        loop {
            let key = r.string()?;
            r.expect(b':')?;
            match &*key {
                "code" => code = Some(r.i32("code")?),
                "opaque" => h.opaque = r.i32("opaque")?,
                "flag" => h.flag = r.i32("flag")?,
                "version" => h.version = r.i32("version")?,
                "language" => {
                    h.language = r
                        .opt_string()?
                        .as_deref()
                        .and_then(LanguageCode::from_name)
                        .unwrap_or(LanguageCode::OTHER)
                }
                "remark" => h.remark = r.opt_string()?,
                "extFields" => r.ext_fields(&mut h.ext_fields)?,
                _ => r.skip_value(0)?,
            }
            if !r.next_member(b'}')? {
                break;
            }
        }
    }
    r.skip_ws();
    if r.pos != text.len() {
        return Err(err(r.pos, "trailing characters after the header"));
    }
    h.code = code.ok_or_else(|| err(0, "missing field `code`"))?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_java_header() {
        let text = br#"{"code":310,"extFields":{"a":"g","e":"3","i":"WAIT\u0001true"},"flag":0,"language":"JAVA","opaque":42,"serializeTypeCurrentRPC":"JSON","version":409}"#;
        let h = decode(text).unwrap();
        assert_eq!((h.code, h.opaque, h.flag, h.version), (310, 42, 0, 409));
        assert_eq!(h.language, LanguageCode::JAVA);
        assert_eq!(h.ext_fields["i"], "WAIT\u{1}true");
        assert_eq!(h.ext_fields.len(), 3);
    }

    #[test]
    fn lenient_values_unknown_keys_and_whitespace() {
        let text = b" { \"opaque\" : -7 , \"x\" : [1, {\"y\": null}, \"s\"], \"code\":0,\n \"extFields\": {\"n\": 12, \"b\": true, \"z\": null, \"f\": 1.5e3}, \"remark\": \"caf\\u00e9 \\ud83d\\ude00\"}\n";
        let h = decode(text).unwrap();
        assert_eq!(h.opaque, -7);
        assert_eq!(h.ext_fields["n"], "12");
        assert_eq!(h.ext_fields["b"], "true");
        assert_eq!(h.ext_fields["f"], "1.5e3");
        assert!(!h.ext_fields.contains_key("z"));
        assert_eq!(h.remark.as_deref(), Some("café 😀"));
    }

    #[test]
    fn errors_name_the_place() {
        for bad in [
            &b""[..],
            b"{",
            b"{\"code\":1",
            b"{\"code\":\"1\"}",
            b"{\"code\":99999999999}",
            b"{\"opaque\":1}",
            b"{\"code\":1} x",
            b"{\"code\":1,\"remark\":\"a\\qb\"}",
            b"{\"code\":1,\"remark\":\"\\ud800\"}",
            b"{\"code\":1,\"extFields\":{\"a\":[1]}}",
            b"{\"code\":1,\"x\":tru}",
            b"{\"code\":1,\"x\":\"\x01\"}",
            b"{\"code\":-}",
        ] {
            let e = decode(bad).unwrap_err();
            assert_eq!(e.kind, "JSON");
            assert!(!e.detail.is_empty());
        }
        let deep = format!("{{\"code\":1,\"x\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(decode(deep.as_bytes()).unwrap_err().detail.contains("nested"));
    }

    /// Every character escaped as `\uXXXX` (surrogate pairs beyond the BMP), as some JSON
    /// writers do.
    fn escape_all(s: &str) -> String {
        let mut out = String::from("\"");
        for unit in s.encode_utf16() {
            out.push_str(&format!("\\u{unit:04x}"));
        }
        out.push('"');
        out
    }

    proptest::proptest! {
        #[test]
        fn strings_read_back_whatever_the_escaping(s in ".*", key in "[a-zA-Z]{1,8}") {
            for literal in [serde_json::to_string(&s).unwrap(), escape_all(&s)] {
                let text = format!("{{\"code\":1,\"remark\":{literal},\"extFields\":{{\"{key}\":{literal}}}}}");
                let h = decode(text.as_bytes()).unwrap();
                proptest::prop_assert_eq!(h.remark.as_deref(), Some(s.as_str()));
                proptest::prop_assert_eq!(h.ext_fields.get(&key), Some(&s));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
