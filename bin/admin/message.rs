//! `mqadmin` message commands: sendMessage, consumeMessage, queryMsgById, queryMsgByKey,
//! queryMsgByUniqueKey and queryMsgByOffset.
//!
//! The flag structs carry no doc comments: clap would read them as the command's help, which
//! the `Command` variant in `mqadmin.rs` holds (with the command's name), so `mqadmin -h` lists
//! every command in one place.

use rmq_admin::consume::{ConsumeMessage, TOOLS_CONSUMER};
use rmq_admin::message::SendMessage;
use rmq_admin::{Admin, AdminError};

use super::args::{flag_bool, time_arg};

// The flags of `sendMessage`.
#[derive(clap::Args, Debug)]
pub struct SendMessageArgs {
    /// Topic.
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Message body (UTF-8).
    #[arg(short = 'p', long = "body")]
    body: String,
    /// Message keys.
    #[arg(short = 'k', long = "key")]
    key: Option<String>,
    /// Message tag.
    #[arg(short = 'c', long = "tags")]
    tags: Option<String>,
    /// Send to this broker name.
    #[arg(short = 'b', long = "broker")]
    broker: Option<String>,
    /// Send to this queue id (needs -b).
    #[arg(short = 'i', long = "qid")]
    qid: Option<i32>,
    /// Message trace (true|false); accepted for compatibility, traces are not sent.
    #[arg(short = 'm', long = "msgTraceEnable", default_value = "false")]
    msg_trace_enable: String,
}

impl SendMessageArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            topic,
            body,
            key,
            tags,
            broker,
            qid,
            msg_trace_enable,
        } = self;
        flag_bool("-m/--msgTraceEnable", &msg_trace_enable)?;
        let m = SendMessage {
            topic,
            body,
            keys: key,
            tags,
            broker_name: broker,
            queue_id: qid,
        };
        rmq_admin::message::send_message(admin, &m, out).await
    }
}

// The flags of `consumeMessage`.
#[derive(clap::Args, Debug)]
pub struct ConsumeMessageArgs {
    /// Topic.
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Only this broker name.
    #[arg(short = 'b', long = "brokerName")]
    broker_name: Option<String>,
    /// Only this queue (needs -b).
    #[arg(short = 'i', long = "queueId")]
    queue_id: Option<i32>,
    /// Start at this queue offset (needs -i).
    #[arg(short = 'o', long = "offset")]
    offset: Option<i64>,
    /// Consumer group.
    #[arg(short = 'g', long = "consumerGroup", default_value = TOOLS_CONSUMER)]
    consumer_group: String,
    /// Begin time: epoch ms or yyyy-MM-dd#HH:mm:ss:SSS (UTC).
    #[arg(short = 's', long = "beginTimestamp")]
    begin_timestamp: Option<String>,
    /// End time: epoch ms or yyyy-MM-dd#HH:mm:ss:SSS (UTC).
    #[arg(short = 'e', long = "endTimestamp")]
    end_timestamp: Option<String>,
    /// At most this many messages.
    #[arg(short = 'c', long = "MessageNumber", default_value_t = 128)]
    message_number: i64,
}

impl ConsumeMessageArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            topic,
            broker_name,
            queue_id,
            offset,
            consumer_group,
            begin_timestamp,
            end_timestamp,
            message_number,
        } = self;
        let c = ConsumeMessage {
            topic,
            broker_name,
            queue_id,
            offset,
            group: consumer_group,
            begin_ms: time_arg("-s/--beginTimestamp", begin_timestamp)?,
            end_ms: time_arg("-e/--endTimestamp", end_timestamp)?,
            count: message_number,
        };
        rmq_admin::consume::consume_message(admin, &c, out).await
    }
}

/// The `-g consumerGroup -d clientId` pair of queryMsgById and queryMsgByUniqueKey, trimmed:
/// which client should consume the message directly (clap makes each flag require the other).
fn consume_directly<'a>(
    consumer_group: &'a Option<String>,
    client_id: &'a Option<String>,
) -> Option<(&'a str, &'a str)> {
    consumer_group
        .as_deref()
        .map(str::trim)
        .zip(client_id.as_deref().map(str::trim))
}

// The flags of `queryMsgById`.
#[derive(clap::Args, Debug)]
pub struct QueryMsgByIdArgs {
    /// Offset msgId(s), comma separated.
    #[arg(short = 'i', long = "msgId")]
    msg_id: String,
    /// With -d: the consumer group whose client consumes the message directly.
    #[arg(short = 'g', long = "consumerGroup", requires = "client_id")]
    consumer_group: Option<String>,
    /// With -g: the client id (ip@instance, see consumerConnection) that consumes it.
    #[arg(short = 'd', long = "clientId", requires = "consumer_group")]
    client_id: Option<String>,
}

impl QueryMsgByIdArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            msg_id,
            consumer_group,
            client_id,
        } = self;
        let consume = consume_directly(&consumer_group, &client_id);
        rmq_admin::message::query_msg_by_id(admin, &msg_id, consume, out).await
    }
}

// The flags of `queryMsgByKey`.
#[derive(clap::Args, Debug)]
pub struct QueryMsgByKeyArgs {
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Message key (one KEYS token).
    #[arg(short = 'k', long = "msgKey")]
    msg_key: String,
    /// Begin of the store-time range: epoch ms or yyyy-MM-dd#HH:mm:ss:SSS (UTC); default 0.
    #[arg(short = 'b', long = "beginTimestamp")]
    begin_timestamp: Option<String>,
    /// End of the store-time range, same forms; default Long.MAX_VALUE.
    #[arg(short = 'e', long = "endTimestamp")]
    end_timestamp: Option<String>,
    /// At most this many messages per broker group (brokers cap it at maxMsgsNumBatch, 64).
    #[arg(short = 'c', long = "maxNum", default_value_t = 64)]
    max_num: i32,
}

impl QueryMsgByKeyArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            topic,
            msg_key,
            begin_timestamp,
            end_timestamp,
            max_num,
        } = self;
        let q = rmq_admin::query::QueryByKey {
            topic: topic.trim().to_string(),
            key: msg_key.trim().to_string(),
            begin: time_arg("-b/--beginTimestamp", begin_timestamp)?.unwrap_or(0),
            end: time_arg("-e/--endTimestamp", end_timestamp)?.unwrap_or(i64::MAX),
            max_num,
        };
        rmq_admin::query::query_msg_by_key(admin, &q, out).await
    }
}

// The flags of `queryMsgByUniqueKey`.
#[derive(clap::Args, Debug)]
pub struct QueryMsgByUniqueKeyArgs {
    /// The client msgId (UNIQ_KEY).
    #[arg(short = 'i', long = "msgId")]
    msg_id: String,
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// With -d: ask this group's client to consume the message now (CONSUME_MESSAGE_DIRECTLY)
    /// and print its ConsumeMessageDirectlyResult instead of the message.
    #[arg(short = 'g', long = "consumerGroup", requires = "client_id")]
    consumer_group: Option<String>,
    /// With -g: the client id (ip@instance, see `consumerConnection -g`) that consumes it.
    #[arg(short = 'd', long = "clientId", requires = "consumer_group")]
    client_id: Option<String>,
}

impl QueryMsgByUniqueKeyArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            msg_id,
            topic,
            consumer_group,
            client_id,
        } = self;
        let consume = consume_directly(&consumer_group, &client_id);
        rmq_admin::query::query_msg_by_unique_key(admin, topic.trim(), msg_id.trim(), consume, out).await
    }
}

// The flags of `queryMsgByOffset`.
#[derive(clap::Args, Debug)]
pub struct QueryMsgByOffsetArgs {
    /// Topic name.
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Broker name.
    #[arg(short = 'b', long = "brokerName")]
    broker_name: String,
    /// Queue id.
    #[arg(short = 'i', long = "queueId")]
    queue_id: i32,
    /// Queue offset.
    #[arg(short = 'o', long = "offset")]
    offset: i64,
}

impl QueryMsgByOffsetArgs {
    pub async fn run(self, admin: &Admin, out: &mut String) -> Result<(), AdminError> {
        let Self {
            topic,
            broker_name,
            queue_id,
            offset,
        } = self;
        let q = rmq_admin::query::QueryByOffset {
            topic: topic.trim().to_string(),
            broker_name: broker_name.trim().to_string(),
            queue_id,
            offset,
        };
        rmq_admin::query::query_msg_by_offset(admin, &q, out).await
    }
}
