//! Remote-address patterns of plain ACL (Apache's `RemoteAddressStrategyFactory`), for
//! `globalWhiteRemoteAddresses` and an account's `whiteRemoteAddress`.
//!
//! | pattern | matches |
//! |---|---|
//! | blank | nothing |
//! | `*`, `*.*.*.*`, `*:*:*:*:*:*:*:*` | everything |
//! | `a.b.c.{x,y}` | the last octet enumerated |
//! | `ip1,ip2` | exactly those addresses |
//! | `192.168.1.*`, `192.168.1.1-100`, `192.168.0-10.*` | the first octet that is `*` or `n-m` gives the range; octets before it must match, later ones are ignored |
//! | otherwise | one exact address |
//!
//! IPv6 patterns compare addresses in their expanded, upper-case form; range and enumeration
//! patterns over IPv6 groups are not supported and are refused when the file loads.

use std::net::IpAddr;

/// A parsed address pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressPattern {
    /// Blank: matches nothing.
    Nothing,
    /// Matches every address.
    Everything,
    /// One of these addresses.
    Exact(Vec<IpAddr>),
    /// IPv4: `prefix` octets must match, then octet number `prefix.len()` lies in `lo..=hi`.
    Range { prefix: Vec<u8>, lo: u8, hi: u8 },
}

impl AddressPattern {
    /// Parses a pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<AddressPattern, String> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(AddressPattern::Nothing);
        }
        if t == "*" || t == "*.*.*.*" || t == "*:*:*:*:*:*:*:*" {
            return Ok(AddressPattern::Everything);
        }
        let bad = || format!("the address pattern [{t}] is not a valid address, list, range or wildcard");
        if let Some((head, last)) = t.strip_suffix('}').and_then(|s| s.split_once('{')) {
            let head = head.strip_suffix('.').ok_or_else(bad)?;
            let mut addrs = Vec::new();
            for octet in last.split(',') {
                addrs.push(
                    format!("{head}.{}", octet.trim())
                        .parse::<IpAddr>()
                        .map_err(|_| bad())?,
                );
            }
            return Ok(AddressPattern::Exact(addrs));
        }
        if t.contains(',') {
            let addrs = t
                .split(',')
                .map(|a| a.trim().parse::<IpAddr>().map_err(|_| bad()))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(AddressPattern::Exact(addrs));
        }
        if t.contains('*') || (t.contains('-') && !t.contains(':')) {
            let parts: Vec<&str> = t.split('.').collect();
            if parts.len() != 4 {
                return Err(bad());
            }
            let mut prefix = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                let range = if *p == "*" {
                    Some((0u8, 255u8))
                } else if let Some((a, b)) = p.split_once('-') {
                    let (a, b) = (
                        a.parse::<u8>().map_err(|_| bad())?,
                        b.parse::<u8>().map_err(|_| bad())?,
                    );
                    (a <= b).then_some((a, b)).ok_or_else(bad).map(Some)?
                } else {
                    None
                };
                match range {
                    Some(_) if i == 0 => return Err(bad()),
                    Some((lo, hi)) => return Ok(AddressPattern::Range { prefix, lo, hi }),
                    None => prefix.push(p.parse::<u8>().map_err(|_| bad())?),
                }
            }
            return Err(bad());
        }
        t.parse::<IpAddr>()
            .map(|a| AddressPattern::Exact(vec![a]))
            .map_err(|_| bad())
    }

    /// Whether `addr` (an IP without port) matches.
    pub fn matches(&self, addr: &str) -> bool {
        let Ok(ip) = addr
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        else {
            return false;
        };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match self {
            AddressPattern::Nothing => false,
            AddressPattern::Everything => true,
            AddressPattern::Exact(list) => list.contains(&ip),
            AddressPattern::Range { prefix, lo, hi } => match ip {
                IpAddr::V4(v4) => {
                    let o = v4.octets();
                    o[..prefix.len()] == prefix[..] && (*lo..=*hi).contains(&o[prefix.len()])
                }
                IpAddr::V6(_) => false,
            },
        }
    }
}

/// The IP part of a peer address such as `127.0.0.1:51234` or `[::1]:51234`.
pub fn peer_ip(peer: &str) -> &str {
    if let Some(rest) = peer.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match peer.rsplit_once(':') {
        Some((ip, port)) if !ip.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => ip,
        _ => peer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, a: &str) -> bool {
        AddressPattern::parse(p).unwrap().matches(a)
    }

    #[test]
    fn patterns_match_as_in_apache() {
        assert!(!m("", "1.2.3.4"));
        assert!(m("*", "1.2.3.4") && m("*.*.*.*", "::1"));
        assert!(m("192.168.1.*", "192.168.1.77") && !m("192.168.1.*", "192.168.2.1"));
        assert!(m("192.168.1.1-100", "192.168.1.100") && !m("192.168.1.1-100", "192.168.1.101"));
        assert!(m("192.168.0-10.*", "192.168.7.200") && !m("192.168.0-10.*", "192.168.11.0"));
        assert!(m("10.0.0.{1,5}", "10.0.0.5") && !m("10.0.0.{1,5}", "10.0.0.2"));
        assert!(m("1.1.1.1,2.2.2.2", "2.2.2.2") && !m("1.1.1.1,2.2.2.2", "3.3.3.3"));
        assert!(m("127.0.0.1", "127.0.0.1") && m("127.0.0.1", "::ffff:127.0.0.1"));
        assert!(m("::1", "0:0:0:0:0:0:0:1"));
        assert!(AddressPattern::parse("1.2.3").is_err());
        assert!(AddressPattern::parse("*.1.2.3").is_err());
        assert!(AddressPattern::parse("1.2.3.9-2").is_err());
        assert!(AddressPattern::parse("hello").is_err());
    }

    #[test]
    fn peer_ips_lose_their_port() {
        assert_eq!(peer_ip("127.0.0.1:5000"), "127.0.0.1");
        assert_eq!(peer_ip("[::1]:5000"), "::1");
        assert_eq!(peer_ip("10.0.0.1"), "10.0.0.1");
    }
}
