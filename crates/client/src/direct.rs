//! CONSUME_MESSAGE_DIRECTLY (309), consumer side: a broker forwards an admin's request
//! (`mqadmin queryMsgByUniqueKey -g group -d clientId`) to make this consumer run its callback on
//! one message now, outside its queues, and answers with a `ConsumeMessageDirectlyResult`, as
//! Apache's `ConsumeMessageConcurrentlyService.consumeMessageDirectly` does.
//!
//! Nothing is acknowledged or sent back: the offsets and retry topic are untouched whatever the
//! callback says (`ReconsumeLater` is reported as `CR_LATER`, a panic as `CR_THROW_EXCEPTION`
//! with its message). A message from the group's retry topic gets its original topic back first.

use std::time::Instant;

use rmq_remoting::body::{CmResult, ConsumeMessageDirectlyResult};
use rmq_remoting::message::properties::keys;
use tracing::{info, warn};

use crate::listener::{ConsumeResult, Listener};
use crate::message::MessageExt;

/// Runs `listener` on `msg` for consumer group `group` and reports how it went.
pub(crate) async fn consume_directly(
    listener: Listener,
    group: String,
    orderly: bool,
    mut msg: MessageExt,
) -> ConsumeMessageDirectlyResult {
    if msg.message.topic == format!("%RETRY%{group}") {
        if let Some(real) = msg.property(keys::RETRY_TOPIC).map(str::to_string) {
            msg.message.topic = real;
        }
    }
    info!(group, topic = %msg.message.topic, queue_offset = msg.queue_offset, "consuming a message directly, as asked by an admin");
    let began = Instant::now();
    let outcome = tokio::spawn(listener(msg)).await;
    let (consume_result, remark) = match outcome {
        Ok(ConsumeResult::Success) => (CmResult::CR_SUCCESS, None),
        Ok(ConsumeResult::ReconsumeLater) => (CmResult::CR_LATER, None),
        Err(e) => {
            warn!(group, error = %e, "message listener panicked while consuming directly");
            (CmResult::CR_THROW_EXCEPTION, Some(e.to_string()))
        }
    };
    ConsumeMessageDirectlyResult {
        order: orderly,
        auto_commit: true,
        consume_result: Some(consume_result),
        remark,
        spent_time_mills: began.elapsed().as_millis() as i64,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::FutureExt;

    use rmq_remoting::message::MessageRecord;

    use super::*;

    fn msg(topic: &str) -> MessageExt {
        let record = MessageRecord {
            topic: topic.into(),
            body: bytes::Bytes::from_static(b"x"),
            properties: "RETRY_TOPIC\u{1}Real".into(),
            ..MessageRecord::default()
        };
        MessageExt::from_record(record, "broker-a").unwrap()
    }

    #[tokio::test]
    async fn outcomes_map_to_apache_results_and_retry_topics_are_restored() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let later: Listener = Arc::new(move |m: MessageExt| {
            sink.lock().unwrap().push(m.message.topic.clone());
            async { ConsumeResult::ReconsumeLater }.boxed()
        });
        let r = consume_directly(later, "g".into(), true, msg("%RETRY%g")).await;
        assert_eq!(r.consume_result, Some(CmResult::CR_LATER));
        assert!(r.order && r.auto_commit);
        assert_eq!(*seen.lock().unwrap(), ["Real"]);

        let boom: Listener = Arc::new(|_| async { panic!("boom") }.boxed());
        let r = consume_directly(boom, "g".into(), false, msg("T")).await;
        assert_eq!(r.consume_result, Some(CmResult::CR_THROW_EXCEPTION));
        assert!(r.remark.unwrap_or_default().contains("boom"));
    }
}
