//! [`Shared`]: the state every task of one push consumer shares (settings, subscriptions,
//! offsets, the current assignment, the callback and the task tracker), behind one `Arc`.
//! [`crate::push_consumer`] builds it; the pull loops ([`crate::push_queue`]), rebalance
//! ([`crate::push_rebalance`]) and offset resets ([`crate::push_reset`]) work on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmq_remoting::body::SubscriptionData;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::instance::ClientInstance;
use crate::listener::Listener;
use crate::offset_store::OffsetStore;
use crate::process_queue::ProcessQueue;
use crate::pull::Puller;
use crate::push_config::PushConsumerConfig;
use crate::MessageQueue;

pub(crate) struct Shared {
    pub config: PushConsumerConfig,
    pub instance: Arc<ClientInstance>,
    pub subscriptions: HashMap<String, SubscriptionData>,
    /// `%RETRY%<group>`, made once: every delivered message is checked against it.
    pub retry_topic: String,
    pub offsets: OffsetStore,
    pub puller: Puller,
    pub listener: Listener,
    pub permits: Arc<Semaphore>,
    pub cancel: CancellationToken,
    pub tasks: TaskTracker,
    // The current assignment; guards the table only.
    pub queues: Mutex<HashMap<MessageQueue, Arc<ProcessQueue>>>,
    // Wakes the rebalance task: a NOTIFY from a broker, a route change or `rebalance_now`.
    pub rebalance: Arc<Notify>,
}
