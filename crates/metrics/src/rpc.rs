//! [`RpcLatency`]: RocketMQ 5's `rocketmq_rpc_latency` histogram, one series per request code,
//! response code, long-polling flag and result, recorded for every request a server handles.
//!
//! The key is a small `Copy` struct of numbers, so recording allocates nothing; code names
//! (`send_message_v2`, `success`: the lower-case Java constant, or the number for a code
//! this crate does not know) are looked up only when the page is written.

use std::time::Duration;

use rmq_remoting::net::HandlerError;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use crate::family::Family;
use crate::histogram::{Buckets, Histogram};
use crate::text::{Exposition, Kind};

/// How a request ended (RocketMQ 5's `result` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RpcResult {
    /// A response was produced.
    Success,
    /// No response: the connection closed while the request waited (a held pull).
    Cancelled,
    /// A one-way request; nothing is answered.
    Oneway,
    /// The handler failed; the server answered SYSTEM_ERROR.
    ProcessRequestFailed,
}

impl RpcResult {
    fn label(self) -> &'static str {
        match self {
            RpcResult::Success => "success",
            RpcResult::Cancelled => "cancelled",
            RpcResult::Oneway => "oneway",
            RpcResult::ProcessRequestFailed => "process_request_failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct RpcKey {
    request_code: i32,
    /// `None` when nothing was answered (the label is left out, as RocketMQ 5 does).
    response_code: Option<i32>,
    long_polling: bool,
    result: RpcResult,
}

/// The lower-case Java name of a request code, or its number.
pub fn request_code_label(code: i32) -> String {
    RequestCode::try_from(code).map_or_else(|c| c.to_string(), |c| c.name().to_ascii_lowercase())
}

/// The lower-case Java name of a response code, or its number.
pub fn response_code_label(code: i32) -> String {
    ResponseCode::try_from(code).map_or_else(|c| c.to_string(), |c| c.name().to_ascii_lowercase())
}

/// Latency of every request handled, by its labels.
#[derive(Debug)]
pub struct RpcLatency {
    series: Family<RpcKey, Histogram>,
}

impl RpcLatency {
    /// Metric name.
    pub const NAME: &'static str = "rocketmq_rpc_latency";

    /// An empty histogram family holding at most `limit` series.
    pub fn new(limit: usize) -> RpcLatency {
        RpcLatency {
            series: Family::new(Self::NAME, 4, limit),
        }
    }

    /// Records one request: its code, what the handler returned, whether it was one-way,
    /// whether it was held (long polling), and how long it took.
    pub fn record(
        &self,
        request_code: i32,
        outcome: &Result<Option<RemotingCommand>, HandlerError>,
        oneway: bool,
        long_polling: bool,
        elapsed: Duration,
    ) {
        let (response_code, result) = match outcome {
            _ if oneway => (None, RpcResult::Oneway),
            Ok(Some(reply)) => (Some(reply.code), RpcResult::Success),
            Ok(None) => (None, RpcResult::Cancelled),
            Err(HandlerError::NotSupported(_)) => (
                Some(ResponseCode::REQUEST_CODE_NOT_SUPPORTED.code()),
                RpcResult::Success,
            ),
            Err(_) => (
                Some(ResponseCode::SYSTEM_ERROR.code()),
                RpcResult::ProcessRequestFailed,
            ),
        };
        let key = RpcKey {
            request_code,
            response_code,
            long_polling,
            result,
        };
        self.series.with(
            &key,
            || Histogram::new(Buckets::RPC_LATENCY_MS),
            |h| h.record_duration(elapsed),
        );
    }

    /// Writes the `rocketmq_rpc_latency` block (nothing when no request was handled yet).
    pub fn render(&self, e: &mut Exposition) {
        let mut rows = Vec::with_capacity(self.series.len());
        self.series.for_each(|k, h| rows.push((*k, h.snapshot())));
        if rows.is_empty() {
            return;
        }
        rows.sort_by_key(|(k, _)| (k.request_code, k.response_code, k.long_polling, k.result.label()));
        e.header(
            Self::NAME,
            "Time to handle a request, in milliseconds, by request code, response code and result.",
            Kind::Histogram,
        );
        for (k, snap) in rows {
            let request = request_code_label(k.request_code);
            let response = k.response_code.map(response_code_label);
            let long_polling = if k.long_polling { "true" } else { "false" };
            let mut labels = vec![("protocol_type", "remoting"), ("request_code", request.as_str())];
            if let Some(r) = &response {
                labels.push(("response_code", r.as_str()));
            }
            labels.push(("is_long_polling", long_polling));
            labels.push(("result", k.result.label()));
            e.histogram(Self::NAME, &labels, &snap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_to_codes_and_results() {
        let rpc = RpcLatency::new(100);
        let req = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2);
        let ok = Ok(Some(req.reply(ResponseCode::SUCCESS, None)));
        rpc.record(310, &ok, false, false, Duration::from_micros(500));
        rpc.record(310, &ok, false, false, Duration::from_millis(2));
        rpc.record(11, &Ok(None), false, true, Duration::from_secs(15));
        rpc.record(
            9999,
            &Err(HandlerError::NotSupported(9999)),
            false,
            false,
            Duration::ZERO,
        );
        rpc.record(34, &Ok(None), true, false, Duration::ZERO);
        let mut e = Exposition::new(&[]);
        rpc.render(&mut e);
        let page = e.finish();
        assert!(
            page.contains(
                "rocketmq_rpc_latency_count{protocol_type=\"remoting\",request_code=\"send_message_v2\",\
             response_code=\"success\",is_long_polling=\"false\",result=\"success\"} 2\n"
            ),
            "{page}"
        );
        assert!(page.contains(
            "rocketmq_rpc_latency_bucket{protocol_type=\"remoting\",request_code=\"send_message_v2\",\
             response_code=\"success\",is_long_polling=\"false\",result=\"success\",le=\"1\"} 1\n"
        ));
        assert!(page.contains(
            "rocketmq_rpc_latency_count{protocol_type=\"remoting\",request_code=\"pull_message\",\
             is_long_polling=\"true\",result=\"cancelled\"} 1\n"
        ));
        assert!(page.contains("request_code=\"9999\",response_code=\"request_code_not_supported\""));
        assert!(page.contains("request_code=\"heart_beat\",is_long_polling=\"false\",result=\"oneway\""));
        assert_eq!(page.matches("# TYPE").count(), 1);
    }
}
