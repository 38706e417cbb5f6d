//! Sending and pulling messages with single blocking requests ([`super::rpc::request`]): what
//! process tests need to check that every acknowledged message reads back.

use std::time::Duration;

use bytes::Bytes;
use rmq_remoting::headers::pull::PullMessageRequestHeader;
use rmq_remoting::headers::send::SendMessageRequestHeaderV2;
use rmq_remoting::message::MessageRecord;
use rmq_remoting::{RemotingCommand, RequestCode};

use super::rpc::request;

const T: Duration = Duration::from_secs(10);

/// A SEND_MESSAGE_V2 of `body` to `topic`/`queue_id` (auto-created from TBW102 with 4 queues),
/// asking to wait for the flush.
pub fn send_request(topic: &str, queue_id: i32, body: impl AsRef<[u8]>) -> RemotingCommand {
    let h = SendMessageRequestHeaderV2 {
        a: "pg".into(),
        b: topic.into(),
        c: "TBW102".into(),
        d: 4,
        e: queue_id,
        g: 1,
        i: Some("WAIT\u{1}true".into()),
        ..Default::default()
    };
    RemotingCommand::request_with(RequestCode::SEND_MESSAGE_V2, &h)
        .with_body(Bytes::copy_from_slice(body.as_ref()))
}

/// One PULL_MESSAGE of up to 32 messages of `topic`/`queue_id` from `offset` as consumer `group`;
/// empty when the broker found none (any code but SUCCESS).
pub fn pull(addr: &str, group: &str, topic: &str, queue_id: i32, offset: i64) -> Vec<MessageRecord> {
    let h = PullMessageRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: 4,
        subscription: Some("*".into()),
        expression_type: Some("TAG".into()),
        ..Default::default()
    };
    let r = request(
        addr,
        RemotingCommand::request_with(RequestCode::PULL_MESSAGE, &h),
        T,
    )
    .expect("pull");
    if r.code != 0 {
        return Vec::new();
    }
    MessageRecord::decode_all(&r.body).expect("records")
}

/// Every message of `topic`/`queue_id` from offset 0, pulled 32 at a time until none is found.
pub fn pull_all(addr: &str, topic: &str, queue_id: i32) -> Vec<MessageRecord> {
    let mut out = Vec::new();
    loop {
        let got = pull(addr, "checker", topic, queue_id, out.len() as i64);
        if got.is_empty() {
            return out;
        }
        out.extend(got);
    }
}
