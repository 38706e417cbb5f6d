//! Typed custom headers: structs converted to and from a frame's string-valued `extFields`.
//!
//! Java sends every header field as a string and parses it with `Integer.parseInt`,
//! `Long.parseLong` or `Boolean.parseBoolean`. [`ExtValue`] does the same for each Rust field type;
//! `Option<T>` marks a nullable field and plain `T` a required (`@CFNotNull`) one. Unknown extFields
//! are ignored: real C++ clients add `AccessKey`, `Signature` and `OnsChannel` to every request.
//!
//! [`command_header!`] declares a header struct with the wire name of each field, and
//! [`RpcRequest`] ties a request header to its request code and its response header, so that a
//! typed call returns the right type.

use std::collections::HashMap;

use crate::code::RequestCode;

/// The "custom header" of a frame: every value is a string, as Java sends them. Hashed with
/// foldhash (randomly seeded, so still safe against crafted keys), which is several times
/// cheaper than the default SipHash for these short keys; the broker builds and reads such a
/// map for every request.
pub type ExtFields = HashMap<String, String, foldhash::fast::RandomState>;

/// A header field that is missing or cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A required field is absent.
    #[error("the request header field `{0}` is required but missing")]
    Missing(&'static str),
    /// A field is present but its value does not parse as the field's type.
    #[error("the request header field `{field}` has the invalid value {value:?}: {expected}")]
    Invalid {
        /// Wire name of the field.
        field: &'static str,
        /// The value received, clipped to [`crate::clip::CLIP_BYTES`].
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// A value that can live in an extField.
pub trait ExtValue: Sized {
    /// Parses the field `name` from its raw value (`None` when absent).
    fn parse_ext(name: &'static str, raw: Option<&str>) -> Result<Self, HeaderError>;
    /// Renders the value; `None` omits the field.
    fn render_ext(&self) -> Option<String>;
}

macro_rules! numeric_ext_value {
    ($($t:ty => $expected:expr),+) => {$(
        impl ExtValue for $t {
            fn parse_ext(name: &'static str, raw: Option<&str>) -> Result<Self, HeaderError> {
                let raw = raw.ok_or(HeaderError::Missing(name))?;
                raw.trim().parse::<$t>().map_err(|_| HeaderError::Invalid {
                    field: name,
                    value: crate::clip::clip(raw).into_owned(),
                    expected: $expected,
                })
            }
            fn render_ext(&self) -> Option<String> {
                Some(self.to_string())
            }
        }
    )+};
}

numeric_ext_value!(i32 => "a 32-bit integer", i64 => "a 64-bit integer", i16 => "a 16-bit integer", f64 => "a number");

impl ExtValue for bool {
    fn parse_ext(name: &'static str, raw: Option<&str>) -> Result<Self, HeaderError> {
        // Boolean.parseBoolean: "true" (any case) is true, everything else false.
        let raw = raw.ok_or(HeaderError::Missing(name))?;
        Ok(raw.trim().eq_ignore_ascii_case("true"))
    }
    fn render_ext(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl ExtValue for String {
    fn parse_ext(name: &'static str, raw: Option<&str>) -> Result<Self, HeaderError> {
        raw.map(str::to_string).ok_or(HeaderError::Missing(name))
    }
    fn render_ext(&self) -> Option<String> {
        Some(self.clone())
    }
}

impl<T: ExtValue> ExtValue for Option<T> {
    fn parse_ext(name: &'static str, raw: Option<&str>) -> Result<Self, HeaderError> {
        match raw {
            // Java writes `null` fields by omitting them; an empty string for a number means the same.
            None => Ok(None),
            Some("") => Ok(None),
            Some(s) => T::parse_ext(name, Some(s)).map(Some),
        }
    }
    fn render_ext(&self) -> Option<String> {
        self.as_ref().and_then(T::render_ext)
    }
}

/// A struct that converts to and from extFields.
pub trait CommandHeader: Sized {
    /// Parses the header; errors name the offending field.
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError>;
    /// Renders the header; `None` values are omitted.
    fn to_ext_fields(&self) -> ExtFields;
}

/// A request header that names its request code and the header of its response.
pub trait RpcRequest: CommandHeader {
    /// The request code this header travels with.
    const CODE: RequestCode;
    /// The response's custom header.
    type Response: CommandHeader;
}

/// The empty header, for requests and responses without extFields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmptyHeader;

impl CommandHeader for EmptyHeader {
    fn from_ext_fields(_: &ExtFields) -> Result<Self, HeaderError> {
        Ok(EmptyHeader)
    }
    fn to_ext_fields(&self) -> ExtFields {
        ExtFields::default()
    }
}

/// Declares a header struct whose fields map to named extFields.
///
/// ```
/// rmq_remoting::command_header! {
///     /// Example.
///     pub struct ExampleHeader {
///         /// The topic.
///         topic: String = "topic",
///         /// Optional queue.
///         queue_id: Option<i32> = "queueId",
///     }
/// }
/// ```
#[macro_export]
macro_rules! command_header {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty = $wire:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name { $($(#[$fmeta])* pub $field: $ty),* }

        impl $crate::header::CommandHeader for $name {
            #[allow(unused_variables)]
            fn from_ext_fields(fields: &$crate::header::ExtFields) -> Result<Self, $crate::header::HeaderError> {
                Ok($name {
                    $($field: <$ty as $crate::header::ExtValue>::parse_ext(
                        $wire, fields.get($wire).map(String::as_str))?),*
                })
            }
            fn to_ext_fields(&self) -> $crate::header::ExtFields {
                #[allow(unused_mut)]
                let mut fields = $crate::header::ExtFields::default();
                $(if let Some(v) = $crate::header::ExtValue::render_ext(&self.$field) {
                    fields.insert($wire.to_string(), v);
                })*
                fields
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    command_header! {
        /// Test header.
        pub struct Sample {
            topic: String = "topic",
            queue_id: i32 = "queueId",
            offset: Option<i64> = "offset",
            order: bool = "order",
        }
    }

    fn fields(pairs: &[(&str, &str)]) -> ExtFields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn round_trip_and_unknown_fields_ignored() {
        let h = Sample {
            topic: "T".into(),
            queue_id: 3,
            offset: Some(-5),
            order: true,
        };
        let mut ext = h.to_ext_fields();
        ext.insert("Signature".into(), "xyz".into());
        assert_eq!(Sample::from_ext_fields(&ext).unwrap(), h);
        let none = Sample {
            offset: None,
            ..h.clone()
        };
        assert!(!none.to_ext_fields().contains_key("offset"));
    }

    #[test]
    fn errors_name_the_field() {
        let missing = Sample::from_ext_fields(&fields(&[("topic", "T"), ("order", "false")]));
        assert_eq!(missing, Err(HeaderError::Missing("queueId")));
        let bad = Sample::from_ext_fields(&fields(&[("topic", "T"), ("queueId", "x1"), ("order", "no")]));
        assert!(matches!(bad, Err(HeaderError::Invalid { field: "queueId", .. })));
        assert!(bad.unwrap_err().to_string().contains("queueId"));
    }
}
