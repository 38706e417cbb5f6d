//! What the index takes from one commit-log record: its size, store time and the keys it is
//! found by (`<topic>#<UNIQ_KEY>` and `<topic>#<token>` for each non-empty token of `KEYS` split
//! on a space, as Apache's `IndexService.buildIndex`), plus Java's `String.hashCode` that picks a
//! key's hash slot.
//!
//! The parse reads only the fields it needs from the bytes in place (no body copy, no CRC: the
//! store checked every record before it counted as dispatched). Bad bytes are an error, never a
//! panic.

use rmq_remoting::message::properties::{self, keys as prop};
use rmq_remoting::message::record::{store_timestamp_pos, BLANK_MAGIC, MESSAGE_MAGIC, SYS_FLAG_POS};
use rmq_remoting::message::sys_flag::{self, STOREHOST_V6};

/// Java's `String.hashCode()` of `s` (over UTF-16 units, wrapping), made non-negative as
/// Apache's `IndexFile.indexKeyHashMethod` does (`i32::MIN` becomes 0).
pub fn key_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for unit in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(unit as i32);
    }
    if h == i32::MIN {
        0
    } else {
        h.abs()
    }
}

/// The index key of `key` in `topic`.
pub fn index_key(topic: &str, key: &str) -> String {
    format!("{topic}#{key}")
}

/// What the bytes at a commit-log position are, for the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanned {
    /// A message record of `size` bytes stored at `store_timestamp`, found by `keys` (empty
    /// when it has none, or is a transaction rollback record, which Apache does not index).
    Message {
        /// Record size.
        size: usize,
        /// Store time, ms.
        store_timestamp: i64,
        /// `topic#key` strings.
        keys: Vec<String>,
    },
    /// The end-of-file filler: continue at the next file.
    Blank,
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_i64(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Reads the record at the start of `buf` (which runs to the end of its file).
pub fn scan(buf: &[u8]) -> Result<Scanned, String> {
    let total = be_i32(buf, 0).ok_or("fewer than 8 bytes")?;
    let magic = be_i32(buf, 4).ok_or("fewer than 8 bytes")?;
    if magic == BLANK_MAGIC {
        return Ok(Scanned::Blank);
    }
    if magic != MESSAGE_MAGIC {
        return Err(format!("bad magic {magic:#x}"));
    }
    let size = usize::try_from(total).map_err(|_| format!("TOTALSIZE {total}"))?;
    let rec = buf
        .get(..size)
        .ok_or_else(|| format!("record of {size} bytes passes the file end"))?;
    let bad = || format!("inconsistent record of {size} bytes");
    let sys_flag = be_i32(rec, SYS_FLAG_POS).ok_or_else(bad)?;
    let ts_pos = store_timestamp_pos(sys_flag);
    let store_timestamp = be_i64(rec, ts_pos).ok_or_else(bad)?;
    let store_host_len = if sys_flag & STOREHOST_V6 != 0 { 20 } else { 8 };
    // STOREHOST, RECONSUMETIMES (4), PREPARED TRANSACTION OFFSET (8), then BODY.
    let body_len_pos = ts_pos + 8 + store_host_len + 12;
    let body_len = usize::try_from(be_i32(rec, body_len_pos).ok_or_else(bad)?).map_err(|_| bad())?;
    let topic_len_pos = body_len_pos + 4 + body_len;
    let topic_len = *rec.get(topic_len_pos).ok_or_else(bad)? as usize;
    let topic = rec
        .get(topic_len_pos + 1..topic_len_pos + 1 + topic_len)
        .ok_or_else(bad)?;
    let props_pos = topic_len_pos + 1 + topic_len;
    let props_len = rec
        .get(props_pos..props_pos + 2)
        .map(|b| i16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(bad)?;
    let props = rec
        .get(props_pos + 2..props_pos + 2 + usize::try_from(props_len).map_err(|_| bad())?)
        .ok_or_else(bad)?;
    let mut keys = Vec::new();
    if sys_flag::transaction_type(sys_flag) != sys_flag::TRANSACTION_ROLLBACK {
        let topic = String::from_utf8_lossy(topic);
        let props = String::from_utf8_lossy(props);
        if let Some(uniq) = properties::find(&props, prop::UNIQ_KEY) {
            keys.push(index_key(&topic, uniq));
        }
        if let Some(list) = properties::find(&props, prop::KEYS) {
            keys.extend(
                list.split(' ')
                    .filter(|k| !k.is_empty())
                    .map(|k| index_key(&topic, k)),
            );
        }
    }
    Ok(Scanned::Message {
        size,
        store_timestamp,
        keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rmq_remoting::message::MessageRecord;

    #[test]
    fn java_hash_matches_the_documented_example() {
        // features.md §2.2: "TopicTest#key1" hashes to -1655984460 in Java.
        assert_eq!(key_hash("TopicTest#key1"), 1_655_984_460);
        assert_eq!(key_hash(""), 0);
        // Non-ASCII text hashes over UTF-16 units, as Java does.
        assert_eq!(key_hash("é"), 0xE9);
        assert_eq!(key_hash("😀"), 0xD83D * 31 + 0xDE00);
    }

    fn record(props: &str, sys_flag: i32) -> Vec<u8> {
        MessageRecord {
            topic: "T".into(),
            store_timestamp: 1_700_000_000_123,
            sys_flag,
            body: Bytes::from_static(b"body"),
            properties: props.into(),
            store_host: "[::1]:10911".parse().unwrap(),
            ..Default::default()
        }
        .to_bytes()
        .unwrap()
        .to_vec()
    }

    #[test]
    fn scans_uniq_key_and_every_key_token() {
        let mut r = record("UNIQ_KEY\u{1}U1\u{2}KEYS\u{1}a  b\u{2}TAGS\u{1}x", 0);
        let len = r.len();
        r.extend_from_slice(&[0; 16]);
        assert_eq!(
            scan(&r).unwrap(),
            Scanned::Message {
                size: len,
                store_timestamp: 1_700_000_000_123,
                keys: vec!["T#U1".into(), "T#a".into(), "T#b".into()],
            }
        );
        let rollback = record("UNIQ_KEY\u{1}U1", sys_flag::TRANSACTION_ROLLBACK);
        assert!(matches!(scan(&rollback).unwrap(), Scanned::Message { keys, .. } if keys.is_empty()));
    }

    #[test]
    fn bad_bytes_are_errors() {
        let r = record("KEYS\u{1}k", 0);
        for cut in [0, 7, 30, r.len() - 1] {
            assert!(scan(&r[..cut]).is_err(), "cut at {cut}");
        }
        let mut blank = 64i32.to_be_bytes().to_vec();
        blank.extend_from_slice(&BLANK_MAGIC.to_be_bytes());
        assert_eq!(scan(&blank).unwrap(), Scanned::Blank);
        assert!(scan(&[0u8; 32]).is_err());
        let mut lying = r.clone();
        lying[3] = lying[3].wrapping_add(40); // TOTALSIZE past the buffer
        assert!(scan(&lying).is_err());
    }
}
