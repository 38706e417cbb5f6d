//! Send headers (protocol.md §2.4): SEND_MESSAGE (10) with long field names, SEND_MESSAGE_V2 (310)
//! and SEND_BATCH_MESSAGE (320) with the one-letter names `a`..`n`, conversions between the two,
//! and the send response header with the broker's extra `MSG_REGION` / `TRACE_ON` fields.
//!
//! A broker handles all three codes with one [`SendMessageRequestHeader`]:
//! [`decode_send_request_header`] picks the layout from the request code.

use crate::code::RequestCode;
use crate::command::RemotingCommand;
use crate::command_header;
use crate::header::{CommandHeader, HeaderError, RpcRequest};

command_header! {
    /// SEND_MESSAGE (10) request (Java `SendMessageRequestHeader`).
    pub struct SendMessageRequestHeader {
        /// Producer group.
        producer_group: String = "producerGroup",
        /// Topic.
        topic: String = "topic",
        /// Template topic for auto-creation, normally `TBW102`.
        default_topic: String = "defaultTopic",
        /// Queue count of an auto-created topic.
        default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        /// Target queue; negative lets the broker pick.
        queue_id: i32 = "queueId",
        /// `MessageSysFlag` bits.
        sys_flag: i32 = "sysFlag",
        /// Producer clock, ms.
        born_timestamp: i64 = "bornTimestamp",
        /// User flag.
        flag: i32 = "flag",
        /// Property string.
        properties: Option<String> = "properties",
        /// Reconsume count (retry topics).
        reconsume_times: Option<i32> = "reconsumeTimes",
        /// Unit mode.
        unit_mode: Option<bool> = "unitMode",
        /// Whether the body is a batch.
        batch: Option<bool> = "batch",
        /// Max reconsume count (retry topics).
        max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        /// Broker name (4.9.5+ clients).
        bname: Option<String> = "bname",
    }
}

command_header! {
    /// SEND_MESSAGE_V2 (310) request: the same fields under one-letter names.
    pub struct SendMessageRequestHeaderV2 {
        /// producerGroup.
        a: String = "a",
        /// topic.
        b: String = "b",
        /// defaultTopic.
        c: String = "c",
        /// defaultTopicQueueNums.
        d: i32 = "d",
        /// queueId.
        e: i32 = "e",
        /// sysFlag.
        f: i32 = "f",
        /// bornTimestamp.
        g: i64 = "g",
        /// flag.
        h: i32 = "h",
        /// properties.
        i: Option<String> = "i",
        /// reconsumeTimes.
        j: Option<i32> = "j",
        /// unitMode.
        k: Option<bool> = "k",
        /// maxReconsumeTimes.
        l: Option<i32> = "l",
        /// batch.
        m: Option<bool> = "m",
        /// bname (broker name).
        n: Option<String> = "n",
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v: SendMessageRequestHeaderV2) -> Self {
        SendMessageRequestHeader {
            producer_group: v.a,
            topic: v.b,
            default_topic: v.c,
            default_topic_queue_nums: v.d,
            queue_id: v.e,
            sys_flag: v.f,
            born_timestamp: v.g,
            flag: v.h,
            properties: v.i,
            reconsume_times: v.j,
            unit_mode: v.k,
            max_reconsume_times: v.l,
            batch: v.m,
            bname: v.n,
        }
    }
}

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(h: SendMessageRequestHeader) -> Self {
        SendMessageRequestHeaderV2 {
            a: h.producer_group,
            b: h.topic,
            c: h.default_topic,
            d: h.default_topic_queue_nums,
            e: h.queue_id,
            f: h.sys_flag,
            g: h.born_timestamp,
            h: h.flag,
            i: h.properties,
            j: h.reconsume_times,
            k: h.unit_mode,
            l: h.max_reconsume_times,
            m: h.batch,
            n: h.bname,
        }
    }
}

impl SendMessageRequestHeader {
    /// Whether the body is a batch.
    pub fn is_batch(&self) -> bool {
        self.batch.unwrap_or(false)
    }

    /// Whether unit mode is on.
    pub fn is_unit_mode(&self) -> bool {
        self.unit_mode.unwrap_or(false)
    }
}

/// SEND_BATCH_MESSAGE (320) request: the V2 header under the batch code.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SendBatchMessageRequestHeader(pub SendMessageRequestHeaderV2);

impl CommandHeader for SendBatchMessageRequestHeader {
    fn from_ext_fields(fields: &crate::command::ExtFields) -> Result<Self, HeaderError> {
        SendMessageRequestHeaderV2::from_ext_fields(fields).map(SendBatchMessageRequestHeader)
    }
    fn to_ext_fields(&self) -> crate::command::ExtFields {
        self.0.to_ext_fields()
    }
}

/// Decodes the send header of a SEND_MESSAGE, SEND_MESSAGE_V2 or SEND_BATCH_MESSAGE request.
pub fn decode_send_request_header(cmd: &RemotingCommand) -> Result<SendMessageRequestHeader, HeaderError> {
    let v2 = [
        RequestCode::SEND_MESSAGE_V2.code(),
        RequestCode::SEND_BATCH_MESSAGE.code(),
    ];
    if v2.contains(&cmd.code) {
        cmd.decode_header::<SendMessageRequestHeaderV2>().map(Into::into)
    } else {
        cmd.decode_header::<SendMessageRequestHeader>()
    }
}

/// The region a Java broker reports by default.
pub const DEFAULT_REGION: &str = "DefaultRegion";

command_header! {
    /// Reply to every send code. The Java client reads `extFields` unconditionally, so a send
    /// response always carries them.
    pub struct SendMessageResponseHeader {
        /// Offset msgId (comma-joined for a batch).
        msg_id: String = "msgId",
        /// Queue the message went to.
        queue_id: i32 = "queueId",
        /// Logical offset of the (first) message.
        queue_offset: i64 = "queueOffset",
        /// Transaction id.
        transaction_id: Option<String> = "transactionId",
        /// Broker region (`MSG_REGION`).
        msg_region: Option<String> = "MSG_REGION",
        /// Whether tracing is on (`TRACE_ON`).
        trace_on: Option<bool> = "TRACE_ON",
    }
}

impl SendMessageResponseHeader {
    /// A response header with the Java broker's defaults: region `DefaultRegion`, trace on.
    pub fn new(msg_id: impl Into<String>, queue_id: i32, queue_offset: i64) -> Self {
        SendMessageResponseHeader {
            msg_id: msg_id.into(),
            queue_id,
            queue_offset,
            transaction_id: None,
            msg_region: Some(DEFAULT_REGION.to_string()),
            trace_on: Some(true),
        }
    }
}

impl RpcRequest for SendMessageRequestHeader {
    const CODE: RequestCode = RequestCode::SEND_MESSAGE;
    type Response = SendMessageResponseHeader;
}

impl RpcRequest for SendMessageRequestHeaderV2 {
    const CODE: RequestCode = RequestCode::SEND_MESSAGE_V2;
    type Response = SendMessageResponseHeader;
}

impl RpcRequest for SendBatchMessageRequestHeader {
    const CODE: RequestCode = RequestCode::SEND_BATCH_MESSAGE;
    type Response = SendMessageResponseHeader;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::test_util::{ext, round_trip};

    /// The first SEND_MESSAGE_V2 of java497-broker.log.
    fn transcript_310() -> crate::command::ExtFields {
        ext(&[
            ("a", "interop_java_producer"),
            ("b", "TopicGolden"),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "1"),
            ("f", "0"),
            ("g", "1795263447712"),
            ("h", "0"),
            (
                "i",
                "KEYS\u{1}key-0\u{2}UNIQ_KEY\u{1}FD000000000000000000000000000002080030946E0969A25AA00000\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA",
            ),
            ("j", "0"),
            ("k", "false"),
            ("m", "false"),
            ("n", "broker-a"),
        ])
    }

    #[test]
    fn decodes_transcript_v2_and_converts() {
        let v2 = SendMessageRequestHeaderV2::from_ext_fields(&transcript_310()).unwrap();
        assert_eq!(v2.d, 4);
        assert_eq!(v2.g, 1_795_263_447_712);
        assert_eq!(v2.l, None);
        let v1: SendMessageRequestHeader = v2.clone().into();
        assert_eq!(v1.producer_group, "interop_java_producer");
        assert_eq!(v1.topic, "TopicGolden");
        assert_eq!(v1.default_topic, "TBW102");
        assert_eq!(v1.queue_id, 1);
        assert_eq!(v1.reconsume_times, Some(0));
        assert!(!v1.is_batch() && !v1.is_unit_mode());
        assert_eq!(v1.bname.as_deref(), Some("broker-a"));
        assert!(v1
            .properties
            .as_deref()
            .unwrap()
            .starts_with("KEYS\u{1}key-0\u{2}"));
        assert_eq!(SendMessageRequestHeaderV2::from(v1.clone()), v2);
        round_trip(&v1);
        round_trip(&v2);
        assert_eq!(v2.to_ext_fields(), transcript_310());
    }

    #[test]
    fn decode_by_code() {
        let v2 = SendMessageRequestHeaderV2::from_ext_fields(&transcript_310()).unwrap();
        let v1: SendMessageRequestHeader = v2.clone().into();
        let cmd = RemotingCommand::request_with(RequestCode::SEND_MESSAGE_V2, &v2);
        assert_eq!(decode_send_request_header(&cmd).unwrap(), v1);
        let batch = RemotingCommand::request_with(RequestCode::SEND_BATCH_MESSAGE, &v2);
        assert_eq!(decode_send_request_header(&batch).unwrap(), v1);
        let plain = RemotingCommand::request_with(RequestCode::SEND_MESSAGE, &v1);
        assert_eq!(decode_send_request_header(&plain).unwrap(), v1);
        assert!(decode_send_request_header(&RemotingCommand::request(RequestCode::SEND_MESSAGE)).is_err());
        round_trip(&SendBatchMessageRequestHeader(v2));
        assert_eq!(SendBatchMessageRequestHeader::CODE.code(), 320);
        assert_eq!(SendMessageRequestHeader::CODE.code(), 10);
        assert_eq!(SendMessageRequestHeaderV2::CODE.code(), 310);
    }

    #[test]
    fn decodes_transcript_response() {
        let fields = ext(&[
            ("queueId", "1"),
            ("TRACE_ON", "true"),
            ("MSG_REGION", "DefaultRegion"),
            ("msgId", "7F000001000051AF0000000000000000"),
            ("queueOffset", "0"),
        ]);
        let h = SendMessageResponseHeader::from_ext_fields(&fields).unwrap();
        assert_eq!(
            h,
            SendMessageResponseHeader::new("7F000001000051AF0000000000000000", 1, 0)
        );
        assert_eq!(h.to_ext_fields(), fields);
        let missing = ext(&[("msgId", "x"), ("queueId", "1")]);
        assert_eq!(
            SendMessageResponseHeader::from_ext_fields(&missing),
            Err(HeaderError::Missing("queueOffset"))
        );
    }
}
