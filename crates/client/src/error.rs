//! [`ClientError`]: why a client call failed. Variants exist where a caller branches on them:
//! retry on another broker (transport or a retryable broker code), give up (a non-retryable code,
//! bad input), or wait for a route.

use rmq_remoting::net::NetError;
use rmq_remoting::ResponseCode;

/// A client failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The remote call itself failed (connect, timeout, closed connection).
    #[error(transparent)]
    Net(#[from] NetError),
    /// A broker or nameserver answered with a failure code.
    #[error("{addr} answered {code}: {remark}")]
    Broker {
        /// Who answered.
        addr: String,
        /// The response code.
        code: i32,
        /// The response remark.
        remark: String,
    },
    /// No nameserver knows the topic, or its route has no usable queue.
    #[error("no route for topic {0}: create it (mqadmin updateTopic) or enable autoCreateTopicEnable on the broker")]
    NoRoute(String),
    /// The topic has a route, but none of its queues takes writes: every broker group holding
    /// it is read-only (write permission wiped) or has lost its master.
    #[error("no writable queue for topic {0}: its brokers are not writable (write permission wiped or master down)")]
    NotWritable(String),
    /// The route names a broker whose address is unknown.
    #[error("no address known for broker {0}")]
    BrokerNotFound(String),
    /// A body or header from the server could not be decoded.
    #[error("bad response: {0}")]
    BadBody(String),
    /// A query found no message (Apache's MQClientException NO_MESSAGE, 208).
    #[error("{0}")]
    NotFound(String),
    /// Invalid configuration or argument.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The client was shut down.
    #[error("the client has been shut down")]
    Shutdown,
}

impl ClientError {
    /// A broker answer as an error.
    pub(crate) fn broker(addr: &str, response: &rmq_remoting::RemotingCommand) -> Self {
        ClientError::Broker {
            addr: addr.to_string(),
            code: response.code,
            remark: response.remark.clone().unwrap_or_default(),
        }
    }

    /// The broker response code, when the broker answered.
    pub fn response_code(&self) -> Option<i32> {
        match self {
            ClientError::Broker { code, .. } => Some(*code),
            ClientError::Net(NetError::Remote { code, .. }) => Some(*code),
            _ => None,
        }
    }

    /// Whether a send that failed this way is worth retrying on another broker: transport
    /// failures, and the codes RocketMQ's producer retries (protocol.md §6).
    pub fn is_retryable_send(&self) -> bool {
        const RETRYABLE: [ResponseCode; 6] = [
            ResponseCode::TOPIC_NOT_EXIST,
            ResponseCode::SERVICE_NOT_AVAILABLE,
            ResponseCode::SYSTEM_ERROR,
            ResponseCode::NO_PERMISSION,
            ResponseCode::NO_BUYER_ID,
            ResponseCode::NOT_IN_CURRENT_UNIT,
        ];
        match self {
            ClientError::Net(NetError::Remote { code, .. }) | ClientError::Broker { code, .. } => {
                RETRYABLE.iter().any(|c| c.code() == *code)
            }
            ClientError::Net(_) | ClientError::BrokerNotFound(_) => true,
            _ => false,
        }
    }

    /// Whether the failure is a transport failure (the broker may be down).
    pub fn is_transport(&self) -> bool {
        matches!(self, ClientError::Net(e) if !matches!(e, NetError::Remote { .. } | NetError::BadHeader { .. }))
    }
}

/// Result alias.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(code: ResponseCode) -> ClientError {
        ClientError::Broker {
            addr: "b".into(),
            code: code.code(),
            remark: String::new(),
        }
    }

    #[test]
    fn retryable_codes_match_rocketmq() {
        assert!(broker(ResponseCode::NO_PERMISSION).is_retryable_send());
        assert!(broker(ResponseCode::SYSTEM_ERROR).is_retryable_send());
        assert!(broker(ResponseCode::TOPIC_NOT_EXIST).is_retryable_send());
        assert!(!broker(ResponseCode::SYSTEM_BUSY).is_retryable_send());
        assert!(!broker(ResponseCode::MESSAGE_ILLEGAL).is_retryable_send());
        let closed = ClientError::Net(NetError::ConnectionClosed { addr: "x".into() });
        assert!(closed.is_retryable_send() && closed.is_transport());
        assert!(!ClientError::Invalid("x".into()).is_retryable_send());
    }
}
