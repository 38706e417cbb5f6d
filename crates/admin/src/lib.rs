//! The mqadmin library: Apache RocketMQ's admin commands (protocol.md §8) over the remoting
//! protocol, used by `bin/mqadmin.rs`.
//!
//! Every command is an `async fn(&Admin, options…, out: &mut String) -> Result<(), AdminError>`:
//! it appends the text Apache's tool prints to `out` as it goes (so a command that fails half way
//! still shows what it did) and returns a typed error whose text says what to do next.
//! [`Admin`] holds the name server list and one multiplexing connection pool.

pub mod acl;
pub mod admin;
pub mod broker;
pub mod browse;
pub mod connection;
pub mod consume;
pub mod consumer;
pub mod direct;
pub mod error;
pub mod format;
pub mod group;
pub mod message;
pub mod namesrv;
pub mod query;
pub mod reset;
pub mod topic;
pub mod topic_perm;

pub use admin::{Admin, BrokerAddr, DEFAULT_TIMEOUT};
pub use error::AdminError;
