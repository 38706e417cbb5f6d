//! Message commands that need no consumer state: `sendMessage` (SEND_MESSAGE_V2 to a chosen
//! queue's master) and `queryMsgById` (VIEW_MESSAGE_BY_ID at the address inside an offset msgId),
//! plus the Java-like renderings of a stored message that `consumeMessage` shares.

use std::fmt::Write;
use std::io::Read;
use std::net::SocketAddr;

use bytes::Bytes;
use rand::Rng;
use rmq_remoting::body::TopicRouteData;
use rmq_remoting::headers::offset::ViewMessageRequestHeader;
use rmq_remoting::headers::send::{SendMessageRequestHeaderV2, SendMessageResponseHeader};
use rmq_remoting::message::id::{decode_offset_msg_id, UniqIdGenerator};
use rmq_remoting::message::properties::{self, keys};
use rmq_remoting::message::record::MessageRecord;
use rmq_remoting::message::sys_flag;
use rmq_remoting::net::local_ip::local_ipv4;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use crate::admin::Admin;
use crate::error::AdminError;
use crate::format;

/// Template topic a producer falls back to for a topic with no route (broker auto-creation).
pub const AUTO_CREATE_TOPIC: &str = "TBW102";

/// Options of `sendMessage`.
#[derive(Debug, Clone, Default)]
pub struct SendMessage {
    /// `-t`.
    pub topic: String,
    /// `-p`: the body, sent as UTF-8.
    pub body: String,
    /// `-k`.
    pub keys: Option<String>,
    /// `-c`.
    pub tags: Option<String>,
    /// `-b`: only this broker name.
    pub broker_name: Option<String>,
    /// `-i`: this queue (needs `-b`).
    pub queue_id: Option<i32>,
}

/// A writable queue: broker name, master address, queue id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Broker name.
    pub broker_name: String,
    /// Master address.
    pub addr: String,
    /// Queue id.
    pub queue_id: i32,
}

/// Writable queues of `route` on brokers with a master, optionally only on `broker`.
pub fn writable_queues(route: &TopicRouteData, broker: Option<&str>) -> Vec<Target> {
    let mut out = Vec::new();
    let mut qds: Vec<_> = route.queue_datas.iter().collect();
    qds.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    for q in qds {
        if !q.is_writeable() || broker.is_some_and(|b| b != q.broker_name) {
            continue;
        }
        let Some(bd) = route.broker_datas.iter().find(|b| b.broker_name == q.broker_name) else {
            continue;
        };
        let Some(addr) = bd.master_addr() else { continue };
        for queue_id in 0..q.write_queue_nums {
            out.push(Target {
                broker_name: q.broker_name.clone(),
                addr: addr.to_string(),
                queue_id,
            });
        }
    }
    out
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Maps a send response code to the client's SendStatus name; `None` means the send failed.
pub fn send_status(code: i32) -> Option<&'static str> {
    match ResponseCode::try_from(code) {
        Ok(ResponseCode::SUCCESS) => Some("SEND_OK"),
        Ok(ResponseCode::FLUSH_DISK_TIMEOUT) => Some("FLUSH_DISK_TIMEOUT"),
        Ok(ResponseCode::FLUSH_SLAVE_TIMEOUT) => Some("FLUSH_SLAVE_TIMEOUT"),
        Ok(ResponseCode::SLAVE_NOT_AVAILABLE) => Some("SLAVE_NOT_AVAILABLE"),
        _ => None,
    }
}

/// `sendMessage`: one message to a queue picked at random (or `-b`/`-i`), retried on another
/// broker up to twice like the Java producer.
pub async fn send_message(admin: &Admin, m: &SendMessage, out: &mut String) -> Result<(), AdminError> {
    crate::topic::validate_topic(&m.topic)?;
    if m.queue_id.is_some() && m.broker_name.is_none() {
        return Err(AdminError::Invalid(
            "-i/--qid needs -b/--broker <brokerName>".into(),
        ));
    }
    let (route, auto_create) = match admin.route(&m.topic).await? {
        Some(r) => (r, false),
        None => (
            admin.route_required(AUTO_CREATE_TOPIC).await.map_err(|_| {
                AdminError::Invalid(format!(
                    "topic {} does not exist and the brokers do not auto-create topics; create it with \
                 `mqadmin updateTopic -c <cluster> -t {}`",
                    m.topic, m.topic
                ))
            })?,
            true,
        ),
    };
    let mut queues = writable_queues(&route, m.broker_name.as_deref());
    if auto_create {
        // The template's queue count is not the new topic's; clamp like the Java producer does (4).
        queues.retain(|q| q.queue_id < 4);
    }
    if let Some(qid) = m.queue_id {
        queues.retain(|q| q.queue_id == qid);
    }
    if queues.is_empty() {
        let which = match (&m.broker_name, m.queue_id) {
            (Some(b), Some(q)) => format!(" on broker {b} queue {q}"),
            (Some(b), None) => format!(" on broker {b}"),
            _ => String::new(),
        };
        return Err(AdminError::Invalid(format!(
            "topic {} has no writable queue{which}; check `mqadmin topicRoute -t {}` (perm must include W=2)",
            m.topic, m.topic
        )));
    }

    let uniq = UniqIdGenerator::new(local_ipv4(), std::process::id(), rand::thread_rng().gen());
    let msg_id = uniq.next_id(now_ms());
    let mut props = properties::Properties::new();
    props.insert(keys::UNIQ_KEY.into(), msg_id.clone());
    props.insert(keys::WAIT.into(), "true".into());
    if let Some(k) = m.keys.as_deref().filter(|k| !k.is_empty()) {
        props.insert(keys::KEYS.into(), k.into());
    }
    if let Some(t) = m.tags.as_deref().filter(|t| !t.is_empty()) {
        props.insert(keys::TAGS.into(), t.into());
    }
    let props = properties::render(&props);
    let group = now_ms().to_string();

    let first = rand::thread_rng().gen_range(0..queues.len());
    let mut last_err = None;
    let mut last_broker: Option<String> = None;
    for start in first..first + 3 {
        // Prefer a queue on another broker than the one that just failed.
        let pick = (0..queues.len())
            .map(|i| &queues[(start + i) % queues.len()])
            .find(|q| last_broker.as_deref() != Some(q.broker_name.as_str()))
            .unwrap_or(&queues[start % queues.len()]);
        let header = SendMessageRequestHeaderV2 {
            a: group.clone(),
            b: m.topic.clone(),
            c: AUTO_CREATE_TOPIC.into(),
            d: 4,
            e: pick.queue_id,
            f: 0,
            g: now_ms(),
            h: 0,
            i: Some(props.clone()),
            j: Some(0),
            k: Some(false),
            l: None,
            m: Some(false),
            n: Some(pick.broker_name.clone()),
        };
        let cmd = RemotingCommand::request_with(RequestCode::SEND_MESSAGE_V2, &header)
            .with_body(Bytes::from(m.body.clone().into_bytes()));
        match admin.invoke_raw(&pick.addr, cmd).await {
            Ok(resp) => match send_status(resp.code) {
                Some(status) => {
                    let h: SendMessageResponseHeader = resp.decode_header().map_err(|e| {
                        AdminError::Invalid(format!("bad send reply from {}: {e}", pick.addr))
                    })?;
                    let _ = writeln!(
                        out,
                        "{:<32}  {:<4}  {:<20}    #MsgId",
                        "#Broker Name", "#QID", "#Send Result"
                    );
                    let _ = writeln!(
                        out,
                        "{:<32}  {:<4}  {:<20}    {}",
                        pick.broker_name, h.queue_id, status, msg_id
                    );
                    return Ok(());
                }
                None => last_err = Some(AdminError::refused(&pick.addr, &resp)),
            },
            Err(e) => last_err = Some(e),
        }
        last_broker = Some(pick.broker_name.clone());
    }
    Err(last_err.unwrap_or_else(|| AdminError::Invalid("send failed".into())))
}

/// The body as the consumer sees it: inflated when the compressed flag is set.
pub fn plain_body(rec: &MessageRecord) -> Vec<u8> {
    if rec.sys_flag & sys_flag::COMPRESSED != 0 {
        let mut out = Vec::new();
        if flate2::read::ZlibDecoder::new(&rec.body[..])
            .read_to_end(&mut out)
            .is_ok()
        {
            return out;
        }
    }
    rec.body.to_vec()
}

/// The id Java's `MessageExt.getMsgId()` returns for a pulled message: UNIQ_KEY when present.
pub fn client_msg_id(rec: &MessageRecord) -> String {
    rec.property(keys::UNIQ_KEY)
        .map(str::to_string)
        .unwrap_or_else(|| rec.offset_msg_id())
}

fn host(addr: &SocketAddr) -> String {
    format!("/{addr}")
}

/// Java's `MessageExt.toString()` (properties sorted; body as Java's `Arrays.toString`).
pub fn message_ext_string(rec: &MessageRecord, broker_name: &str) -> String {
    let body = plain_body(rec);
    let body_list: Vec<String> = body.iter().map(|b| (*b as i8).to_string()).collect();
    let props = properties::parse(&rec.properties);
    format!(
        "MessageExt [brokerName={broker_name}, queueId={}, storeSize={}, queueOffset={}, sysFlag={}, bornTimestamp={}, \
         bornHost={}, storeTimestamp={}, storeHost={}, msgId={}, commitLogOffset={}, bodyCRC={}, reconsumeTimes={}, \
         preparedTransactionOffset={}, toString()=Message{{topic='{}', flag={}, properties={}, body=[{}], transactionId='null'}}]",
        rec.queue_id,
        rec.encoded_len(),
        rec.queue_offset,
        rec.sys_flag,
        rec.born_timestamp,
        host(&rec.born_host),
        rec.store_timestamp,
        host(&rec.store_host),
        rec.offset_msg_id(),
        rec.physical_offset,
        rec.body_crc,
        rec.reconsume_times,
        rec.prepared_transaction_offset,
        rec.topic,
        rec.flag,
        format::java_map(props.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        body_list.join(", ")
    )
}

/// VIEW_MESSAGE_BY_ID at the broker an offset msgId names (its store host and commit-log
/// offset); an id that is not one is an error saying what an offset msgId looks like.
pub async fn message_by_offset_id(admin: &Admin, id: &str) -> Result<MessageRecord, AdminError> {
    let (addr, offset) = decode_offset_msg_id(id).ok_or_else(|| {
        AdminError::Invalid(format!(
            "{id} is not an offset msgId (32 hex digits: store host ip, port, commit log offset); \
             use the offsetMsgId a send returns or that consumeMessage prints as msgId=…"
        ))
    })?;
    let addr = addr.to_string();
    let (_, resp) = admin.call(&addr, &ViewMessageRequestHeader { offset }).await?;
    let (rec, _) = MessageRecord::decode(&resp.body, false)
        .map_err(|e| AdminError::Invalid(format!("{addr} returned an undecodable message: {e}")))?;
    Ok(rec)
}

/// `queryMsgById -i <offsetMsgId[,id…]>`: VIEW_MESSAGE_BY_ID at the broker named in each id.
pub async fn query_msg_by_id(
    admin: &Admin,
    ids: &str,
    consume: Option<(&str, &str)>,
    out: &mut String,
) -> Result<(), AdminError> {
    for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let rec = message_by_offset_id(admin, id).await?;
        if let Some((group, client_id)) = consume {
            crate::direct::consume_directly(admin, &rec, group, client_id, out).await?;
            continue;
        }
        render_message_detail(id, &rec, out);
    }
    Ok(())
}

/// The `queryMsgById` block for one message.
pub fn render_message_detail(id: &str, rec: &MessageRecord, out: &mut String) {
    let _ = writeln!(out, "{:<20} {id}", "OffsetID:");
    render_message_fields(rec, out);
}

/// The block without its `OffsetID:` line (`queryMsgByUniqueKey`).
pub fn render_message_fields(rec: &MessageRecord, out: &mut String) {
    let props = properties::parse(&rec.properties);
    let opt = |k: &str| rec.property(k).unwrap_or("null").to_string();
    let rows: [(&str, String); 14] = [
        ("Topic:", rec.topic.clone()),
        ("Tags:", format!("[{}]", opt(keys::TAGS))),
        ("Keys:", format!("[{}]", opt(keys::KEYS))),
        ("Queue ID:", rec.queue_id.to_string()),
        ("Queue Offset:", rec.queue_offset.to_string()),
        ("CommitLog Offset:", rec.physical_offset.to_string()),
        ("Reconsume Times:", rec.reconsume_times.to_string()),
        ("Born Timestamp:", format::human_millis(rec.born_timestamp)),
        ("Store Timestamp:", format::human_millis(rec.store_timestamp)),
        ("Born Host:", rec.born_host.to_string()),
        ("Store Host:", rec.store_host.to_string()),
        ("System Flag:", rec.sys_flag.to_string()),
        (
            "Properties:",
            format::java_map(props.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        ),
        (
            "Message Body:",
            String::from_utf8_lossy(&plain_body(rec)).into_owned(),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<20} {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::body::JsonBody;

    fn route() -> TopicRouteData {
        TopicRouteData::decode(
            br#"{"brokerDatas":[{"brokerAddrs":{"0":"h:1"},"brokerName":"b","cluster":"C"},
                {"brokerAddrs":{"0":"h:2"},"brokerName":"a","cluster":"C"},
                {"brokerAddrs":{"1":"h:3"},"brokerName":"s","cluster":"C"}],
              "queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":2,"writeQueueNums":2,"topicSysFlag":0},
                {"brokerName":"a","perm":4,"readQueueNums":2,"writeQueueNums":2,"topicSysFlag":0},
                {"brokerName":"s","perm":6,"readQueueNums":2,"writeQueueNums":2,"topicSysFlag":0}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn only_writable_queues_with_a_master_are_targets() {
        let q = writable_queues(&route(), None);
        assert_eq!(q.len(), 2, "a is read-only, s has no master");
        assert!(q.iter().all(|t| t.broker_name == "b" && t.addr == "h:1"));
        assert!(writable_queues(&route(), Some("a")).is_empty());
    }

    #[test]
    fn send_status_names() {
        assert_eq!(send_status(0), Some("SEND_OK"));
        assert_eq!(send_status(12), Some("FLUSH_SLAVE_TIMEOUT"));
        assert_eq!(send_status(17), None);
    }

    #[test]
    fn compressed_bodies_are_inflated() {
        use std::io::Write as _;
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(5));
        enc.write_all(b"hello").unwrap();
        let rec = MessageRecord {
            sys_flag: sys_flag::COMPRESSED,
            body: Bytes::from(enc.finish().unwrap()),
            ..Default::default()
        };
        assert_eq!(plain_body(&rec), b"hello");
    }

    #[test]
    fn detail_block_shows_tags_keys_and_body() {
        let rec = MessageRecord {
            topic: "T".into(),
            properties: "KEYS\u{1}k1\u{2}TAGS\u{1}TagA".into(),
            body: Bytes::from_static(b"hi"),
            ..Default::default()
        };
        let mut out = String::new();
        render_message_detail("ID", &rec, &mut out);
        assert!(out.contains("Tags:                [TagA]"), "{out}");
        assert!(out.contains("Keys:                [k1]"));
        assert!(out.lines().last().unwrap().ends_with(" hi"));
    }
}
