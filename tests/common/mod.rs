//! Process-level test harness: runs the real `mqnamesrv` and `mqbroker` binaries on free loopback
//! ports, each in its own directory under a test's temp dir.
//!
//! * Ports: [`free_port`] binds `127.0.0.1:0` and releases it; [`free_broker_port`] also checks
//!   `p + 1` (the HA port is forced to `listenPort + 1`) and `p - 2` (the VIP port).
//! * Logs: every child writes stdout and stderr to `<dir>/<name>.log` (appended across restarts).
//!   They are printed only when the test fails: `Drop` prints them if the thread is panicking.
//! * Cleanup: every child is killed (SIGKILL) and reaped on drop, so a failed assertion never
//!   leaves a server running.
//! * Readiness is awaited, never slept for: a TCP connect, then (for a broker with a namesrv) its
//!   address showing up in the namesrv's cluster info, each polled until a deadline.
//!
//! The helpers are synchronous so they work from plain `#[test]`s and from tokio tests alike; the
//! one RPC they need is a blocking frame exchange ([`request`]) with the remoting crate's codec.
//!
//! One file per noun (`ports`, `wait`, `rpc`, `proc`, `servers`, `bins`, `dirs`, `messages`);
//! everything a test uses is re-exported here, so tests write `common::Broker`,
//! `common::mqadmin_ok` and so on.

// Every test binary uses part of the harness; what one leaves unused (including the re-exports
// below) is neither dead nor a stray import.
#![allow(dead_code, unused_imports)]

mod bins;
mod dirs;
pub mod messages;
mod ports;
mod proc;
mod rpc;
mod servers;
mod wait;

pub use bins::{mqadmin, mqadmin_ok, mqadmin_update_topic, run_bin, stderr, stdout};
pub use dirs::{shared_dir, temp_dir};
pub use ports::{cluster_ports, free_broker_port, free_port};
pub use proc::Proc;
pub use rpc::{cluster_info, create_topic, request, route, wait_registered, wait_route};
pub use servers::{Broker, Namesrv, Single};
pub use wait::{can_connect, wait_until, READY_TIMEOUT};
