//! Property tests of the JSON bodies: the fastjson reader agrees with serde_json on standard JSON,
//! reads fastjson's non-string keys, and every body type round-trips through its wire form.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rmq_remoting::body::{
    fastjson, BrokerData, ConsumeStats, JsonBody, MessageQueue, OffsetWrapper, QueueData, TopicOffset,
    TopicRouteData, TopicStatsTable,
};
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e15f64..1e15).prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,10}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn mq() -> impl Strategy<Value = MessageQueue> {
    ("[a-zA-Z%_-]{1,12}", "[a-z-]{1,8}", 0i32..64).prop_map(|(t, b, q)| MessageQueue::new(t, b, q))
}

prop_compose! {
    fn route()(
        brokers in prop::collection::vec(("[a-z-]{1,8}", prop::collection::btree_map(0i64..4, "[0-9.:]{1,21}", 0..3)), 0..4),
        queues in prop::collection::vec(("[a-z-]{1,8}", 0i32..8, 0i32..64, 0i32..64, any::<i32>()), 0..4),
        order in proptest::option::of("[a-z:;0-9-]{1,20}"),
    ) -> TopicRouteData {
        TopicRouteData {
            broker_datas: brokers
                .into_iter()
                .map(|(name, addrs)| BrokerData { broker_addrs: addrs, ..BrokerData::new("DefaultCluster", name) })
                .collect(),
            filter_server_table: BTreeMap::new(),
            order_topic_conf: order,
            queue_datas: queues
                .into_iter()
                .map(|(broker_name, perm, read_queue_nums, write_queue_nums, topic_sys_flag)| QueueData {
                    broker_name, perm, read_queue_nums, write_queue_nums, topic_sys_flag,
                })
                .collect(),
        }
    }
}

/// What an old Java namesrv writes: `brokerAddrs` keys unquoted.
fn unquote_broker_addr_keys(json: &str) -> String {
    let mut out = String::new();
    let mut rest = json;
    while let Some(at) = rest.find("\"brokerAddrs\":{") {
        let (head, tail) = rest.split_at(at + "\"brokerAddrs\":{".len());
        out.push_str(head);
        let end = tail.find('}').unwrap();
        let inner = &tail[..end];
        let mut parts = Vec::new();
        for pair in inner.split(",\"").filter(|p| !p.is_empty()) {
            let pair = pair.trim_start_matches('"');
            let (key, value) = pair.split_once("\":").unwrap();
            parts.push(format!("{key}:{value}"));
        }
        out.push_str(&parts.join(","));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fastjson_agrees_with_serde_json(v in json_value()) {
        let text = serde_json::to_string(&v).unwrap();
        prop_assert_eq!(fastjson::parse(text.as_bytes()).unwrap(), v.clone());
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        prop_assert_eq!(fastjson::parse(pretty.as_bytes()).unwrap(), v);
    }

    #[test]
    fn fastjson_never_panics_on_near_json(v in json_value(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = serde_json::to_vec(&v).unwrap();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = fastjson::parse(&bytes);
        let _ = TopicRouteData::decode(&bytes);
        let _ = fastjson::parse(&bytes[..i]);
    }

    #[test]
    fn route_round_trips_in_both_key_forms(r in route()) {
        let quoted = r.to_json();
        prop_assert_eq!(TopicRouteData::decode(quoted.as_bytes()).unwrap(), r.clone());
        let unquoted = unquote_broker_addr_keys(&quoted);
        prop_assert!(serde_json::from_str::<Value>(&unquoted).is_err() || r.broker_datas.iter().all(|b| b.broker_addrs.is_empty()));
        prop_assert_eq!(TopicRouteData::decode(unquoted.as_bytes()).unwrap(), r);
    }

    #[test]
    fn stats_round_trip_in_object_key_form(
        offsets in prop::collection::btree_map(mq(), (any::<i64>(), any::<i64>(), any::<i64>()), 0..12),
        tps in 0.0f64..1e6,
    ) {
        let topic = TopicStatsTable {
            offset_table: offsets
                .iter()
                .map(|(q, &(a, b, c))| (q.clone(), TopicOffset { last_update_timestamp: a, max_offset: b, min_offset: c }))
                .collect(),
        };
        prop_assert_eq!(TopicStatsTable::decode(&topic.encode()).unwrap(), topic);
        let consume = ConsumeStats {
            consume_tps: tps,
            offset_table: offsets
                .iter()
                .map(|(q, &(a, b, c))| (q.clone(), OffsetWrapper { broker_offset: a, consumer_offset: b, last_timestamp: c }))
                .collect(),
        };
        prop_assert_eq!(ConsumeStats::decode(&consume.encode()).unwrap(), consume);
    }
}
