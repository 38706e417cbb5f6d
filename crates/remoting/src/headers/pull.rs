//! PULL_MESSAGE (11) headers and the `PullSysFlag` bits (protocol.md §2.4).
//!
//! Every pull response, found or not, carries all four response fields: the Java client
//! dereferences them unconditionally.

use crate::command_header;

command_header! {
    /// PULL_MESSAGE request.
    pub struct PullMessageRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// Logical offset to read from.
        queue_offset: i64 = "queueOffset",
        /// Batch size.
        max_msg_nums: i32 = "maxMsgNums",
        /// [`pull_sys_flag`] bits.
        sys_flag: i32 = "sysFlag",
        /// The consumer's committed offset (stored when COMMIT_OFFSET is set).
        commit_offset: i64 = "commitOffset",
        /// How long the broker may hold the request when nothing is there.
        suspend_timeout_millis: i64 = "suspendTimeoutMillis",
        /// Tag expression, used when SUBSCRIPTION is set.
        subscription: Option<String> = "subscription",
        /// Subscription version (ms timestamp).
        sub_version: i64 = "subVersion",
        /// `TAG` (default) or `SQL92`.
        expression_type: Option<String> = "expressionType",
        /// Broker name (4.9.5+ clients).
        bname: Option<String> = "bname",
    }
}

impl PullMessageRequestHeader {
    /// Whether the broker may hold the request (long polling).
    pub fn has_suspend(&self) -> bool {
        self.sys_flag & pull_sys_flag::SUSPEND != 0
    }

    /// Whether `commitOffset` should be stored.
    pub fn has_commit_offset(&self) -> bool {
        self.sys_flag & pull_sys_flag::COMMIT_OFFSET != 0
    }

    /// Whether the request carries its own subscription.
    pub fn has_subscription(&self) -> bool {
        self.sys_flag & pull_sys_flag::SUBSCRIPTION != 0
    }
}

command_header! {
    /// PULL_MESSAGE response; all four fields are required on every pull response.
    pub struct PullMessageResponseHeader {
        /// Broker id to pull from next (0 unless slave reading is on).
        suggest_which_broker_id: i64 = "suggestWhichBrokerId",
        /// Offset to pull from next.
        next_begin_offset: i64 = "nextBeginOffset",
        /// Queue's min offset.
        min_offset: i64 = "minOffset",
        /// Queue's max offset (next to be written).
        max_offset: i64 = "maxOffset",
    }
}

rpc_request! {
    PullMessageRequestHeader => PULL_MESSAGE, PullMessageResponseHeader;
}

/// `PullSysFlag` bits of [`PullMessageRequestHeader::sys_flag`].
pub mod pull_sys_flag {
    /// Store `commitOffset`.
    pub const COMMIT_OFFSET: i32 = 0x1;
    /// Long polling allowed.
    pub const SUSPEND: i32 = 0x2;
    /// Use the request's `subscription`.
    pub const SUBSCRIPTION: i32 = 0x4;
    /// Class filter mode.
    pub const CLASS_FILTER: i32 = 0x8;
    /// Lite pull consumer.
    pub const LITE_PULL: i32 = 0x10;

    /// Java `PullSysFlag.buildSysFlag`.
    pub fn build(commit_offset: bool, suspend: bool, subscription: bool, class_filter: bool) -> i32 {
        let mut flag = 0;
        if commit_offset {
            flag |= COMMIT_OFFSET;
        }
        if suspend {
            flag |= SUSPEND;
        }
        if subscription {
            flag |= SUBSCRIPTION;
        }
        if class_filter {
            flag |= CLASS_FILTER;
        }
        flag
    }

    /// The flag without COMMIT_OFFSET (the broker clears it when it will not store offsets).
    pub fn clear_commit_offset(flag: i32) -> i32 {
        flag & !COMMIT_OFFSET
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{CommandHeader, HeaderError, RpcRequest};
    use crate::headers::test_util::{ext, round_trip};

    #[test]
    fn decodes_transcript_pull() {
        // java497-broker.log, opaque 24.
        let fields = ext(&[
            ("queueId", "3"),
            ("maxMsgNums", "32"),
            ("sysFlag", "2"),
            ("suspendTimeoutMillis", "15000"),
            ("commitOffset", "0"),
            ("bname", "broker-a"),
            ("topic", "TopicGolden"),
            ("queueOffset", "0"),
            ("expressionType", "TAG"),
            ("subVersion", "1795263451379"),
            ("consumerGroup", "interop_java_consumer"),
        ]);
        let h = PullMessageRequestHeader::from_ext_fields(&fields).unwrap();
        assert_eq!(h.queue_id, 3);
        assert_eq!(h.max_msg_nums, 32);
        assert_eq!(h.suspend_timeout_millis, 15000);
        assert_eq!(h.sub_version, 1_795_263_451_379);
        assert_eq!(h.subscription, None);
        assert!(h.has_suspend() && !h.has_commit_offset() && !h.has_subscription());
        assert_eq!(h.to_ext_fields(), fields);
        assert_eq!(PullMessageRequestHeader::CODE.code(), 11);
    }

    #[test]
    fn response_requires_all_four() {
        let h = PullMessageResponseHeader {
            suggest_which_broker_id: 0,
            next_begin_offset: 5,
            min_offset: 0,
            max_offset: 9,
        };
        round_trip(&h);
        assert_eq!(h.to_ext_fields().len(), 4);
        let partial = ext(&[
            ("suggestWhichBrokerId", "0"),
            ("nextBeginOffset", "1"),
            ("minOffset", "0"),
        ]);
        assert_eq!(
            PullMessageResponseHeader::from_ext_fields(&partial),
            Err(HeaderError::Missing("maxOffset"))
        );
    }

    #[test]
    fn sys_flag_bits() {
        assert_eq!(pull_sys_flag::build(true, true, true, false), 7);
        assert_eq!(pull_sys_flag::build(false, false, true, true), 12);
        assert_eq!(pull_sys_flag::clear_commit_offset(7), 6);
    }
}
