//! The broker: its message store ([`store`]) and, built on it, the request handlers and
//! server.

pub mod store;

pub mod acl;
pub mod clients;
pub mod config;
pub mod filter;
pub mod groups;
pub mod ha;
pub mod locks;
pub mod long_poll;
pub mod metrics;
pub mod msg;
pub mod offsets;
pub mod persist;
pub mod processor;
pub mod registration;
pub mod schedule;
pub mod server;
pub mod slave_sync;
pub mod state;
pub mod stats;
pub mod tables;
pub mod topics;
pub mod transaction;

pub use config::{BrokerConfig, BrokerRole, ConfigError};
pub use server::{Broker, BrokerError};
pub use state::{BrokerState, ReplicaOutcome, ReplicaWaiter};
pub use store::FlushDiskType;
