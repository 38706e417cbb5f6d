//! The producers and consumers registered with a [`ClientInstance`](crate::ClientInstance), as
//! the instance sees them: [`ConsumerMember`] (heartbeat entry, rebalance, direct consumption,
//! offset resets) and [`TransactionMember`] (transaction checks), and the two tables that hold
//! them by group.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmq_remoting::body::{ConsumeMessageDirectlyResult, ConsumerData, MqMap};
use rmq_remoting::headers::transaction::CheckTransactionStateRequestHeader;

use crate::message::MessageExt;

/// What a consumer registered with the instance offers to it.
pub(crate) trait ConsumerMember: Send + Sync {
    /// Its heartbeat entry.
    fn consumer_data(&self) -> ConsumerData;
    /// Asks for a rebalance now (NOTIFY_CONSUMER_IDS_CHANGED, a route change).
    fn request_rebalance(&self);
    /// Runs the callback on `msg` now (CONSUME_MESSAGE_DIRECTLY); `None` for consumers without
    /// a callback (pull consumers), as Apache's pull consumer does.
    fn consume_directly(
        &self,
        _msg: MessageExt,
    ) -> Option<futures::future::BoxFuture<'static, ConsumeMessageDirectlyResult>> {
        None
    }

    /// A broker moved the group's offsets on `topic` (RESET_CONSUMER_CLIENT_OFFSET).
    fn reset_offsets(&self, topic: &str, offsets: MqMap<i64>);
}

/// Consumer group → its member; shared by the instance and the broker-request handler.
pub(crate) type Consumers = Arc<Mutex<HashMap<String, Arc<dyn ConsumerMember>>>>;

/// What a transactional producer registered with the instance offers to it.
pub(crate) trait TransactionMember: Send + Sync {
    /// A broker at `broker_addr` asks about the half message `msg` (CHECK_TRANSACTION_STATE).
    fn on_check(&self, broker_addr: &str, header: CheckTransactionStateRequestHeader, msg: MessageExt);
}

/// Transactional producer group → its check handler; shared like [`Consumers`].
pub(crate) type Checkers = Arc<Mutex<HashMap<String, Arc<dyn TransactionMember>>>>;
