//! A broker's RESET_CONSUMER_CLIENT_OFFSET (220): the offsets a `resetOffsetByTime` moved a
//! group's queues to. Decoded here, applied by the consumer of the group (a push consumer drops
//! what it cached for those queues, commits the new offsets and pulls on from them; a pull
//! consumer records and commits them). One-way: nothing is answered, a bad push is logged.

use rmq_remoting::body::{MqMap, ResetOffsetBody, ResetOffsetBodyForC};
use rmq_remoting::headers::reset::ResetOffsetRequestHeader;
use rmq_remoting::{clip, RemotingCommand};
use tracing::warn;

/// What a reset push asks: the group, the topic, and queue → offset (only queues of the topic).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResetRequest {
    pub group: String,
    pub topic: String,
    pub offsets: MqMap<i64>,
}

/// Decodes a RESET_CONSUMER_CLIENT_OFFSET push; `None` (and a log line) when it is malformed.
/// The body is the Java map form, or the list form Apache sends when the tool asked for C++.
pub(crate) fn decode(addr: &str, request: &RemotingCommand) -> Option<ResetRequest> {
    let header = match request.decode_header::<ResetOffsetRequestHeader>() {
        Ok(h) => h,
        Err(e) => {
            warn!(broker = addr, error = %e, "malformed reset-offset header; ignored");
            return None;
        }
    };
    let body = ResetOffsetBody::decode(&request.body).or_else(|e| {
        serde_json::from_slice::<ResetOffsetBodyForC>(&request.body)
            .map(|c| c.to_body())
            .map_err(|_| e)
    });
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            warn!(broker = addr, error = %clip(&e), "malformed reset-offset body; ignored");
            return None;
        }
    };
    let offsets = body
        .offset_table
        .0
        .into_iter()
        .filter(|(mq, _)| mq.topic == header.topic)
        .collect();
    Some(ResetRequest {
        group: header.group,
        topic: header.topic,
        offsets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::body::MessageQueue;
    use rmq_remoting::RequestCode;

    fn push(body: Vec<u8>) -> RemotingCommand {
        let h = ResetOffsetRequestHeader {
            topic: "T".into(),
            group: "g".into(),
            timestamp: 5,
            is_force: false,
        };
        RemotingCommand::request_with(RequestCode::RESET_CONSUMER_CLIENT_OFFSET, &h).with_body(body)
    }

    #[test]
    fn both_body_forms_decode_and_other_topics_are_dropped() {
        let body = ResetOffsetBody {
            offset_table: [
                (MessageQueue::new("T", "b", 0), 3),
                (MessageQueue::new("U", "b", 0), 9),
            ]
            .into_iter()
            .collect(),
        };
        let want: MqMap<i64> = [(MessageQueue::new("T", "b", 0), 3)].into_iter().collect();
        let r = decode("x", &push(body.encode())).unwrap();
        assert_eq!((r.group.as_str(), r.topic.as_str()), ("g", "T"));
        assert_eq!(r.offsets, want);
        let c = decode("x", &push(ResetOffsetBodyForC::from(&body).encode())).unwrap();
        assert_eq!(c.offsets, want);
        assert!(decode("x", &push(b"{oops".to_vec())).is_none());
        let no_header = RemotingCommand::request(RequestCode::RESET_CONSUMER_CLIENT_OFFSET);
        assert!(decode("x", &no_header).is_none());
    }
}
