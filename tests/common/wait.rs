//! Waiting for a server, never sleeping for it: poll a check until it holds or a deadline passes.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long a server gets to come up.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Polls `check` until it returns `Some` or `timeout` passes.
pub fn wait_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether something accepts TCP connections at `addr`.
pub fn can_connect(addr: &str) -> bool {
    let Ok(sa) = addr.parse::<SocketAddr>() else {
        return false;
    };
    TcpStream::connect_timeout(&sa, Duration::from_millis(300)).is_ok()
}
