//! The commit-log record: what the broker stores, what a pull returns (records back to back), and
//! what VIEW_MESSAGE_BY_ID answers. All integers big-endian.
//!
//! ```text
//! off size field                     off size field
//!   0  4  TOTALSIZE                   48  8|20 BORNHOST (ip + i32 port; 20 when sysFlag&0x10)
//!   4  4  MAGICCODE 0xDAA320A7        ..  8  STORETIMESTAMP
//!   8  4  BODYCRC (crc32 & 0x7FFFFFFF) ..  8|20 STOREHOST (20 when sysFlag&0x20)
//!  12  4  QUEUEID                     ..  4  RECONSUMETIMES
//!  16  4  FLAG                        ..  8  PREPARED TRANSACTION OFFSET
//!  20  8  QUEUEOFFSET                 ..  4+n BODY
//!  28  8  PHYSICALOFFSET              ..  1+t TOPIC (1-byte length)
//!  36  4  SYSFLAG                     ..  2+p PROPERTIES (i16 length)
//!  40  8  BORNTIMESTAMP
//! ```
//!
//! TOTALSIZE = 91 + n + t + p with IPv4 hosts; each IPv6 host adds 12. A file's unused tail starts
//! with `i32 remaining | i32 BLANK_MAGIC` (the filler).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::{BufMut, Bytes, BytesMut};

use super::sys_flag::{BORNHOST_V6, STOREHOST_V6};

/// Magic of a message record.
pub const MESSAGE_MAGIC: i32 = 0xDAA320A7_u32 as i32;
/// Magic of the end-of-file filler.
pub const BLANK_MAGIC: i32 = 0xCBD43194_u32 as i32;
/// Position of QUEUEOFFSET.
pub const QUEUE_OFFSET_POS: usize = 20;
/// Position of PHYSICALOFFSET.
pub const PHYSICAL_OFFSET_POS: usize = 28;
/// Position of SYSFLAG.
pub const SYS_FLAG_POS: usize = 36;
/// Longest topic a record can hold.
pub const MAX_TOPIC_LEN: usize = 127;
/// Longest properties string a record can hold.
pub const MAX_PROPERTIES_LEN: usize = 32767;

/// Why bytes are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Fewer bytes than the record claims or needs.
    #[error("record truncated: needs {needed} bytes, {available} available")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The magic code is neither a message nor a filler.
    #[error("bad magic code {0:#x}")]
    BadMagic(i32),
    /// The stored body CRC does not match the body.
    #[error("body CRC mismatch: stored {stored}, computed {computed}")]
    BadCrc {
        /// CRC in the record.
        stored: u32,
        /// CRC of the body.
        computed: u32,
    },
    /// Lengths inside the record disagree with TOTALSIZE.
    #[error("inconsistent record: {0}")]
    Inconsistent(String),
    /// A field is too long for the layout.
    #[error("field too long: {0}")]
    TooLong(&'static str),
}

/// The broker's body CRC: `crc32(body) & 0x7FFFFFFF`.
pub fn body_crc(body: &[u8]) -> u32 {
    crc32fast::hash(body) & 0x7FFF_FFFF
}

/// One decoded record (Java's `MessageExt`).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    /// Body CRC as stored (computed by [`MessageRecord::encode`] when writing).
    pub body_crc: u32,
    pub body: Bytes,
    pub topic: String,
    /// The raw properties string.
    pub properties: String,
}

impl Default for MessageRecord {
    fn default() -> Self {
        let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        MessageRecord {
            queue_id: 0,
            flag: 0,
            queue_offset: 0,
            physical_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: unspecified,
            store_timestamp: 0,
            store_host: unspecified,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body_crc: 0,
            body: Bytes::new(),
            topic: String::new(),
            properties: String::new(),
        }
    }
}

fn host_len(addr: &SocketAddr) -> usize {
    if addr.is_ipv4() {
        8
    } else {
        20
    }
}

fn put_host(dst: &mut BytesMut, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => dst.put_slice(&ip.octets()),
        IpAddr::V6(ip) => dst.put_slice(&ip.octets()),
    }
    dst.put_i32(addr.port() as i32);
}

/// The PROPERTIES bytes of one stored record, found from its length fields without decoding
/// the rest; `None` when those lengths do not fit in `rec`.
pub fn properties_of(rec: &[u8]) -> Option<&[u8]> {
    let be_i32 = |at: usize| {
        rec.get(at..at.checked_add(4)?)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let sys_flag = be_i32(SYS_FLAG_POS)?;
    let host_len = |v6: bool| if v6 { 20 } else { 8 };
    // BORNHOST, STORETIMESTAMP, STOREHOST, RECONSUMETIMES, PREPARED TRANSACTION OFFSET.
    let body_len_at =
        48 + host_len(sys_flag & BORNHOST_V6 != 0) + 8 + host_len(sys_flag & STOREHOST_V6 != 0) + 4 + 8;
    let body_len = usize::try_from(be_i32(body_len_at)?).ok()?;
    let topic_len_at = body_len_at.checked_add(4)?.checked_add(body_len)?;
    let props_len_at = topic_len_at.checked_add(1 + usize::from(*rec.get(topic_len_at)?))?;
    let b = rec.get(props_len_at..props_len_at.checked_add(2)?)?;
    let props_len = usize::try_from(i16::from_be_bytes([b[0], b[1]])).ok()?;
    let start = props_len_at + 2;
    rec.get(start..start.checked_add(props_len)?)
}

/// Offset of STORETIMESTAMP for a record with this sysFlag.
pub fn store_timestamp_pos(sys_flag: i32) -> usize {
    if sys_flag & BORNHOST_V6 != 0 {
        68
    } else {
        56
    }
}

impl MessageRecord {
    /// The record's sysFlag with the host bits set to match its addresses.
    fn effective_sys_flag(&self) -> i32 {
        let mut f = self.sys_flag & !(BORNHOST_V6 | STOREHOST_V6);
        if self.born_host.is_ipv6() {
            f |= BORNHOST_V6;
        }
        if self.store_host.is_ipv6() {
            f |= STOREHOST_V6;
        }
        f
    }

    /// The encoded size of this record.
    pub fn encoded_len(&self) -> usize {
        4 + 4
            + 4
            + 4
            + 4
            + 8
            + 8
            + 4
            + 8
            + host_len(&self.born_host)
            + 8
            + host_len(&self.store_host)
            + 4
            + 8
            + 4
            + self.body.len()
            + 1
            + self.topic.len()
            + 2
            + self.properties.len()
    }

    /// Appends the record, computing the body CRC. Fails when the topic or properties are too long.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), RecordError> {
        if self.topic.len() > MAX_TOPIC_LEN {
            return Err(RecordError::TooLong("topic"));
        }
        if self.properties.len() > MAX_PROPERTIES_LEN {
            return Err(RecordError::TooLong("properties"));
        }
        let len = self.encoded_len();
        dst.reserve(len);
        dst.put_i32(len as i32);
        dst.put_i32(MESSAGE_MAGIC);
        dst.put_i32(body_crc(&self.body) as i32);
        dst.put_i32(self.queue_id);
        dst.put_i32(self.flag);
        dst.put_i64(self.queue_offset);
        dst.put_i64(self.physical_offset);
        dst.put_i32(self.effective_sys_flag());
        dst.put_i64(self.born_timestamp);
        put_host(dst, &self.born_host);
        dst.put_i64(self.store_timestamp);
        put_host(dst, &self.store_host);
        dst.put_i32(self.reconsume_times);
        dst.put_i64(self.prepared_transaction_offset);
        dst.put_i32(self.body.len() as i32);
        dst.put_slice(&self.body);
        dst.put_u8(self.topic.len() as u8);
        dst.put_slice(self.topic.as_bytes());
        dst.put_i16(self.properties.len() as i16);
        dst.put_slice(self.properties.as_bytes());
        Ok(())
    }

    /// Encodes into a fresh buffer.
    pub fn to_bytes(&self) -> Result<Bytes, RecordError> {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut buf)?;
        Ok(buf.freeze())
    }

    /// Decodes one record from the start of `buf`, returning it and its size. With `check_crc`
    /// the body CRC is verified. The body is copied out of `buf`; see [`Self::decode_bytes`] for
    /// a zero-copy variant.
    pub fn decode(buf: &[u8], check_crc: bool) -> Result<(MessageRecord, usize), RecordError> {
        Self::decode_bytes(&Bytes::copy_from_slice(record_slice(buf)?), check_crc)
    }

    /// Decodes one record from the start of `buf` without copying its body.
    pub fn decode_bytes(buf: &Bytes, check_crc: bool) -> Result<(MessageRecord, usize), RecordError> {
        let total = record_slice(buf)?.len();
        let mut r = Cursor {
            buf: &buf[..total],
            pos: 8,
        };
        let stored_crc = r.i32()? as u32;
        let queue_id = r.i32()?;
        let flag = r.i32()?;
        let queue_offset = r.i64()?;
        let physical_offset = r.i64()?;
        let sys_flag = r.i32()?;
        let born_timestamp = r.i64()?;
        let born_host = r.host(sys_flag & BORNHOST_V6 != 0)?;
        let store_timestamp = r.i64()?;
        let store_host = r.host(sys_flag & STOREHOST_V6 != 0)?;
        let reconsume_times = r.i32()?;
        let prepared_transaction_offset = r.i64()?;
        let body_len = r.i32()?;
        if body_len < 0 {
            return Err(RecordError::Inconsistent(format!(
                "negative body length {body_len}"
            )));
        }
        let body_start = r.pos;
        r.take(body_len as usize)?;
        let body = buf.slice(body_start..body_start + body_len as usize);
        let topic_len = r.take(1)?[0] as usize;
        let topic = String::from_utf8_lossy(r.take(topic_len)?).into_owned();
        let props_len = r.i16()?;
        if props_len < 0 {
            return Err(RecordError::Inconsistent(format!(
                "negative properties length {props_len}"
            )));
        }
        let properties = String::from_utf8_lossy(r.take(props_len as usize)?).into_owned();
        if r.pos != total {
            return Err(RecordError::Inconsistent(format!(
                "fields end at {} but TOTALSIZE is {total}",
                r.pos
            )));
        }
        if check_crc {
            let computed = body_crc(&body);
            if computed != stored_crc {
                return Err(RecordError::BadCrc {
                    stored: stored_crc,
                    computed,
                });
            }
        }
        let record = MessageRecord {
            queue_id,
            flag,
            queue_offset,
            physical_offset,
            sys_flag,
            born_timestamp,
            born_host,
            store_timestamp,
            store_host,
            reconsume_times,
            prepared_transaction_offset,
            body_crc: stored_crc,
            body,
            topic,
            properties,
        };
        Ok((record, total))
    }

    /// Decodes records back to back (a pull response body).
    pub fn decode_all(buf: &Bytes) -> Result<Vec<MessageRecord>, RecordError> {
        let mut out = Vec::new();
        let mut rest = buf.clone();
        while !rest.is_empty() {
            let (record, size) = Self::decode_bytes(&rest, false)?;
            out.push(record);
            rest = rest.slice(size..);
        }
        Ok(out)
    }

    /// The value of one property.
    pub fn property(&self, key: &str) -> Option<&str> {
        super::properties::find(&self.properties, key)
    }

    /// The `TAGS` property.
    pub fn tags(&self) -> Option<&str> {
        self.property(super::properties::keys::TAGS)
    }

    /// The broker-assigned (offset) message id.
    pub fn offset_msg_id(&self) -> String {
        super::id::offset_msg_id(&self.store_host, self.physical_offset)
    }
}

/// The first record of `buf` as a slice, after checking TOTALSIZE and magic.
fn record_slice(buf: &[u8]) -> Result<&[u8], RecordError> {
    if buf.len() < 8 {
        return Err(RecordError::Truncated {
            needed: 8,
            available: buf.len(),
        });
    }
    let total = i32::from_be_bytes(buf[0..4].try_into().expect("4 bytes"));
    let magic = i32::from_be_bytes(buf[4..8].try_into().expect("4 bytes"));
    if magic != MESSAGE_MAGIC {
        return Err(RecordError::BadMagic(magic));
    }
    if total < 91 {
        return Err(RecordError::Inconsistent(format!(
            "TOTALSIZE {total} is below the minimum 91"
        )));
    }
    let total = total as usize;
    if total > buf.len() {
        return Err(RecordError::Truncated {
            needed: total,
            available: buf.len(),
        });
    }
    Ok(&buf[..total])
}

/// A bounds-checked reader over one record.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| {
                RecordError::Inconsistent(format!(
                    "field at {} of {n} bytes passes TOTALSIZE {}",
                    self.pos,
                    self.buf.len()
                ))
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn host(&mut self, v6: bool) -> Result<SocketAddr, RecordError> {
        let ip = if v6 {
            let octets: [u8; 16] = self.take(16)?.try_into().expect("16 bytes");
            IpAddr::from(octets)
        } else {
            let octets: [u8; 4] = self.take(4)?.try_into().expect("4 bytes");
            IpAddr::from(octets)
        };
        // Java's InetSocketAddress refuses a port outside 0..=65535; truncating it would turn a
        // corrupt record into a different, plausible one.
        let port = self.i32()?;
        let port = u16::try_from(port)
            .map_err(|_| RecordError::Inconsistent(format!("host port {port} is out of range")))?;
        Ok(SocketAddr::new(ip, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MessageRecord {
        MessageRecord {
            queue_id: 3,
            flag: 7,
            queue_offset: 42,
            physical_offset: 50_000,
            born_timestamp: 1_700_000_000_000,
            born_host: "10.0.0.5:40000".parse().unwrap(),
            store_timestamp: 1_700_000_000_123,
            store_host: "10.0.0.1:10911".parse().unwrap(),
            reconsume_times: 1,
            body: Bytes::from_static(b"hello"),
            topic: "TopicTest".into(),
            properties: "TAGS\u{1}TagA\u{2}KEYS\u{1}k1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn ipv4_round_trip_and_size() {
        let rec = sample();
        let bytes = rec.to_bytes().unwrap();
        assert_eq!(bytes.len(), 91 + 5 + 9 + rec.properties.len());
        let (decoded, size) = MessageRecord::decode(&bytes, true).unwrap();
        assert_eq!(size, bytes.len());
        assert_eq!(
            decoded,
            MessageRecord {
                body_crc: body_crc(b"hello"),
                ..rec
            }
        );
        assert_eq!(decoded.tags(), Some("TagA"));
        assert_eq!(
            i64::from_be_bytes(bytes[56..64].try_into().unwrap()),
            1_700_000_000_123
        );
    }

    #[test]
    fn properties_found_without_decoding() {
        let v4 = sample();
        let bytes = v4.to_bytes().unwrap();
        assert_eq!(properties_of(&bytes), Some(v4.properties.as_bytes()));
        let mut v6 = sample();
        v6.born_host = "[fd00::5]:40000".parse().unwrap();
        v6.store_host = "[::1]:10911".parse().unwrap();
        let bytes6 = v6.to_bytes().unwrap();
        assert_eq!(properties_of(&bytes6), Some(v6.properties.as_bytes()));
        for cut in 0..bytes.len() {
            assert_eq!(properties_of(&bytes[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn ipv6_hosts_shift_fields() {
        let mut rec = sample();
        rec.born_host = "[fd00::5]:40000".parse().unwrap();
        rec.store_host = "[::1]:10911".parse().unwrap();
        let bytes = rec.to_bytes().unwrap();
        assert_eq!(bytes.len(), 91 + 24 + 5 + 9 + rec.properties.len());
        let (decoded, _) = MessageRecord::decode(&bytes, true).unwrap();
        assert_eq!(decoded.born_host, rec.born_host);
        assert_eq!(decoded.store_host, rec.store_host);
        assert_eq!(
            decoded.sys_flag & (BORNHOST_V6 | STOREHOST_V6),
            BORNHOST_V6 | STOREHOST_V6
        );
        assert_eq!(store_timestamp_pos(decoded.sys_flag), 68);
    }

    #[test]
    fn corruption_is_detected() {
        let bytes = sample().to_bytes().unwrap();
        let mut flipped = bytes.to_vec();
        let body_pos = bytes.len() - 1 - 9 - 2 - sample().properties.len() - 5;
        flipped[body_pos] ^= 0xFF;
        assert!(matches!(
            MessageRecord::decode(&flipped, true),
            Err(RecordError::BadCrc { .. })
        ));
        assert!(matches!(
            MessageRecord::decode(&bytes[..50], true),
            Err(RecordError::Truncated { .. })
        ));
        let mut bad_magic = bytes.to_vec();
        bad_magic[5] = 0;
        assert!(matches!(
            MessageRecord::decode(&bad_magic, true),
            Err(RecordError::BadMagic(_))
        ));
    }

    /// Found by the fuzzer (`rmq-fuzz`, target record): a port word above 65,535 was cut to 16
    /// bits, so a corrupt record decoded as a different one.
    #[test]
    fn a_host_port_beyond_u16_is_inconsistent() {
        let rec = sample();
        assert!(rec.born_host.is_ipv4());
        let mut bytes = rec.to_bytes().unwrap().to_vec();
        // BORNHOST is 8 bytes after BORNTIMESTAMP (offset 40): 4 of address, then the port word.
        bytes[52..56].copy_from_slice(&0x0001_2345_i32.to_be_bytes());
        let err = MessageRecord::decode(&bytes, true).unwrap_err();
        assert!(err.to_string().contains("74565"), "{err}");
        bytes[52..56].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(matches!(
            MessageRecord::decode(&bytes, true),
            Err(RecordError::Inconsistent(_))
        ));
    }

    #[test]
    fn decode_all_reads_back_to_back() {
        let mut buf = BytesMut::new();
        sample().encode(&mut buf).unwrap();
        sample().encode(&mut buf).unwrap();
        assert_eq!(MessageRecord::decode_all(&buf.freeze()).unwrap().len(), 2);
    }
}
