//! `ConsumeMessageDirectlyResult`: the body a consumer answers CONSUME_MESSAGE_DIRECTLY (309)
//! with, and what `mqadmin queryMsgByUniqueKey -g -d` prints (Java's `toString`).

use serde::{Deserialize, Serialize};

use super::JsonBody;

/// How the consumer's callback ended (Java `CMResult`).
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmResult {
    /// Consumed.
    CR_SUCCESS,
    /// Asked to be delivered again later.
    CR_LATER,
    /// Ordered consumption: rolled back.
    CR_ROLLBACK,
    /// Ordered consumption: committed.
    CR_COMMIT,
    /// The callback failed (a panic here, an exception in Java).
    CR_THROW_EXCEPTION,
    /// The callback returned nothing.
    CR_RETURN_NULL,
}

/// The consumer's answer to CONSUME_MESSAGE_DIRECTLY.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumeMessageDirectlyResult {
    /// Whether the consumer consumes in order.
    #[serde(default)]
    pub order: bool,
    /// Whether offsets are committed automatically (ordered consumption can turn it off).
    #[serde(default = "yes")]
    pub auto_commit: bool,
    /// The outcome; absent when the callback gave none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consume_result: Option<CmResult>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// How long the callback ran, ms.
    #[serde(default)]
    pub spent_time_mills: i64,
}

fn yes() -> bool {
    true
}

impl JsonBody for ConsumeMessageDirectlyResult {}

impl std::fmt::Display for ConsumeMessageDirectlyResult {
    /// Java's `toString`, which `mqadmin` prints: `ConsumeMessageDirectlyResult [order=false,
    /// autoCommit=true, consumeResult=CR_SUCCESS, remark=null, spentTimeMills=3]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let result = self
            .consume_result
            .map_or_else(|| "null".to_string(), |r| format!("{r:?}"));
        write!(
            f,
            "ConsumeMessageDirectlyResult [order={}, autoCommit={}, consumeResult={result}, remark={}, spentTimeMills={}]",
            self.order,
            self.auto_commit,
            self.remark.as_deref().unwrap_or("null"),
            self.spent_time_mills
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_a_java_consumer_sends_and_prints_as_java_does() {
        // fastjson: alphabetical keys, null fields left out.
        let java = br#"{"autoCommit":true,"consumeResult":"CR_LATER","order":false,"spentTimeMills":12}"#;
        let r = ConsumeMessageDirectlyResult::decode(java).unwrap();
        assert_eq!(r.consume_result, Some(CmResult::CR_LATER));
        assert_eq!(
            r.to_string(),
            "ConsumeMessageDirectlyResult [order=false, autoCommit=true, consumeResult=CR_LATER, remark=null, spentTimeMills=12]"
        );
        let back = ConsumeMessageDirectlyResult::decode(&r.encode()).unwrap();
        assert_eq!(back, r);
        let failed = ConsumeMessageDirectlyResult {
            consume_result: Some(CmResult::CR_THROW_EXCEPTION),
            remark: Some("boom".into()),
            ..r
        };
        assert!(failed
            .to_string()
            .contains("consumeResult=CR_THROW_EXCEPTION, remark=boom"));
    }
}
