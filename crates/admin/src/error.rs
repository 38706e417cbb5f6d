//! The admin library's error: what failed and, where it helps, what to do about it.

use rmq_remoting::body::BodyError;
use rmq_remoting::net::NetError;
use rmq_remoting::{RemotingCommand, ResponseCode};

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A connection or transport failure.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The server answered with a non-SUCCESS code.
    #[error("{addr} answered {} ({code}): {remark}", code_name(*.code))]
    Remote {
        /// Who answered.
        addr: String,
        /// The response code.
        code: i32,
        /// The server's remark.
        remark: String,
    },
    /// A reply body did not parse.
    #[error("bad reply body from {addr}: {source}")]
    Body {
        /// Who sent it.
        addr: String,
        /// The parse error.
        source: BodyError,
    },
    /// The request cannot be served as asked (unknown topic, cluster, broker, bad id …); the text
    /// says what to do next.
    #[error("{0}")]
    Invalid(String),
}

/// The response code's Java name, or the bare number.
pub fn code_name(code: i32) -> String {
    match ResponseCode::try_from(code) {
        Ok(c) => c.name().to_string(),
        Err(n) => format!("code {n}"),
    }
}

impl AdminError {
    /// `resp`, a non-SUCCESS answer from `addr`, as [`AdminError::Remote`].
    pub fn refused(addr: impl Into<String>, resp: &RemotingCommand) -> AdminError {
        AdminError::Remote {
            addr: addr.into(),
            code: resp.code,
            remark: resp.remark.clone().unwrap_or_default(),
        }
    }

    /// The response code of a remote refusal, if this is one.
    pub fn remote_code(&self) -> Option<i32> {
        match self {
            AdminError::Remote { code, .. } => Some(*code),
            AdminError::Net(NetError::Remote { code, .. }) => Some(*code),
            _ => None,
        }
    }
}
