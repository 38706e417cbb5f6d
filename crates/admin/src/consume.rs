//! `consumeMessage`: reads a topic's messages the way Apache's tool does with a pull consumer —
//! per queue from its min offset (or `-o`, or the offset found for `-s`) up to its max offset (or
//! the offset found for `-e`), at most `-c` messages in all, without committing offsets.

use std::fmt::Write;

use rmq_remoting::headers::offset::{
    GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader, SearchOffsetRequestHeader,
};
use rmq_remoting::headers::pull::{pull_sys_flag, PullMessageRequestHeader, PullMessageResponseHeader};
use rmq_remoting::message::record::MessageRecord;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use crate::admin::Admin;
use crate::error::AdminError;
use crate::message::{client_msg_id, message_ext_string, plain_body};

/// The PULL_MESSAGE header the tools send: every tag (`*`), a fresh subscription, no offset
/// commit; `suspend_ms` 0 answers at once, more lets the broker hold the pull.
pub(crate) fn tool_pull_header(
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
    max: i32,
    suspend_ms: i64,
) -> PullMessageRequestHeader {
    PullMessageRequestHeader {
        consumer_group: group.to_string(),
        topic: topic.to_string(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: max,
        sys_flag: pull_sys_flag::SUBSCRIPTION,
        commit_offset: 0,
        suspend_timeout_millis: suspend_ms,
        subscription: Some("*".into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        bname: None,
    }
}

/// Group Apache's tool pulls as.
pub const TOOLS_CONSUMER: &str = "TOOLS_CONSUMER";

/// Options of `consumeMessage`.
#[derive(Debug, Clone)]
pub struct ConsumeMessage {
    /// `-t`.
    pub topic: String,
    /// `-b`.
    pub broker_name: Option<String>,
    /// `-i` (needs `-b`).
    pub queue_id: Option<i32>,
    /// `-o` (needs `-i`).
    pub offset: Option<i64>,
    /// `-g` (default `TOOLS_CONSUMER`).
    pub group: String,
    /// `-s` in epoch ms.
    pub begin_ms: Option<i64>,
    /// `-e` in epoch ms.
    pub end_ms: Option<i64>,
    /// `-c` (default 128).
    pub count: i64,
}

struct Queue {
    broker_name: String,
    addr: String,
    queue_id: i32,
}

/// `consumeMessage`.
pub async fn consume_message(admin: &Admin, c: &ConsumeMessage, out: &mut String) -> Result<(), AdminError> {
    crate::topic::validate_topic(&c.topic)?;
    if c.queue_id.is_some() && c.broker_name.is_none() {
        return Err(AdminError::Invalid("-i/--queueId needs -b/--brokerName".into()));
    }
    if c.offset.is_some() && c.queue_id.is_none() {
        return Err(AdminError::Invalid(
            "-o/--offset needs -b/--brokerName and -i/--queueId".into(),
        ));
    }
    if c.count <= 0 {
        return Err(AdminError::Invalid(format!(
            "-c/--MessageNumber must be positive, not {}",
            c.count
        )));
    }
    let route = admin.route_required(&c.topic).await?;
    let mut queues = Vec::new();
    let mut qds: Vec<_> = route.queue_datas.iter().filter(|q| q.is_readable()).collect();
    qds.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    for q in qds {
        if c.broker_name.as_deref().is_some_and(|b| b != q.broker_name) {
            continue;
        }
        let Some(bd) = route.broker_datas.iter().find(|b| b.broker_name == q.broker_name) else {
            continue;
        };
        let Some(addr) = bd.select_broker_addr() else {
            continue;
        };
        for queue_id in 0..q.read_queue_nums {
            if !matches!(c.queue_id, Some(want) if want != queue_id) {
                queues.push(Queue {
                    broker_name: q.broker_name.clone(),
                    addr: addr.to_string(),
                    queue_id,
                });
            }
        }
    }
    if queues.is_empty() {
        return Err(AdminError::Invalid(format!(
            "no readable queue of {} matches; see `mqadmin topicRoute -t {}`",
            c.topic, c.topic
        )));
    }
    let mut left = c.count;
    for q in &queues {
        if left <= 0 {
            break;
        }
        left -= pull_queue(admin, c, q, left, out).await?;
    }
    Ok(())
}

async fn offset_at(admin: &Admin, c: &ConsumeMessage, q: &Queue, ts: i64) -> Result<i64, AdminError> {
    let h = SearchOffsetRequestHeader {
        topic: c.topic.clone(),
        queue_id: q.queue_id,
        timestamp: ts,
        bname: None,
    };
    Ok(admin.call(&q.addr, &h).await?.0.offset)
}

/// Pulls one queue; returns how many messages it printed.
async fn pull_queue(
    admin: &Admin,
    c: &ConsumeMessage,
    q: &Queue,
    limit: i64,
    out: &mut String,
) -> Result<i64, AdminError> {
    let mq = format!(
        "MessageQueue [topic={}, brokerName={}, queueId={}]",
        c.topic, q.broker_name, q.queue_id
    );
    let min = match (c.offset, c.begin_ms) {
        (Some(o), _) => o,
        (None, Some(ts)) => offset_at(admin, c, q, ts).await?,
        (None, None) => {
            let h = GetMinOffsetRequestHeader {
                topic: c.topic.clone(),
                queue_id: q.queue_id,
                bname: None,
            };
            admin.call(&q.addr, &h).await?.0.offset
        }
    };
    let max = match c.end_ms {
        Some(ts) => offset_at(admin, c, q, ts).await?,
        None => {
            let h = GetMaxOffsetRequestHeader {
                topic: c.topic.clone(),
                queue_id: q.queue_id,
                bname: None,
            };
            admin.call(&q.addr, &h).await?.0.offset
        }
    };
    let mut printed = 0;
    let mut offset = min;
    while offset < max && printed < limit {
        let batch = (max - offset).min(32).min(limit - printed) as i32;
        let header = tool_pull_header(&c.group, &c.topic, q.queue_id, offset, batch, 20_000);
        let resp = admin
            .invoke_raw(
                &q.addr,
                RemotingCommand::request_with(RequestCode::PULL_MESSAGE, &header),
            )
            .await?;
        let next = resp
            .decode_header::<PullMessageResponseHeader>()
            .map(|h| h.next_begin_offset);
        match ResponseCode::try_from(resp.code) {
            Ok(ResponseCode::SUCCESS) => {
                let records = MessageRecord::decode_all(&resp.body).map_err(|e| {
                    AdminError::Invalid(format!("{} returned undecodable messages: {e}", q.addr))
                })?;
                let _ = writeln!(out, "Consume ok");
                for rec in &records {
                    let body = String::from_utf8_lossy(&plain_body(rec)).into_owned();
                    let _ = writeln!(
                        out,
                        "MSGID: {} {} BODY: {body}",
                        client_msg_id(rec),
                        message_ext_string(rec, &q.broker_name)
                    );
                }
                printed += records.len() as i64;
                let next =
                    next.map_err(|e| AdminError::Invalid(format!("bad pull reply from {}: {e}", q.addr)))?;
                if next <= offset {
                    break;
                }
                offset = next;
            }
            Ok(ResponseCode::PULL_RETRY_IMMEDIATELY) => {
                let _ = writeln!(out, "{mq} no matched msg. status=NO_MATCHED_MSG, offset={offset}");
                match next {
                    Ok(n) if n > offset => offset = n,
                    _ => break,
                }
            }
            Ok(ResponseCode::PULL_NOT_FOUND) | Ok(ResponseCode::PULL_OFFSET_MOVED) => {
                let status = if resp.code == ResponseCode::PULL_NOT_FOUND.code() {
                    "NO_NEW_MSG"
                } else {
                    "OFFSET_ILLEGAL"
                };
                let _ = writeln!(out, "{mq} print msg finished. status={status}, offset={offset}");
                break;
            }
            _ => return Err(AdminError::refused(&q.addr, &resp)),
        }
    }
    Ok(printed)
}
