//! Hostile peers against the real `mqnamesrv` process, measured by its anonymous memory
//! (`RssAnon` in /proc/PID/status): frames that announce 16 MiB and send 8 bytes, and slowloris
//! peers that trickle one byte at a time. Memory must follow the bytes that arrive, not what a
//! frame announces, and the nameserver must keep answering throughout.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::*;

/// Anonymous resident memory of `pid` in bytes.
fn anon_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let line = status
        .lines()
        .find(|l| l.starts_with("RssAnon:"))
        .expect("RssAnon line");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("RssAnon value");
    kb * 1024
}

#[test]
fn ten_thousand_announced_frames_and_slowloris_cost_little_memory() {
    let dir = temp_dir();
    let ns = Namesrv::start(dir.path());
    let pid = ns.proc.pid().expect("namesrv pid");
    let addr = ns.addr();
    let before = anon_bytes(pid);

    // 9,700 peers each announce a 16 MiB frame and send 8 bytes of it (the server's default
    // connection limit is 10,000; the slowloris peers and probes below use the rest).
    let mut announced = Vec::new();
    let mut partial = (16u32 * 1024 * 1024 - 4).to_be_bytes().to_vec();
    partial.extend_from_slice(&[0, 0, 0, 2]);
    for _ in 0..9_700 {
        let mut s = TcpStream::connect(&addr).expect("connect");
        s.write_all(&partial).expect("write partial frame");
        announced.push(s);
    }
    // 200 slowloris peers: one byte every 100 ms for 3 s each.
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    let header = (1024u32 * 1024).to_be_bytes();
    for round in 0..30 {
        for s in &mut slow {
            let byte = header.get(round).copied().unwrap_or(0);
            s.write_all(&[byte]).expect("trickle");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Every peer's bytes have been read by now: the server answers a probe sent after them.
    assert!(
        cluster_info(&addr).is_some(),
        "namesrv answers while under attack"
    );
    let during = anon_bytes(pid);
    let cost = during.saturating_sub(before);
    println!(
        "anonymous memory: {} MiB before, {} MiB with 9,900 hostile peers (+{} MiB)",
        before >> 20,
        during >> 20,
        cost >> 20
    );
    assert!(
        cost < 256 * 1024 * 1024,
        "9,900 hostile peers cost {} MiB of anonymous memory",
        cost >> 20
    );
    drop(announced);
    drop(slow);
    wait_until(
        "namesrv to answer after the peers left",
        Duration::from_secs(10),
        || cluster_info(&addr),
    );
    println!(
        "anonymous memory after they closed: {} MiB",
        anon_bytes(pid) >> 20
    );
}
