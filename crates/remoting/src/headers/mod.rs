//! Typed request and response headers, one file per request family. Each request header
//! implements [`crate::RpcRequest`], naming its code and its response header.
//!
//! Field names are the Java field names (`SendMessageRequestHeaderV2` uses its one-letter names).
//! A field Java marks `@CFNotNull` is a plain type here and its absence is a
//! [`crate::HeaderError::Missing`]; every other field is an `Option`. Requests that carry no
//! extFields (their payload is the body) still get a named empty header, so that each request code
//! has exactly one Rust type that knows its code and its reply.

/// Implements [`crate::RpcRequest`]: `rpc_request!(Header => CODE, Response);`.
macro_rules! rpc_request {
    ($($req:ty => $code:ident, $resp:ty;)+) => {$(
        impl $crate::header::RpcRequest for $req {
            const CODE: $crate::code::RequestCode = $crate::code::RequestCode::$code;
            type Response = $resp;
        }
    )+};
}

pub mod admin;
pub mod client;
pub mod namesrv;
pub mod offset;
pub mod pull;
pub mod query;
pub mod reset;
pub mod send;
pub mod transaction;

#[cfg(test)]
pub(crate) mod test_util {
    use crate::command::ExtFields;
    use crate::header::CommandHeader;

    /// Builds extFields from pairs.
    pub fn ext(pairs: &[(&str, &str)]) -> ExtFields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Asserts that `h` survives a trip through extFields.
    pub fn round_trip<H: CommandHeader + PartialEq + std::fmt::Debug>(h: &H) {
        let back = H::from_ext_fields(&h.to_ext_fields()).expect("decodes what it encoded");
        assert_eq!(&back, h);
    }
}
