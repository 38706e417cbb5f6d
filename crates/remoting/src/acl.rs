//! Request signing of RocketMQ 4.x plain ACL (Apache's `AclClientRPCHook` and the check in
//! `PlainAccessValidator`), shared by the clients that sign and the broker that verifies.
//!
//! A signed request carries `AccessKey` (and `SecurityToken` when one is configured) among its
//! extFields plus `Signature = Base64(HmacSHA1(secretKey, content))`, where `content` is the
//! values of every other extField concatenated in key order (Java `String` order: UTF-16 code
//! units) followed by the raw body. Keys are not part of the content, so the scheme does not bind
//! a value to its key, and nothing in it is unique to one request: a captured request can be
//! replayed as it is. That is Apache's scheme; the README names the gap.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::command::{ExtFields, RemotingCommand};

/// extField holding the account's access key.
pub const ACCESS_KEY: &str = "AccessKey";
/// extField holding the signature.
pub const SIGNATURE: &str = "Signature";
/// extField holding the optional security token.
pub const SECURITY_TOKEN: &str = "SecurityToken";
/// extField the Java client adds to QUERY_MESSAGE for unique-key queries; the broker leaves it
/// out of the signed content.
pub const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";

/// An account's credentials, as a client is configured with them.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionCredentials {
    /// `accessKey` of the account.
    pub access_key: String,
    /// `secretKey` of the account: the HMAC key; it never travels.
    pub secret_key: String,
    /// Optional `SecurityToken`, sent as is.
    pub security_token: Option<String>,
}

impl std::fmt::Debug for SessionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log line.
        f.debug_struct("SessionCredentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<hidden>")
            .field("security_token", &self.security_token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl SessionCredentials {
    /// Credentials without a security token.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        SessionCredentials {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            security_token: None,
        }
    }

    /// Adds `AccessKey`, `SecurityToken` (when set) and `Signature` to `cmd`, as Apache's
    /// client hook does before every request.
    pub fn sign(&self, cmd: &mut RemotingCommand) {
        cmd.ext_fields.remove(SIGNATURE);
        cmd.ext_fields
            .insert(ACCESS_KEY.to_string(), self.access_key.clone());
        if let Some(token) = &self.security_token {
            cmd.ext_fields.insert(SECURITY_TOKEN.to_string(), token.clone());
        }
        let signature = signature(
            self.secret_key.as_bytes(),
            &cmd.ext_fields,
            &cmd.body,
            &[SIGNATURE],
        );
        cmd.ext_fields.insert(SIGNATURE.to_string(), signature);
    }
}

/// Java's `String.compareTo`: by UTF-16 code unit.
fn java_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `Base64(HmacSHA1(secret, values of ext in key order without the `skip` keys, then body))`.
pub fn signature(secret: &[u8], ext: &ExtFields, body: &[u8], skip: &[&str]) -> String {
    let mut keys: Vec<&String> = ext.keys().filter(|k| !skip.contains(&k.as_str())).collect();
    keys.sort_by(|a, b| java_order(a, b));
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail for SHA-1.
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    for k in keys {
        mac.update(ext[k].as_bytes());
    }
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `given` equals `expected` without stopping at the first differing byte.
pub fn signatures_match(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(pairs: &[(&str, &str)]) -> ExtFields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn worked_examples_from_features_md() {
        // Checked with openssl by the feature reference (§4.3).
        assert_eq!(
            signature(b"s", &ext(&[("a", "1"), ("b", "2")]), b"", &[]),
            "sGplKb7Cz/sX0vZkHl2s3LaVVTE="
        );
        let with_ak = ext(&[("b", "2"), ("a", "1"), ("AccessKey", "ak")]);
        assert_eq!(
            signature(b"s", &with_ak, b"", &[]),
            "/cJCaPiBzssHxB/Gy8dbQJTwfWI="
        );
        assert_eq!(
            signature(b"s", &with_ak, b"hello", &[]),
            "cqC8FO+RpReuydl2soFkaTmEgrs="
        );
    }

    #[test]
    fn signing_a_command_matches_the_hand_computed_signature() {
        let mut cmd = RemotingCommand::raw_request(10).with_body(&b"hello"[..]);
        cmd.ext_fields = ext(&[("a", "1"), ("b", "2")]);
        SessionCredentials::new("ak", "s").sign(&mut cmd);
        assert_eq!(cmd.ext(ACCESS_KEY), Some("ak"));
        assert_eq!(cmd.ext(SIGNATURE), Some("cqC8FO+RpReuydl2soFkaTmEgrs="));
        // Signing again (a retried request) replaces the old signature instead of signing it.
        SessionCredentials::new("ak", "s").sign(&mut cmd);
        assert_eq!(cmd.ext(SIGNATURE), Some("cqC8FO+RpReuydl2soFkaTmEgrs="));
    }

    #[test]
    fn keys_sort_as_java_strings() {
        // Upper case before '_' before lower case, as UTF-16 units compare.
        let e = ext(&[("_x", "2"), ("a", "3"), ("Z", "1")]);
        let manual = {
            let mut mac = Hmac::<Sha1>::new_from_slice(b"k").unwrap();
            mac.update(b"123");
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        };
        assert_eq!(signature(b"k", &e, b"", &[]), manual);
        assert!(
            java_order("\u{FFFF}", "\u{10000}").is_gt(),
            "a surrogate pair sorts below U+FFFF"
        );
    }

    #[test]
    fn the_secret_is_not_in_debug_output() {
        let c = SessionCredentials::new("ak", "topsecret");
        assert!(!format!("{c:?}").contains("topsecret"));
        assert!(
            signatures_match("abc", "abc")
                && !signatures_match("abc", "abd")
                && !signatures_match("ab", "abc")
        );
    }
}
