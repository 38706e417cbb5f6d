//! SQL92 filters at the broker's wire: subscriptions registered by heartbeat (the path push
//! consumers without the SUBSCRIPTION bit take, FILTER_DATA_NOT_EXIST for one that does not
//! compile), `enablePropertyFilter` off, and a fuzz run of random selectors and message
//! properties through sends, pulls and CHECK_CLIENT_CONFIG that the broker must answer.

mod broker_common;

use broker_common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rmq_remoting::body::{CheckClientRequestBody, ConsumerData, HeartbeatData, JsonBody, SubscriptionData};
use rmq_remoting::headers::pull::PullMessageRequestHeader;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

/// A HEART_BEAT of a push consumer of `group` with one SQL92 subscription to `topic`.
fn sql_heartbeat(group: &str, topic: &str, sql: &str, version: i64) -> RemotingCommand {
    let data = HeartbeatData {
        client_id: format!("127.0.0.1@{group}"),
        consumer_data_set: vec![ConsumerData {
            group_name: group.into(),
            subscription_data_set: vec![SubscriptionData::sql92(topic, sql, version)],
            ..Default::default()
        }],
        producer_data_set: vec![],
    };
    RemotingCommand::request(RequestCode::HEART_BEAT).with_body(data.encode())
}

/// A pull of queue 0 from `offset`; `sql` set means the SUBSCRIPTION bit with type SQL92.
fn sql_pull(group: &str, topic: &str, offset: i64, sql: Option<&str>, version: i64) -> RemotingCommand {
    let header = PullMessageRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id: 0,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: if sql.is_some() { 4 } else { 0 },
        commit_offset: 0,
        suspend_timeout_millis: 0,
        subscription: sql.map(str::to_string),
        sub_version: version,
        expression_type: Some("SQL92".into()),
        bname: None,
    };
    RemotingCommand::request_with(RequestCode::PULL_MESSAGE, &header)
}

fn values_of(resp: &RemotingCommand, key: &str) -> Vec<String> {
    records(resp)
        .iter()
        .map(|r| r.property(key).unwrap_or("-").to_string())
        .collect()
}

#[tokio::test]
async fn heartbeat_subscriptions_filter_pulls_and_a_bad_one_has_no_filter_data() {
    let b = TestBroker::start_with(|c| c.enable_property_filter = true).await;
    for a in 0..6 {
        let props = format!("a\u{1}{a}\u{2}TAGS\u{1}T{a}\u{2}WAIT\u{1}true");
        let r = b.call(send_request("TopicHb", 0, b"x", &props)).await;
        assert_eq!(r.code, ResponseCode::SUCCESS.code(), "{r:?}");
    }
    let hb = b
        .call(sql_heartbeat("g_ok", "TopicHb", "a >= 3 AND TAGS <> 'T4'", 1))
        .await;
    assert_eq!(hb.code, ResponseCode::SUCCESS.code());
    let r = b.call(sql_pull("g_ok", "TopicHb", 0, None, 1)).await;
    assert_eq!(r.code, ResponseCode::SUCCESS.code(), "{r:?}");
    assert_eq!(values_of(&r, "a"), ["3", "5"]);
    assert_eq!(ext_i64(&r, "nextBeginOffset"), 6);

    // A newer version with another expression replaces the filter.
    b.call(sql_heartbeat("g_ok", "TopicHb", "a < 2", 2)).await;
    let r = b.call(sql_pull("g_ok", "TopicHb", 0, None, 2)).await;
    assert_eq!(values_of(&r, "a"), ["0", "1"]);

    b.call(sql_heartbeat("g_bad", "TopicHb", "a >", 1)).await;
    let r = b.call(sql_pull("g_bad", "TopicHb", 0, None, 1)).await;
    assert_eq!(r.code, ResponseCode::FILTER_DATA_NOT_EXIST.code());
    let remark = r.remark.unwrap_or_default();
    assert!(
        remark.starts_with("The broker's consumer filter data is not exist!Your expression may be wrong!")
    );
    assert!(remark.contains("expected a value"), "{remark}");

    // Carried by the pull itself, a bad selector is a parse failure that names the problem.
    let r = b.call(sql_pull("g_any", "TopicHb", 0, Some("a IN (3)"), 1)).await;
    assert_eq!(r.code, ResponseCode::SUBSCRIPTION_PARSE_FAILED.code());
    assert!(r.remark.unwrap_or_default().contains("expected a string literal"));
    b.stop().await;
}

#[tokio::test]
async fn with_the_key_off_sql92_pulls_are_a_system_error() {
    let b = TestBroker::start().await;
    b.call(send_request("TopicOff", 0, b"x", "a\u{1}1")).await;
    b.call(sql_heartbeat("g_off", "TopicOff", "a = 1", 1)).await;
    let expected = Some("The broker does not support consumer to filter message by SQL92");
    let r = b.call(sql_pull("g_off", "TopicOff", 0, None, 1)).await;
    assert_eq!(r.code, ResponseCode::SYSTEM_ERROR.code());
    assert_eq!(r.remark.as_deref(), expected);
    let r = b.call(sql_pull("g_off", "TopicOff", 0, Some("a = 1"), 1)).await;
    assert_eq!(r.code, ResponseCode::SYSTEM_ERROR.code());
    assert_eq!(r.remark.as_deref(), expected);
    b.stop().await;
}

/// Selector-shaped text: keywords, operators, names, literals, and some noise.
fn selector() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "a",
            "b",
            "TAGS",
            "KEYS",
            "AND",
            "OR",
            "NOT",
            "IS",
            "NULL",
            "TRUE",
            "BETWEEN",
            "IN",
            "(",
            ")",
            ",",
            "=",
            "<>",
            "<",
            ">=",
            "-",
            "'x'",
            "''",
            "5",
            "5.5",
            "0.0",
            "3000000000",
            "1e999",
            "'",
            "/*",
            "--",
        ])
        .prop_map(str::to_string),
        "\\PC{0,3}",
    ];
    prop::collection::vec(piece, 0..14).prop_map(|p| p.join(" "))
}

/// A raw properties string, separators included, so malformed pairs reach the broker too.
fn properties() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        prop::sample::select(vec![
            "a", "b", "TAGS", "\u{1}", "\u{2}", "5", "x", "NaN", "-1", ""
        ])
        .prop_map(str::to_string),
        "\\PC{0,4}",
    ];
    prop::collection::vec(part, 0..10).prop_map(|p| p.concat())
}

#[test]
fn random_selectors_and_properties_never_break_the_broker() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let b = rt.block_on(TestBroker::start_with(|c| c.enable_property_filter = true));
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(selector(), properties()), |(sql, props)| {
            rt.block_on(async {
                let sent = b.call(send_request("TopicFuzz", 0, b"x", &props)).await;
                let pulled = b.call(sql_pull("g_fuzz", "TopicFuzz", 0, Some(&sql), 1)).await;
                let allowed = [
                    ResponseCode::SUCCESS,
                    ResponseCode::PULL_RETRY_IMMEDIATELY,
                    ResponseCode::PULL_NOT_FOUND,
                    ResponseCode::SUBSCRIPTION_PARSE_FAILED,
                ];
                prop_assert!(
                    allowed.iter().any(|c| c.code() == pulled.code),
                    "pull {sql:?} after send {} answered {pulled:?}",
                    sent.code
                );
                if pulled.code == ResponseCode::SUCCESS.code() {
                    records(&pulled);
                }
                let body = CheckClientRequestBody {
                    client_id: "fuzz".into(),
                    group: "g_fuzz".into(),
                    subscription_data: Some(SubscriptionData::sql92("TopicFuzz", &sql, 1)),
                };
                let check = b
                    .call(RemotingCommand::request(RequestCode::CHECK_CLIENT_CONFIG).with_body(body.encode()))
                    .await;
                let parse_failed = pulled.code == ResponseCode::SUBSCRIPTION_PARSE_FAILED.code();
                let check_failed = check.code == ResponseCode::SUBSCRIPTION_PARSE_FAILED.code();
                prop_assert_eq!(parse_failed, check_failed, "pull and check agree on {:?}", sql);
                Ok(())
            })
        })
        .unwrap();
    // Still serving.
    let r = rt.block_on(b.call(sql_pull("g_fuzz", "TopicFuzz", 0, Some("TRUE"), 1)));
    assert_eq!(r.code, ResponseCode::SUCCESS.code());
    rt.block_on(b.stop());
}
