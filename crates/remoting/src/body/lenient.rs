//! Field deserializers for numbers that some clients send as strings: the Apache C++ client
//! writes `subVersion` as a decimal string (`UtilAll::to_string`), where Java writes a number.
//! fastjson on the Java broker accepts both, so we do too. The same client writes the consumer
//! enums (`consumeType`, `messageModel`, `consumeFromWhere`) by ordinal where Java writes names;
//! [`name_or_ordinal_enum!`] reads either.

use std::collections::BTreeSet;

use serde::de::Error;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

fn value_to_i64<E: Error>(value: &Value) -> Result<i64, E> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| E::custom(format!("{n} is not a 64-bit integer"))),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| E::custom(format!("{s:?} is not an integer"))),
        Value::Null => Ok(0),
        other => Err(E::custom(format!("expected an integer, found {other}"))),
    }
}

/// An `i64` written as a number or a numeric string (`null` reads as 0).
pub fn i64_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    value_to_i64(&Value::deserialize(d)?)
}

/// A set of `i32` whose members may be numbers or numeric strings (`null` reads as empty).
pub fn i32_set<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<i32>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(BTreeSet::new()),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                value_to_i64::<D::Error>(v).and_then(|n| {
                    i32::try_from(n).map_err(|_| D::Error::custom(format!("{n} exceeds 32 bits")))
                })
            })
            .collect(),
        other => Err(D::Error::custom(format!(
            "expected an array of integers, found {other}"
        ))),
    }
}

/// A set of strings that may be written as `null`.
pub fn string_set<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<String>, D::Error> {
    Ok(Option::<BTreeSet<String>>::deserialize(d)?.unwrap_or_default())
}

/// Implements `Deserialize` for a fieldless enum from its Java name or its ordinal (the variants
/// must be listed in Java's declaration order).
macro_rules! name_or_ordinal_enum {
    ($name:ident { $($variant:ident),+ $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::Error;
                const VARIANTS: &[$name] = &[$($name::$variant),+];
                match serde_json::Value::deserialize(d)? {
                    serde_json::Value::String(s) => match s.as_str() {
                        $(stringify!($variant) => Ok($name::$variant),)+
                        other => Err(D::Error::custom(format!(
                            "unknown {} {other:?}", stringify!($name)
                        ))),
                    },
                    serde_json::Value::Number(n) => n
                        .as_u64()
                        .and_then(|i| VARIANTS.get(i as usize).copied())
                        .ok_or_else(|| D::Error::custom(format!("no {} with ordinal {n}", stringify!($name)))),
                    other => Err(D::Error::custom(format!("expected a {} name or ordinal, found {other}", stringify!($name)))),
                }
            }
        }
    };
}
pub(crate) use name_or_ordinal_enum;
