//! Async transport: a multiplexing [`client::RemotingClient`] and a request [`server`].
//!
//! Both ends speak [`crate::RemotingCodec`] frames over TCP. Requests on one connection are
//! matched to responses by `opaque`, so many can be in flight and answered in any order (a broker
//! holds long-poll pulls while it answers sends on the same connection).

pub mod client;
pub mod connection;
mod handler;
pub mod local_ip;
mod read_budget;
pub mod server;
mod server_connection;

pub use client::{ClientConfig, RemotingClient, ServerReply, ServerRequestHandler};
pub use connection::Connection;
pub use server::{serve, HandlerError, RequestHandler, ServerConfig, DEFAULT_MAX_BUFFERED_REQUEST_BYTES};

/// Why a remote call failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Could not connect.
    #[error("cannot connect to {addr}: {source}; check that the server is running and the address is right")]
    Connect {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// No response within the timeout.
    #[error("no response from {addr} within {millis} ms")]
    Timeout {
        /// The address.
        addr: String,
        /// The timeout.
        millis: u128,
    },
    /// The connection closed before the response came.
    #[error("connection to {addr} closed")]
    ConnectionClosed {
        /// The address.
        addr: String,
    },
    /// The frame could not be encoded.
    #[error("cannot encode request: {0}")]
    Codec(#[from] crate::CodecError),
    /// The response was not SUCCESS (for typed calls that require it).
    #[error("{addr} answered {code}: {remark}")]
    Remote {
        /// The address.
        addr: String,
        /// The response code.
        code: i32,
        /// The remark.
        remark: String,
    },
    /// The response header could not be decoded.
    #[error("bad response header from {addr}: {source}")]
    BadHeader {
        /// The address.
        addr: String,
        /// The cause.
        source: crate::HeaderError,
    },
}
