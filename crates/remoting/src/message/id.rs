//! Message ids.
//!
//! * Offset message id (broker-generated): uppercase hex of `store ip (4|16) | i32 port | i64
//!   commit-log offset`; 32 characters for IPv4.
//! * `UNIQ_KEY` (client-generated): uppercase hex of `ip (4) | i16 pid | i32 start-hash | i32 ms
//!   since the start of the month | i16 counter`; 32 characters.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};

/// Upper-case hex, by table: a consumer makes one offset message id per message it receives,
/// and formatting each byte through `fmt` cost a tenth of a push consumer's CPU.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xF)] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// The offset message id of a record stored at `offset` by `store_host`.
pub fn offset_msg_id(store_host: &SocketAddr, offset: i64) -> String {
    let mut bytes = Vec::with_capacity(28);
    match store_host.ip() {
        IpAddr::V4(ip) => bytes.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => bytes.extend_from_slice(&ip.octets()),
    }
    bytes.extend_from_slice(&(store_host.port() as i32).to_be_bytes());
    bytes.extend_from_slice(&offset.to_be_bytes());
    hex(&bytes)
}

/// Decodes an offset message id into the broker address and commit-log offset.
pub fn decode_offset_msg_id(id: &str) -> Option<(SocketAddr, i64)> {
    let bytes = unhex(id.trim())?;
    let ip_len = match bytes.len() {
        16 => 4,
        28 => 16,
        _ => return None,
    };
    let ip = if ip_len == 4 {
        IpAddr::from(<[u8; 4]>::try_from(&bytes[..4]).ok()?)
    } else {
        IpAddr::from(<[u8; 16]>::try_from(&bytes[..16]).ok()?)
    };
    let port = i32::from_be_bytes(bytes[ip_len..ip_len + 4].try_into().ok()?);
    let offset = i64::from_be_bytes(bytes[ip_len + 4..ip_len + 12].try_into().ok()?);
    Some((SocketAddr::new(ip, u16::try_from(port).ok()?), offset))
}

/// Generates `UNIQ_KEY` ids for one client process.
#[derive(Debug)]
pub struct UniqIdGenerator {
    prefix: [u8; 10],
    counter: AtomicU16,
}

impl UniqIdGenerator {
    /// A generator for a client at `ip` in process `pid`; `salt` distinguishes instances.
    pub fn new(ip: Ipv4Addr, pid: u32, salt: i32) -> Self {
        let mut prefix = [0u8; 10];
        prefix[..4].copy_from_slice(&ip.octets());
        prefix[4..6].copy_from_slice(&(pid as i16).to_be_bytes());
        prefix[6..10].copy_from_slice(&salt.to_be_bytes());
        UniqIdGenerator {
            prefix,
            counter: AtomicU16::new(0),
        }
    }

    /// The next id, given the current time in ms since the epoch.
    pub fn next_id(&self, now_ms: i64) -> String {
        let mut bytes = [0u8; 16];
        bytes[..10].copy_from_slice(&self.prefix);
        // Java uses ms since the start of the current month; ms since the start of a 31-day cycle
        // keeps the same width and uniqueness.
        let since_period = (now_ms.rem_euclid(31 * 24 * 3600 * 1000)) as i32;
        bytes[10..14].copy_from_slice(&since_period.to_be_bytes());
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        bytes[14..16].copy_from_slice(&n.to_be_bytes());
        hex(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_id_matches_protocol_example() {
        let addr: SocketAddr = "10.0.0.1:10911".parse().unwrap();
        assert_eq!(offset_msg_id(&addr, 50_000), "0A00000100002A9F000000000000C350");
        assert_eq!(
            decode_offset_msg_id("0A00000100002A9F000000000000C350"),
            Some((addr, 50_000))
        );
        // a real broker's id from the captured transcript: 127.0.0.1:20911, offset 0xDA
        let (a, o) = decode_offset_msg_id("7F000001000051AF00000000000000DA").unwrap();
        assert_eq!((a.to_string().as_str(), o), ("127.0.0.1:20911", 0xDA));
        let v6: SocketAddr = "[fd00::1]:10911".parse().unwrap();
        let id = offset_msg_id(&v6, 7);
        assert_eq!(id.len(), 56);
        assert_eq!(decode_offset_msg_id(&id), Some((v6, 7)));
        assert_eq!(decode_offset_msg_id("XYZ"), None);
    }

    #[test]
    fn uniq_ids_are_unique_and_32_hex() {
        let g = UniqIdGenerator::new(Ipv4Addr::new(10, 0, 0, 5), 1234, 99);
        let a = g.next_id(1_700_000_000_000);
        let b = g.next_id(1_700_000_000_000);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.starts_with("0A000005"));
    }
}
