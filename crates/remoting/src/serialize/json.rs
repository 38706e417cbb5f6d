//! JSON header (serialize type 0), as fastjson writes it: keys in alphabetical order, `null`
//! fields omitted, plus the harmless `serializeTypeCurrentRPC` getter Java emits. Decoding accepts
//! any key order, missing optional keys, unknown keys, non-string extField values (stringified) and
//! trailing whitespace (the C++ client ends its header with a newline).

use std::collections::HashMap;
use std::fmt;

use bytes::{BufMut, BytesMut};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::{HeaderFields, HeaderFormatError};
use crate::code::LanguageCode;
use crate::command::{ExtFields, RemotingCommand};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonHeaderIn {
    code: i32,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    version: Option<i32>,
    #[serde(default)]
    opaque: Option<i32>,
    #[serde(default)]
    flag: Option<i32>,
    #[serde(default)]
    remark: Option<String>,
    #[serde(default)]
    ext_fields: Option<HashMap<String, Lenient>>,
}

/// An extField value: Java sends strings, but a number or boolean is accepted and stringified.
struct Lenient(Option<String>);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lenient;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Lenient, E> {
                Ok(Lenient(Some(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Lenient, E> {
                Ok(Lenient(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lenient, E> {
                Ok(Lenient(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lenient, E> {
                Ok(Lenient(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Lenient, E> {
                Ok(Lenient(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Lenient, E> {
                Ok(Lenient(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonHeaderOut<'a> {
    code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    ext_fields: Option<&'a ExtFields>,
    flag: i32,
    language: &'static str,
    opaque: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    remark: Option<&'a str>,
    #[serde(rename = "serializeTypeCurrentRPC")]
    serialize_type_current_rpc: &'static str,
    version: i32,
}

pub(super) fn decode(bytes: &[u8]) -> Result<HeaderFields, HeaderFormatError> {
    let h: JsonHeaderIn = serde_json::from_slice(bytes).map_err(|e| HeaderFormatError {
        kind: "JSON",
        detail: e.to_string(),
    })?;
    let ext_fields = h
        .ext_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| v.0.map(|v| (k, v)))
        .collect();
    Ok(HeaderFields {
        code: h.code,
        language: h
            .language
            .as_deref()
            .and_then(LanguageCode::from_name)
            .unwrap_or(LanguageCode::OTHER),
        version: h.version.unwrap_or(0),
        opaque: h.opaque.unwrap_or(0),
        flag: h.flag.unwrap_or(0),
        remark: h.remark,
        ext_fields,
    })
}

pub(super) fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    // Responses always carry extFields (the Java client dereferences them unconditionally for sends);
    // requests without a custom header carry none, as Java's do.
    let ext_fields = (!cmd.ext_fields.is_empty() || cmd.is_response()).then_some(&cmd.ext_fields);
    let out = JsonHeaderOut {
        code: cmd.code,
        ext_fields,
        flag: cmd.flag,
        language: cmd.language.name(),
        opaque: cmd.opaque,
        remark: cmd.remark.as_deref(),
        serialize_type_current_rpc: "JSON",
        version: cmd.version,
    };
    // Writing a derived struct of strings and integers into memory cannot fail.
    serde_json::to_writer((&mut *dst).writer(), &out).expect("JSON header serialization is infallible");
}
