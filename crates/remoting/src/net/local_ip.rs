//! The host's address for client ids and message ids (the Rust client, `mqadmin sendMessage`),
//! chosen as Apache's `RemotingUtil.getLocalAddress` does: the first non-loopback IPv4 address
//! of a non-bridge interface that is not `192.168.*`, else the last such address seen, else
//! 127.0.0.1. Read once per process.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::OnceLock;

/// The address new clients put in their ids (see the module doc).
pub fn local_ipv4() -> Ipv4Addr {
    static IP: OnceLock<Ipv4Addr> = OnceLock::new();
    *IP.get_or_init(|| {
        let addrs = match if_addrs::get_if_addrs() {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list network interfaces; the client id says 127.0.0.1");
                Vec::new()
            }
        };
        let v4 = addrs.into_iter().filter_map(|i| match i.addr {
            // Docker's and libvirt's bridges carry the host side of a private network: Apache
            // skips them (`isBridge`).
            if_addrs::IfAddr::V4(a) if !is_bridge(&i.name) => Some(a.ip),
            _ => None,
        });
        pick(v4).unwrap_or(Ipv4Addr::LOCALHOST)
    })
}

/// Apache's choice among the interface addresses, in interface order.
pub fn pick(addrs: impl IntoIterator<Item = Ipv4Addr>) -> Option<Ipv4Addr> {
    let mut last = None;
    for ip in addrs.into_iter().filter(|ip| !ip.is_loopback()) {
        // Apache also skips `127.0.*`, which the loopback filter already removed.
        if ip.octets()[..2] != [192, 168] {
            return Some(ip);
        }
        last = Some(ip);
    }
    last
}

/// Whether `name` is a Linux bridge interface.
fn is_bridge(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).join("bridge").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn picks_as_apache_does() {
        assert_eq!(pick([]), None);
        assert_eq!(pick([ip("127.0.0.1")]), None);
        assert_eq!(
            pick([
                ip("127.0.0.1"),
                ip("192.168.1.5"),
                ip("172.28.0.21"),
                ip("10.0.0.1")
            ]),
            Some(ip("172.28.0.21"))
        );
        // Only 192.168.* addresses: the last one.
        assert_eq!(
            pick([ip("192.168.1.5"), ip("127.0.0.1"), ip("192.168.2.7")]),
            Some(ip("192.168.2.7"))
        );
    }

    #[test]
    fn the_host_address_is_a_non_bridge_interface_address() {
        let chosen = local_ipv4();
        let candidates: Vec<Ipv4Addr> = if_addrs::get_if_addrs()
            .unwrap()
            .into_iter()
            .filter_map(|i| match i.addr {
                if_addrs::IfAddr::V4(a) if !a.ip.is_loopback() && !is_bridge(&i.name) => Some(a.ip),
                _ => None,
            })
            .collect();
        if candidates.is_empty() {
            assert_eq!(chosen, Ipv4Addr::LOCALHOST);
        } else {
            assert!(candidates.contains(&chosen), "{chosen} not in {candidates:?}");
        }
    }
}
