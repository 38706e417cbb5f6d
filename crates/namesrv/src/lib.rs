//! The RocketMQ 4.x nameserver: independent route registries fed by broker registrations.
//!
//! * [`route`]: the route tables ([`RouteTable`]), pure and clock-injected;
//! * [`kv`]: the KV config table and its file;
//! * [`config`]: [`NamesrvConfig`] with Apache's key names;
//! * `processor`: the request handler, one file per request family;
//! * `metrics`: the Prometheus page (`metricsExporterType=PROM`);
//! * `state`: the state the handler and the timers share;
//! * [`server`]: [`NameServer`], which runs the listener and the timers.
//!
//! Nameservers never talk to each other: each one builds the full picture from the
//! registrations every broker sends to every nameserver.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let config = rmq_namesrv::NamesrvConfig { home: "/tmp/ns".into(), ..Default::default() };
//! let ns = rmq_namesrv::NameServer::start(config, listener)?;
//! println!("namesrv at {}", ns.local_addr());
//! ns.shutdown().await;
//! # Ok(()) }
//! ```

pub mod config;
pub mod kv;
mod metrics;
mod processor;
pub mod route;
pub mod server;
mod state;

pub use config::{ConfigError, NamesrvConfig};
pub use kv::{KvError, KvStore};
pub use route::{LiveBroker, RegisterOutcome, Registration, RouteTable};
pub use server::{NameServer, NamesrvError};
