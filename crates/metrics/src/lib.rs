//! Prometheus metrics for minirmq's servers, named as Apache RocketMQ 5 names them.
//!
//! * [`histogram`] and [`family`]: what the hot paths touch — fixed bucket arrays of atomics and
//!   a sharded map from a label key to its counters. Recording never allocates once a series
//!   exists and takes no lock but a shard's read lock.
//! * [`rpc`]: `rocketmq_rpc_latency`, shared by brokers and nameservers.
//! * [`text`]: the Prometheus text exposition format (version 0.0.4), with the common labels.
//! * [`config`]: RocketMQ 5's `metrics*` keys (`metricsExporterType=PROM`, …).
//! * [`server`]: the `/metrics` HTTP endpoint (axum).
//!
//! Gauges (lag, sizes, connections) are not kept here: each server computes them when the page
//! is scraped.

pub mod config;
pub mod family;
pub mod histogram;
pub mod rpc;
pub mod server;
pub mod text;

pub use config::{ExporterType, MetricsConfig};
pub use family::Family;
pub use histogram::{Buckets, Histogram, HistogramSnapshot};
pub use rpc::{RpcLatency, RpcResult};
pub use server::{bind, serve, MetricsError};
pub use text::{Exposition, Kind};
