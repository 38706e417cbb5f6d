//! `rmq-bench rtt`: the raw loopback round-trip rate between two processes, the ceiling that a
//! one-in-flight `send` is compared to. A child process (`rmq-bench echo-server`, hidden) echoes
//! length-prefixed frames with plain blocking reads and writes; this process sends one frame of
//! the payload size, waits for it to come back, and repeats. Each round trip therefore pays what
//! a request to a broker pays at least: two loopback transfers and two wake-ups of a sleeping
//! process, and nothing else.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Serves one connection: echoes `u32 length + bytes` frames until the peer closes.
pub fn echo_server() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("{}", listener.local_addr()?.port());
    std::io::stdout().flush()?;
    let (mut sock, _) = listener.accept()?;
    sock.set_nodelay(true)?;
    let mut buf = Vec::new();
    loop {
        let mut len = [0u8; 4];
        if sock.read_exact(&mut len).is_err() {
            return Ok(());
        }
        buf.resize(u32::from_be_bytes(len) as usize, 0);
        sock.read_exact(&mut buf)?;
        let mut frame = Vec::with_capacity(4 + buf.len());
        frame.extend_from_slice(&len);
        frame.extend_from_slice(&buf);
        sock.write_all(&frame)?;
    }
}

/// Round trips of `size` bytes for `duration`; prints the rate and latencies.
pub fn run(size: usize, duration: Duration, json: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find rmq-bench's own path")?;
    let mut child = Command::new(exe)
        .arg("echo-server")
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the echo server process")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("echo server stdout")?).read_line(&mut line)?;
    let port: u16 = line
        .trim()
        .parse()
        .context("echo server did not print its port")?;
    let mut sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_nodelay(true)?;
    let mut frame = Vec::with_capacity(size + 4);
    frame.extend_from_slice(&(size as u32).to_be_bytes());
    frame.resize(size + 4, b'x');
    let mut back = vec![0u8; size + 4];
    let mut hist = crate::stats::new_histogram();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        let t = Instant::now();
        sock.write_all(&frame)?;
        sock.read_exact(&mut back)?;
        let _ = hist.record(t.elapsed().as_micros().max(1) as u64);
        n += 1;
    }
    drop(sock);
    let status = child.wait()?;
    if !status.success() {
        bail!("echo server failed: {status}");
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = n as f64 / secs;
    let mut summary = crate::stats::Summary::new("rtt");
    summary
        .set("size", size as u64)
        .counts(n, 0, secs)
        .latency("", &hist)
        .line(format!(
            "rtt: {n} round trips of {size} bytes between two processes in {secs:.2} s: {rate:.0} round trips/s"
        ))
        .line(crate::latency_line("latency", &hist));
    summary.print(json);
    Ok(())
}
