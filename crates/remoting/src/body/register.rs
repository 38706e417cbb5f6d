//! `RegisterBrokerBody` (the REGISTER_BROKER request body) in both its JSON and compressed forms,
//! and the `bodyCrc32` helper.
//!
//! Compressed form (`compressed=true`), a zlib stream (Java `DeflaterOutputStream`) of:
//!
//! ```text
//! i32 len, DataVersion JSON
//! i32 topicCount
//! topicCount × (i32 len, TopicConfig text "<name> <read> <write> <perm> <filterType>")
//! i32 len, filterServerList JSON array
//! ```
//!
//! All integers big-endian. Decoding bounds the inflated size ([`MAX_INFLATED`], the frame limit:
//! the stream is cut there as it inflates) and checks every length against the bytes left, so a
//! hostile body cannot make it allocate without limit. [`RegisterBrokerBody::decode_limited`]
//! also refuses more topics or longer topic names than [`RegisterLimits`] allow, the compressed
//! form before it builds a single topic (its count comes first).

use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};

use super::topic::{DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use super::{from_fastjson, BodyError, JsonBody};

/// Largest inflated compressed body accepted: the frame limit, as if the body had been sent
/// plain. A zlib bomb stops inflating here.
pub const MAX_INFLATED: u64 = crate::codec::DEFAULT_MAX_FRAME as u64;

/// How many topics, and how long their names, one registration may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterLimits {
    /// Most topics.
    pub max_topics: usize,
    /// Longest topic name, bytes.
    pub max_topic_name_len: usize,
}

impl RegisterLimits {
    /// No bound beyond the frame (tests and tools that decode their own bodies).
    pub const NONE: RegisterLimits = RegisterLimits {
        max_topics: usize::MAX,
        max_topic_name_len: usize::MAX,
    };

    fn check_count(&self, count: usize) -> Result<(), BodyError> {
        if count > self.max_topics {
            return Err(BodyError::Binary(format!(
                "{count} topics exceed the limit of {} per broker",
                self.max_topics
            )));
        }
        Ok(())
    }

    fn check_name(&self, name: &str) -> Result<(), BodyError> {
        if name.len() > self.max_topic_name_len {
            return Err(BodyError::Binary(format!(
                "topic name {} of {} bytes exceeds the limit of {} bytes",
                crate::clip::clip(name),
                name.len(),
                self.max_topic_name_len
            )));
        }
        Ok(())
    }
}

/// What a broker registers: its topic table and filter servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterBrokerBody {
    /// Filter server addresses (always empty here).
    pub filter_server_list: Vec<String>,
    /// The broker's topic table and its version.
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

impl JsonBody for RegisterBrokerBody {}

impl RegisterBrokerBody {
    /// Encodes in the form the `compressed` header flag announces.
    pub fn encode_as(&self, compressed: bool) -> bytes::Bytes {
        if compressed {
            self.encode_compressed().into()
        } else {
            self.encode()
        }
    }

    /// Decodes the form the `compressed` header flag announces.
    pub fn decode_as(bytes: &[u8], compressed: bool) -> Result<Self, BodyError> {
        Self::decode_limited(bytes, compressed, RegisterLimits::NONE)
    }

    /// Decodes the form the `compressed` header flag announces, refusing a body past `limits`.
    pub fn decode_limited(bytes: &[u8], compressed: bool, limits: RegisterLimits) -> Result<Self, BodyError> {
        let body = if compressed {
            Self::decode_compressed_limited(bytes, limits)?
        } else {
            Self::decode(bytes)?
        };
        let table = &body.topic_config_serialize_wrapper.topic_config_table;
        limits.check_count(table.len())?;
        for (key, tc) in table {
            limits.check_name(key)?;
            limits.check_name(&tc.topic_name)?;
        }
        Ok(body)
    }

    /// The compressed form (best compression, as Java's broker uses).
    pub fn encode_compressed(&self) -> Vec<u8> {
        let mut raw = Vec::new();
        let mut put = |bytes: &[u8]| {
            raw.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
            raw.extend_from_slice(bytes);
        };
        let wrapper = &self.topic_config_serialize_wrapper;
        put(wrapper.data_version.to_json().as_bytes());
        raw.extend_from_slice(&(wrapper.topic_config_table.len() as i32).to_be_bytes());
        for tc in wrapper.topic_config_table.values() {
            let text = tc.encode_text();
            raw.extend_from_slice(&(text.len() as i32).to_be_bytes());
            raw.extend_from_slice(text.as_bytes());
        }
        let filters = serde_json::to_string(&self.filter_server_list).unwrap_or_else(|_| "[]".into());
        raw.extend_from_slice(&(filters.len() as i32).to_be_bytes());
        raw.extend_from_slice(filters.as_bytes());
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::best());
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(&raw);
        enc.finish().unwrap_or_default()
    }

    /// Parses the compressed form.
    pub fn decode_compressed(bytes: &[u8]) -> Result<Self, BodyError> {
        Self::decode_compressed_limited(bytes, RegisterLimits::NONE)
    }

    fn decode_compressed_limited(bytes: &[u8], limits: RegisterLimits) -> Result<Self, BodyError> {
        let mut raw = Vec::new();
        ZlibDecoder::new(bytes)
            .take(MAX_INFLATED + 1)
            .read_to_end(&mut raw)
            .map_err(|e| BodyError::Binary(format!("bad zlib stream: {e}")))?;
        if raw.len() as u64 > MAX_INFLATED {
            return Err(BodyError::Binary(format!("inflates beyond {MAX_INFLATED} bytes")));
        }
        let mut r = Reader { buf: &raw };
        let data_version: DataVersion = from_fastjson(r.chunk()?)?;
        let count = r.i32()?;
        limits.check_count(usize::try_from(count).unwrap_or(0))?;
        let mut wrapper = TopicConfigSerializeWrapper {
            data_version,
            ..Default::default()
        };
        for _ in 0..count.max(0) {
            let text = std::str::from_utf8(r.chunk()?)
                .map_err(|_| BodyError::Binary("topic config text is not UTF-8".into()))?;
            let tc = TopicConfig::decode_text(text).ok_or_else(|| {
                BodyError::Binary(format!("bad topic config text {:?}", crate::clip::clip(text)))
            })?;
            limits.check_name(&tc.topic_name)?;
            wrapper.topic_config_table.insert(tc.topic_name.clone(), tc);
        }
        let filter_server_list = from_fastjson(r.chunk()?)?;
        Ok(RegisterBrokerBody {
            filter_server_list,
            topic_config_serialize_wrapper: wrapper,
        })
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn i32(&mut self) -> Result<i32, BodyError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<4>()
            .ok_or_else(|| BodyError::Binary("truncated length".into()))?;
        self.buf = rest;
        Ok(i32::from_be_bytes(*head))
    }

    fn chunk(&mut self) -> Result<&'a [u8], BodyError> {
        let len = self.i32()?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= self.buf.len())
            .ok_or_else(|| {
                BodyError::Binary(format!("length {len} exceeds the {} bytes left", self.buf.len()))
            })?;
        let (chunk, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(chunk)
    }
}

/// `UtilAll.crc32`: CRC32 of `bytes` with the sign bit cleared, as sent in `bodyCrc32`.
pub fn body_crc32(bytes: &[u8]) -> i32 {
    (crc32fast::hash(bytes) & 0x7FFF_FFFF) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::topic::TopicFilterType;

    fn sample() -> RegisterBrokerBody {
        let mut body = RegisterBrokerBody::default();
        let w = &mut body.topic_config_serialize_wrapper;
        w.data_version = DataVersion {
            counter: 12,
            timestamp: 1_700_000_000_000,
        };
        w.topic_config_table
            .insert("TopicTest".into(), TopicConfig::new("TopicTest", 4));
        let tbw = TopicConfig {
            perm: 7,
            ..TopicConfig::new("TBW102", 8)
        };
        w.topic_config_table.insert("TBW102".into(), tbw);
        body
    }

    #[test]
    fn json_form_round_trips_and_matches_protocol_md() {
        let body = sample();
        let text = body.to_json();
        assert!(text.starts_with(r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":12,"timestamp":1700000000000},"topicConfigTable":{"TBW102":{"order":false,"perm":7,"#), "{text}");
        assert_eq!(
            RegisterBrokerBody::decode_as(&body.encode_as(false), false).unwrap(),
            body
        );
    }

    #[test]
    fn compressed_form_round_trips() {
        let body = sample();
        let bytes = body.encode_as(true);
        assert_eq!(bytes[0], 0x78, "zlib header");
        assert_eq!(RegisterBrokerBody::decode_as(&bytes, true).unwrap(), body);
        let multi = {
            let mut b = body.clone();
            b.topic_config_serialize_wrapper
                .topic_config_table
                .get_mut("TopicTest")
                .unwrap()
                .topic_filter_type = TopicFilterType::MULTI_TAG;
            b.filter_server_list.push("10.0.0.9:30000".into());
            b
        };
        assert_eq!(
            RegisterBrokerBody::decode_compressed(&multi.encode_compressed()).unwrap(),
            multi
        );
    }

    #[test]
    fn compressed_garbage_is_an_error() {
        assert!(RegisterBrokerBody::decode_compressed(b"not zlib").is_err());
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&[0, 0, 0, 100, b'{']).unwrap();
        assert!(RegisterBrokerBody::decode_compressed(&enc.finish().unwrap()).is_err());
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&[0xFF, 0xFF, 0xFF, 0xFF]).unwrap();
        assert!(RegisterBrokerBody::decode_compressed(&enc.finish().unwrap()).is_err());
        let full = sample().encode_compressed();
        for cut in 0..full.len() {
            let _ = RegisterBrokerBody::decode_compressed(&full[..cut]);
        }
    }

    #[test]
    fn a_zlib_bomb_stops_at_the_frame_limit() {
        // 32 MiB of zeros compress to about 32 KB.
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..32 {
            enc.write_all(&zeros).unwrap();
        }
        let bomb = enc.finish().unwrap();
        let err = RegisterBrokerBody::decode_as(&bomb, true).unwrap_err();
        assert!(
            err.to_string().contains("inflates beyond 16777216 bytes"),
            "{err}"
        );
    }

    #[test]
    fn limits_refuse_too_many_topics_and_long_names_in_both_forms() {
        let limits = RegisterLimits {
            max_topics: 1,
            max_topic_name_len: 127,
        };
        for compressed in [false, true] {
            let two = sample().encode_as(compressed);
            let err = RegisterBrokerBody::decode_limited(&two, compressed, limits).unwrap_err();
            assert!(
                err.to_string().contains("2 topics exceed the limit of 1"),
                "{err}"
            );
            let mut long = RegisterBrokerBody::default();
            let name = "T".repeat(128);
            long.topic_config_serialize_wrapper
                .topic_config_table
                .insert(name.clone(), TopicConfig::new(&name, 4));
            let bytes = long.encode_as(compressed);
            let err = RegisterBrokerBody::decode_limited(&bytes, compressed, limits).unwrap_err();
            assert!(
                err.to_string().contains("128 bytes exceeds the limit of 127"),
                "{err}"
            );
            let ok = RegisterBrokerBody::default().encode_as(compressed);
            RegisterBrokerBody::decode_limited(&ok, compressed, limits).unwrap();
        }
    }

    #[test]
    fn crc32_clears_the_sign_bit() {
        assert_eq!(body_crc32(b""), 0);
        // CRC32("123456789") = 0xCBF43926; the sign bit is cleared.
        assert_eq!(body_crc32(b"123456789"), 0x4BF4_3926);
    }
}
