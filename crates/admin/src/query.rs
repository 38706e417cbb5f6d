//! `queryMsgByKey`, `queryMsgByUniqueKey` and `queryMsgByOffset`: QUERY_MESSAGE (12) at every
//! broker group of a topic (the master, else a slave), filtered by key as Apache's
//! `MQAdminImpl.queryMessage` does, and a one-message pull at a queue offset.

use std::fmt::Write;

use rmq_remoting::headers::query::QueryMessageRequestHeader;
use rmq_remoting::message::key_query::{self, keep_for_key, keep_for_unique_key};
use rmq_remoting::message::record::MessageRecord;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use crate::admin::Admin;
use crate::consume::{tool_pull_header, TOOLS_CONSUMER};
use crate::error::AdminError;
use crate::message::{client_msg_id, render_message_detail, render_message_fields};

/// Options of `queryMsgByKey`.
#[derive(Debug, Clone)]
pub struct QueryByKey {
    /// `-t`.
    pub topic: String,
    /// `-k`.
    pub key: String,
    /// `-b`, epoch ms (0).
    pub begin: i64,
    /// `-e`, epoch ms (`Long.MAX_VALUE`).
    pub end: i64,
    /// `-c` (64).
    pub max_num: i32,
}

/// QUERY_MESSAGE at each broker group of `topic`; the records found, each with its group's name.
async fn query(
    admin: &Admin,
    topic: &str,
    key: &str,
    max_num: i32,
    (begin, end): (i64, i64),
    unique: bool,
) -> Result<Vec<MessageRecord>, AdminError> {
    crate::topic::validate_topic(topic)?;
    let route = admin.route_required(topic).await?;
    let header = QueryMessageRequestHeader {
        topic: topic.to_string(),
        key: key.to_string(),
        max_num,
        begin_timestamp: begin,
        end_timestamp: end,
        unique_key_query: Some(unique),
    };
    let mut found = Vec::new();
    let mut brokers: Vec<_> = route.broker_datas.iter().collect();
    brokers.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    for bd in brokers {
        let Some(addr) = key_query::query_addr(bd) else {
            continue;
        };
        let resp = admin
            .invoke_raw(
                addr,
                RemotingCommand::request_with(RequestCode::QUERY_MESSAGE, &header),
            )
            .await?;
        if resp.code == ResponseCode::QUERY_NOT_FOUND.code() {
            continue;
        }
        if !resp.is_success() {
            return Err(AdminError::refused(addr, &resp));
        }
        let records = MessageRecord::decode_all(&resp.body)
            .map_err(|e| AdminError::Invalid(format!("{addr} returned undecodable messages: {e}")))?;
        found.extend(records);
    }
    Ok(found)
}

fn no_message() -> AdminError {
    AdminError::Invalid(
        "query message by key finished, but no message. (the key, topic or time range matched nothing; \
         keys are indexed only where the broker has messageIndexEnable=true)"
            .into(),
    )
}

/// The messages of `topic` whose KEYS hold `key`, stored within `[begin, end]` (epoch ms), at
/// most `max_num` per broker group; empty when none matched.
pub async fn messages_by_key(
    admin: &Admin,
    topic: &str,
    key: &str,
    max_num: i32,
    (begin, end): (i64, i64),
) -> Result<Vec<MessageRecord>, AdminError> {
    Ok(query(admin, topic, key, max_num, (begin, end), false)
        .await?
        .into_iter()
        .filter(|r| keep_for_key(r, topic, key))
        .collect())
}

/// The message of `topic` with client id (UNIQ_KEY) `msg_id`, the copy stored first; `None`
/// when no broker group has it.
pub async fn message_by_unique_key(
    admin: &Admin,
    topic: &str,
    msg_id: &str,
) -> Result<Option<MessageRecord>, AdminError> {
    let records = query(admin, topic, msg_id, 32, (0, i64::MAX), true).await?;
    Ok(key_query::oldest(
        records
            .into_iter()
            .filter(|r| keep_for_unique_key(r, msg_id))
            .collect(),
    ))
}

/// `queryMsgByKey -t topic -k key [-b begin] [-e end] [-c maxNum]`: one line per message.
pub async fn query_msg_by_key(admin: &Admin, q: &QueryByKey, out: &mut String) -> Result<(), AdminError> {
    let records = messages_by_key(admin, &q.topic, &q.key, q.max_num, (q.begin, q.end)).await?;
    if records.is_empty() {
        return Err(no_message());
    }
    let _ = writeln!(out, "{:<50} {:>4} {:>40}", "#Message ID", "#QID", "#Offset");
    for r in &records {
        let _ = writeln!(
            out,
            "{:<50} {:>4} {:>40}",
            client_msg_id(r),
            r.queue_id,
            r.queue_offset
        );
    }
    Ok(())
}

/// `queryMsgByUniqueKey -i msgId -t topic`: the message with that client id (the copy stored
/// first), printed as Apache's `queryById` does. With `consume = Some((group, clientId))`
/// (`-g -d`) that consumer is asked to consume it instead, and its answer is printed.
pub async fn query_msg_by_unique_key(
    admin: &Admin,
    topic: &str,
    msg_id: &str,
    consume: Option<(&str, &str)>,
    out: &mut String,
) -> Result<(), AdminError> {
    let first = message_by_unique_key(admin, topic, msg_id)
        .await?
        .ok_or_else(no_message)?;
    if let Some((group, client_id)) = consume {
        return crate::direct::consume_directly(admin, &first, group, client_id, out).await;
    }
    render_message_fields(&first, out);
    Ok(())
}

/// Options of `queryMsgByOffset`.
#[derive(Debug, Clone)]
pub struct QueryByOffset {
    /// `-t`.
    pub topic: String,
    /// `-b`.
    pub broker_name: String,
    /// `-i`.
    pub queue_id: i32,
    /// `-o`.
    pub offset: i64,
}

/// `queryMsgByOffset -t topic -b brokerName -i queueId -o offset`: pulls the one message there
/// (as `TOOLS_CONSUMER`) and prints it as `queryMsgById` does.
pub async fn query_msg_by_offset(
    admin: &Admin,
    q: &QueryByOffset,
    out: &mut String,
) -> Result<(), AdminError> {
    crate::topic::validate_topic(&q.topic)?;
    let route = admin.route_required(&q.topic).await?;
    let bd = route
        .broker_datas
        .iter()
        .find(|b| b.broker_name == q.broker_name)
        .ok_or_else(|| {
            let names: Vec<&str> = route
                .broker_datas
                .iter()
                .map(|b| b.broker_name.as_str())
                .collect();
            AdminError::Invalid(format!(
                "topic {} has no broker named {}; its brokers: {}",
                q.topic,
                q.broker_name,
                names.join(", ")
            ))
        })?;
    let addr = key_query::query_addr(bd).ok_or_else(|| {
        AdminError::Invalid(format!(
            "broker {} has no address on the name server",
            q.broker_name
        ))
    })?;
    let header = tool_pull_header(TOOLS_CONSUMER, &q.topic, q.queue_id, q.offset, 1, 20_000);
    let resp = admin
        .invoke_raw(
            addr,
            RemotingCommand::request_with(RequestCode::PULL_MESSAGE, &header),
        )
        .await?;
    let status = match ResponseCode::try_from(resp.code) {
        Ok(ResponseCode::SUCCESS) => {
            let records = MessageRecord::decode_all(&resp.body)
                .map_err(|e| AdminError::Invalid(format!("{addr} returned undecodable messages: {e}")))?;
            if let Some(rec) = records.first() {
                render_message_detail(&rec.offset_msg_id(), rec, out);
                return Ok(());
            }
            "NO_MATCHED_MSG"
        }
        Ok(ResponseCode::PULL_NOT_FOUND) => "NO_NEW_MSG",
        Ok(ResponseCode::PULL_RETRY_IMMEDIATELY) => "NO_MATCHED_MSG",
        Ok(ResponseCode::PULL_OFFSET_MOVED) => "OFFSET_ILLEGAL",
        _ => return Err(AdminError::refused(addr, &resp)),
    };
    Err(AdminError::Invalid(format!(
        "no message at offset {} of {} queue {} on {}: {status} (check the range with `mqadmin topicStatus -t {}`)",
        q.offset, q.topic, q.queue_id, q.broker_name, q.topic
    )))
}
