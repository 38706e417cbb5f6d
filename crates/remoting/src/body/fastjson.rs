//! A lenient JSON reader for what Java's fastjson writes.
//!
//! fastjson renders a map with non-string keys by writing the key as a bare JSON value:
//! `{"brokerAddrs":{0:"10.0.0.1:10911"}}` (a `Map<Long, String>`) or
//! `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{...}}}` (a `Map<MessageQueue, _>`).
//! Neither is JSON, so serde_json refuses them. This reader accepts standard JSON plus:
//!
//! * object keys that are numbers, objects, arrays, `true`/`false`/`null` or bare identifiers;
//!   such a key becomes the string of its canonical JSON text (`0` → `"0"`, an object → its
//!   `serde_json::to_string`), so `BTreeMap<i64, _>` and [`super::MqMap`] deserialize from it;
//! * single-quoted strings, trailing commas, a leading UTF-8 BOM, and a `L`/`F`/`D` suffix after a
//!   number (fastjson's `WriteClassName` style).
//!
//! Invariants: it never panics, nests at most [`MAX_DEPTH`] arrays/objects (keys included), and
//! reports the byte offset of the first error.

use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

use super::BodyError;

/// Deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 128;

/// Parses fastjson output (or standard JSON) into a [`Value`].
pub fn parse(input: &[u8]) -> Result<Value, BodyError> {
    let mut p = Parser { s: input, pos: 0 };
    if p.s.starts_with(b"\xEF\xBB\xBF") {
        p.pos = 3;
    }
    p.ws();
    let value = p.value(0)?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(p.err("trailing characters after the JSON value"));
    }
    Ok(value)
}

/// Parses fastjson output into `T`.
pub fn from_fastjson<T: DeserializeOwned>(input: &[u8]) -> Result<T, BodyError> {
    let value = parse(input)?;
    serde_json::from_value(value).map_err(|e| BodyError::Shape(e.to_string()))
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> BodyError {
        BodyError::Syntax { at: self.pos, what }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), BodyError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, BodyError> {
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(q @ (b'"' | b'\'')) => self.string(q).map(Value::String),
            Some(b'-' | b'+' | b'0'..=b'9' | b'.') => self.number().map(Value::Number),
            Some(b) if is_ident_start(b) => match self.ident() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                "null" => Ok(Value::Null),
                _ => Err(self.err("unknown literal")),
            },
            Some(_) => Err(self.err("expected a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, BodyError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        self.pos += 1; // '{'
        let mut map = Map::new();
        loop {
            self.ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Value::Object(map));
            }
            let key = self.key(depth)?;
            self.ws();
            self.expect(b':', "expected ':' after an object key")?;
            self.ws();
            let value = self.value(depth)?;
            map.insert(key, value);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(self.err("expected ',' or '}' in an object")),
            }
        }
    }

    fn key(&mut self, depth: usize) -> Result<String, BodyError> {
        match self.peek() {
            Some(q @ (b'"' | b'\'')) => self.string(q),
            Some(b) if is_ident_start(b) => Ok(self.ident().to_string()),
            // Numbers, objects and arrays: keep their canonical JSON text.
            Some(_) => {
                let key = self.value(depth)?;
                Ok(match key {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
            }
            None => Err(self.err("unexpected end of input in an object")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, BodyError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        self.pos += 1; // '['
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.err("expected ',' or ']' in an array")),
            }
        }
    }

    fn ident(&mut self) -> &str {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| is_ident_start(b) || b.is_ascii_digit())
        {
            self.pos += 1;
        }
        // Only ASCII bytes were consumed, so this cannot fail.
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default()
    }

    fn number(&mut self) -> Result<Number, BodyError> {
        let start = self.pos;
        while matches!(self.peek(), Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default();
        let text = text.strip_prefix('+').unwrap_or(text);
        let number = if let Ok(i) = text.parse::<i64>() {
            Number::from(i)
        } else if let Ok(u) = text.parse::<u64>() {
            Number::from(u)
        } else {
            text.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .ok_or(BodyError::Syntax {
                    at: start,
                    what: "malformed number",
                })?
        };
        if matches!(self.peek(), Some(b'L' | b'F' | b'D')) {
            self.pos += 1;
        }
        Ok(number)
    }

    fn string(&mut self, quote: u8) -> Result<String, BodyError> {
        self.pos += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            self.pos += 1;
            match b {
                _ if b == quote => break,
                b'\\' => {
                    let Some(esc) = self.peek() else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.pos += 1;
                    let c = match esc {
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        b'x' => char::from(self.hex(2)? as u8),
                        // `\"`, `\\`, `\/`, `\'` and anything else: the character itself.
                        other => char::from(other),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(b),
            }
        }
        Ok(String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    fn hex(&mut self, digits: usize) -> Result<u32, BodyError> {
        let end = self
            .pos
            .checked_add(digits)
            .filter(|&e| e <= self.s.len())
            .ok_or(self.err("short escape"))?;
        let text = std::str::from_utf8(&self.s[self.pos..end]).map_err(|_| self.err("bad hex escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.err("bad hex escape"))?;
        self.pos = end;
        Ok(v)
    }

    fn unicode_escape(&mut self) -> Result<char, BodyError> {
        let first = self.hex(4)?;
        if (0xD800..0xDC00).contains(&first) && self.s[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let second = self.hex(4)?;
            if (0xDC00..0xE000).contains(&second) {
                let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            self.pos = save;
        }
        Ok(char::from_u32(first).unwrap_or('\u{FFFD}'))
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn standard_json_matches_serde_json() {
        let text = r#"{"a":[1,-2,3.5,1e3,true,false,null],"b":{"c":"d\"\\\/\b\f\n\r\t\u0001\u00e9\ud83d\ude00"},"e":18446744073709551615}"#;
        let ours = parse(text.as_bytes()).unwrap();
        let theirs: Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn unquoted_numeric_keys() {
        let v = parse(br#"{"brokerAddrs":{0:"127.0.0.1:20911",1:"x:1",-1:"y"}}"#).unwrap();
        assert_eq!(
            v,
            json!({"brokerAddrs":{"0":"127.0.0.1:20911","1":"x:1","-1":"y"}})
        );
        #[derive(serde::Deserialize)]
        struct B {
            #[serde(rename = "brokerAddrs")]
            addrs: BTreeMap<i64, String>,
        }
        let b: B = from_fastjson(br#"{"brokerAddrs":{0:"a",1:"b"}}"#).unwrap();
        assert_eq!(b.addrs[&0], "a");
        assert_eq!(b.addrs[&1], "b");
    }

    #[test]
    fn object_keys_become_their_json_text() {
        let v = parse(br#"{{"brokerName":"b","queueId":0,"topic":"T"}:{"x":1}}"#).unwrap();
        let Value::Object(map) = v else {
            panic!("object expected")
        };
        let (key, value) = map.into_iter().next().unwrap();
        let key: Value = serde_json::from_str(&key).unwrap();
        assert_eq!(key, json!({"brokerName":"b","queueId":0,"topic":"T"}));
        assert_eq!(value, json!({"x":1}));
    }

    #[test]
    fn lenient_extras() {
        let v = parse(b"\xEF\xBB\xBF {'a':'it\\'s', b_1:12L, c:[1,2,],}").unwrap();
        assert_eq!(v, json!({"a":"it's","b_1":12,"c":[1,2]}));
    }

    #[test]
    fn errors_not_panics() {
        for bad in [
            &b""[..],
            b"{",
            b"{\"a\"",
            b"{\"a\":",
            b"[1,",
            b"\"abc",
            b"\"\\u12",
            b"\"\\",
            b"{1 2}",
            b"nul",
            b"1 2",
            b"-",
            b"{[}",
            b"\xff",
            b"\"\\ud800\\u",
        ] {
            assert!(
                parse(bad).is_err(),
                "{:?} should fail",
                String::from_utf8_lossy(bad)
            );
        }
        // Invalid UTF-8 inside a string is replaced, as Java's decoder does.
        assert_eq!(parse(b"\"a\xffb\"").unwrap(), json!("a\u{FFFD}b"));
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(matches!(
            parse(deep.as_bytes()),
            Err(BodyError::Syntax {
                what: "nesting too deep",
                ..
            })
        ));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
        let deep_keys = "{".repeat(10_000);
        assert!(parse(deep_keys.as_bytes()).is_err());
        let huge = "[".repeat(1_000_000);
        assert!(parse(huge.as_bytes()).is_err());
    }
}
