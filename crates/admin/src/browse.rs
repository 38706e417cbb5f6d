//! Messages of a topic stored within a time range, as the dashboard's "by topic" search reads
//! them: for each readable queue, SEARCH_OFFSET_BY_TIMESTAMP for both ends, then pulls (as
//! `TOOLS_CONSUMER`, committing nothing) between them, keeping the records whose store time is
//! inside the range. Only public requests, so it works against any 4.x broker.

use rmq_remoting::headers::offset::{GetMaxOffsetRequestHeader, SearchOffsetRequestHeader};
use rmq_remoting::headers::pull::PullMessageResponseHeader;
use rmq_remoting::message::record::MessageRecord;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use crate::admin::Admin;
use crate::consume::{tool_pull_header, TOOLS_CONSUMER};
use crate::error::AdminError;

/// A message found by [`messages_in_range`], with the broker group it was read from.
#[derive(Debug, Clone)]
pub struct Found {
    /// `brokerName` of the group that stores it.
    pub broker_name: String,
    /// The record as pulled.
    pub record: MessageRecord,
}

/// What [`messages_in_range`] read.
#[derive(Debug, Clone, Default)]
pub struct RangeResult {
    /// Matching messages, by broker, queue and offset; at most the `max` asked for.
    pub messages: Vec<Found>,
    /// True when more matching messages were left unread because `max` was reached.
    pub truncated: bool,
}

/// Most records asked for in one pull.
const PULL_BATCH: i64 = 32;

/// The messages of `topic` stored within `[begin_ms, end_ms]`, at most `max`.
pub async fn messages_in_range(
    admin: &Admin,
    topic: &str,
    begin_ms: i64,
    end_ms: i64,
    max: usize,
) -> Result<RangeResult, AdminError> {
    crate::topic::validate_topic(topic)?;
    if begin_ms > end_ms {
        return Err(AdminError::Invalid(format!(
            "the range begins ({begin_ms}) after it ends ({end_ms}); swap the two times"
        )));
    }
    let route = admin.route_required(topic).await?;
    let mut qds: Vec<_> = route.queue_datas.iter().filter(|q| q.is_readable()).collect();
    qds.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    let mut result = RangeResult::default();
    for q in qds {
        let Some(addr) = route
            .broker_datas
            .iter()
            .find(|b| b.broker_name == q.broker_name)
            .and_then(|b| b.select_broker_addr())
        else {
            continue;
        };
        for queue_id in 0..q.read_queue_nums {
            let left = max.saturating_sub(result.messages.len());
            let (records, more) = read_queue(admin, addr, topic, queue_id, (begin_ms, end_ms), left).await?;
            result.messages.extend(records.into_iter().map(|record| Found {
                broker_name: q.broker_name.clone(),
                record,
            }));
            result.truncated |= more;
        }
    }
    Ok(result)
}

/// One queue: the records inside the range, at most `limit`, and whether more were left.
async fn read_queue(
    admin: &Admin,
    addr: &str,
    topic: &str,
    queue_id: i32,
    (begin_ms, end_ms): (i64, i64),
    limit: usize,
) -> Result<(Vec<MessageRecord>, bool), AdminError> {
    let search = |ts: i64| SearchOffsetRequestHeader {
        topic: topic.to_string(),
        queue_id,
        timestamp: ts,
        bname: None,
    };
    let from = admin.call(addr, &search(begin_ms)).await?.0.offset;
    let max = GetMaxOffsetRequestHeader {
        topic: topic.to_string(),
        queue_id,
        bname: None,
    };
    let max = admin.call(addr, &max).await?.0.offset;
    // The offset found for the end may hold the last message inside the range: read one past it.
    let to = (admin.call(addr, &search(end_ms)).await?.0.offset + 1).min(max);
    let mut out = Vec::new();
    let mut offset = from.max(0);
    while offset < to {
        let max = (to - offset).min(PULL_BATCH) as i32;
        let header = tool_pull_header(TOOLS_CONSUMER, topic, queue_id, offset, max, 0);
        let resp = admin
            .invoke_raw(
                addr,
                RemotingCommand::request_with(RequestCode::PULL_MESSAGE, &header),
            )
            .await?;
        let next = resp
            .decode_header::<PullMessageResponseHeader>()
            .map(|h| h.next_begin_offset)
            .ok();
        match ResponseCode::try_from(resp.code) {
            Ok(ResponseCode::SUCCESS) => {
                let records = MessageRecord::decode_all(&resp.body)
                    .map_err(|e| AdminError::Invalid(format!("{addr} returned undecodable messages: {e}")))?;
                for r in records {
                    if r.queue_offset >= to {
                        break;
                    }
                    if (begin_ms..=end_ms).contains(&r.store_timestamp) {
                        if out.len() == limit {
                            return Ok((out, true));
                        }
                        out.push(r);
                    }
                }
            }
            Ok(ResponseCode::PULL_RETRY_IMMEDIATELY) => {}
            Ok(ResponseCode::PULL_NOT_FOUND) | Ok(ResponseCode::PULL_OFFSET_MOVED) => break,
            _ => return Err(AdminError::refused(addr, &resp)),
        }
        match next {
            Some(n) if n > offset => offset = n,
            _ => break,
        }
    }
    Ok((out, false))
}
