//! Loopback ports for the servers a test starts: one free port, a broker's port with its HA
//! (`p + 1`) and VIP (`p - 2`) neighbours free, and a whole `rmq-cluster` block.

use std::net::TcpListener;

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A port `p` with `p + 1` (HA) and `p - 2` (VIP) free as well.
pub fn free_broker_port() -> u16 {
    for _ in 0..200 {
        let p = free_port();
        if p > 1026 && p < u16::MAX && port_is_free(p + 1) && port_is_free(p - 2) {
            return p;
        }
    }
    panic!("no free port p with p+1 and p-2 free after 200 tries");
}

/// Ports for an `rmq-cluster` cluster of `namesrvs` nameservers and up to `brokers` brokers:
/// `(base_port, broker_base_port)`, every port it would use free a moment ago. They come from
/// 20000–32000, below the ephemeral range that [`free_port`] draws from, and are picked at random
/// so concurrent tests (and worktrees) rarely meet; a collision is caught by `rmq-cluster start`.
pub fn cluster_ports(namesrvs: u16, brokers: u16) -> (u16, u16) {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    for _ in 0..200 {
        let base = rng.gen_range(20_000..25_000u16);
        let broker_base = rng.gen_range(25_010..32_000u16 - brokers * 10);
        let ns_free = (0..namesrvs).all(|i| port_is_free(base + i));
        let brokers_free = (0..brokers).all(|s| {
            let p = broker_base + s * 10;
            port_is_free(p) && port_is_free(p + 1) && port_is_free(p - 2)
        });
        if ns_free && brokers_free {
            return (base, broker_base);
        }
    }
    panic!("no free block of cluster ports after 200 tries");
}
