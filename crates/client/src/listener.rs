//! The push consumer's callback: [`ConsumeResult`] and the boxed callback type, shared by the
//! pull loops (`push_queue`) and direct consumption (`direct`).

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::message::MessageExt;

/// What the callback decided about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeResult {
    /// Consumed.
    Success,
    /// Deliver it again later (clustering: sent back to the group's retry topic).
    ReconsumeLater,
}

/// The callback, boxed.
pub(crate) type Listener = Arc<dyn Fn(MessageExt) -> BoxFuture<'static, ConsumeResult> + Send + Sync>;
