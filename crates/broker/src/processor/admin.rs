//! Admin requests (mqadmin and a slave's metadata sync): topic create/delete, subscription group
//! create/replace/delete, the whole topic table, broker config and runtime info, topic and
//! consume stats, consumer and producer connections, and the consumer-offset, delay-offset and
//! subscription-group tables.
//!
//! Every change (topic or group) is refused on a slave with Apache's remark, and is written to
//! its config file before the reply, so an acknowledged change survives a crash.
//!
//! Maps keyed by MessageQueue (TopicStatsTable, ConsumeStats) are written in fastjson's
//! object-key form, which Apache's mqadmin reads.

use std::sync::Arc;

use rmq_remoting::body::{
    from_fastjson, Connection as ConnectionInfo, ConsumerConnection, JsonBody, KvTable, MessageQueue, MqMap,
    ProducerConnection, SubscriptionData, TopicConfig, TopicFilterType,
};
use rmq_remoting::headers::admin::{
    CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader, DeleteTopicInBrokerRequestHeader,
    GetConsumeStatsRequestHeader, GetConsumerConnectionListRequestHeader,
    GetProducerConnectionListRequestHeader, GetTopicStatsInfoRequestHeader,
};
use rmq_remoting::net::HandlerError;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use serde::Serialize;

use super::FAQ_URL;
use crate::clients::ClientChannel;
use crate::groups::SubscriptionGroupConfig;
use crate::state::{now_ms, BrokerState};
use crate::tables::{persist_groups, persist_offsets, persist_topics};
use crate::topics::{is_system_topic, validate_topic_name};

const SLAVE_REMARK: &str =
    "Can't modify topic or subscription group from slave broker, please execute it from master broker.";

/// `TopicOffset` of a TopicStatsTable.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TopicOffset {
    last_update_timestamp: i64,
    max_offset: i64,
    min_offset: i64,
}

/// `OffsetWrapper` of a ConsumeStats.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OffsetWrapper {
    broker_offset: i64,
    consumer_offset: i64,
    last_timestamp: i64,
}

fn json_body<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Handles the admin family.
pub async fn handle(
    state: &Arc<BrokerState>,
    code: RequestCode,
    req: RemotingCommand,
) -> Result<RemotingCommand, HandlerError> {
    let ok = || req.reply(ResponseCode::SUCCESS, None);
    Ok(match code {
        RequestCode::UPDATE_AND_CREATE_TOPIC => create_topic(state, &req).await?,
        RequestCode::DELETE_TOPIC_IN_BROKER => delete_topic(state, &req).await?,
        RequestCode::GET_ALL_TOPIC_CONFIG => ok().with_body(state.topics.wrapper().encode()),
        RequestCode::GET_BROKER_CONFIG => {
            let version = format!(r#"{{"counter":0,"timestamp":{}}}"#, state.start_ms);
            ok().with_ext("version", version)
                .with_body(state.config.to_properties().into_bytes())
        }
        RequestCode::GET_BROKER_RUNTIME_INFO => ok().with_body(runtime_info(state).encode()),
        RequestCode::GET_TOPIC_STATS_INFO => {
            let h: GetTopicStatsInfoRequestHeader = req.decode_header()?;
            let Some(info) = state.topics.get(&h.topic) else {
                return Ok(req.reply(
                    ResponseCode::TOPIC_NOT_EXIST,
                    Some(format!("topic[{}] not exist", h.topic)),
                ));
            };
            let table: MqMap<TopicOffset> = (0..info.write_queue_nums)
                .map(|q| {
                    let max = state.store.max_offset(&h.topic, q) as i64;
                    let last = if max > 0 {
                        state
                            .store
                            .message_store_time(&h.topic, q, (max - 1) as u64)
                            .unwrap_or(0)
                    } else {
                        0
                    };
                    let min = state.store.min_offset(&h.topic, q) as i64;
                    let mq = MessageQueue::new(h.topic.clone(), state.config.broker_name.clone(), q);
                    (
                        mq,
                        TopicOffset {
                            last_update_timestamp: last,
                            max_offset: max,
                            min_offset: min,
                        },
                    )
                })
                .collect();
            ok().with_body(format!(r#"{{"offsetTable":{}}}"#, table.to_fastjson()).into_bytes())
        }
        RequestCode::GET_CONSUME_STATS => {
            let h: GetConsumeStatsRequestHeader = req.decode_header()?;
            let topics = match h.topic.as_deref().filter(|t| !t.trim().is_empty()) {
                Some(t) => vec![t.to_string()],
                None => state.offsets.topics_of_group(&h.consumer_group),
            };
            let mut table = MqMap::<OffsetWrapper>::default();
            for topic in topics {
                let Some(info) = state.topics.get(&topic) else {
                    continue;
                };
                for q in 0..info.read_queue_nums {
                    let broker_offset = state.store.max_offset(&topic, q) as i64;
                    let consumer_offset = state
                        .offsets
                        .query(&h.consumer_group, &topic, q)
                        .unwrap_or(0)
                        .max(0);
                    let last_timestamp = if consumer_offset > 0 {
                        state
                            .store
                            .message_store_time(&topic, q, (consumer_offset - 1) as u64)
                            .unwrap_or(0)
                    } else {
                        0
                    };
                    let mq = MessageQueue::new(topic.clone(), state.config.broker_name.clone(), q);
                    table.insert(
                        mq,
                        OffsetWrapper {
                            broker_offset,
                            consumer_offset,
                            last_timestamp,
                        },
                    );
                }
            }
            let (_, get_tps) = state.stats.tps_strings();
            let tps = get_tps
                .split(' ')
                .next()
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or(0.0);
            ok().with_body(
                format!(
                    r#"{{"consumeTps":{tps:.1},"offsetTable":{}}}"#,
                    table.to_fastjson()
                )
                .into_bytes(),
            )
        }
        RequestCode::GET_CONSUMER_CONNECTION_LIST => {
            let h: GetConsumerConnectionListRequestHeader = req.decode_header()?;
            match state.clients.consumer_group(&h.consumer_group) {
                None => req.reply(
                    ResponseCode::CONSUMER_NOT_ONLINE,
                    Some(format!("the consumer group[{}] not online", h.consumer_group)),
                ),
                Some(info) => {
                    let body = ConsumerConnection {
                        connection_set: info.channels.values().map(connection_info).collect(),
                        consume_from_where: Some(info.consume_from_where),
                        consume_type: Some(info.consume_type),
                        message_model: Some(info.message_model),
                        subscription_table: info
                            .subscriptions
                            .values()
                            .map(|s| {
                                (
                                    s.topic.clone(),
                                    SubscriptionData::tag(&s.topic, &s.sub_string, s.sub_version),
                                )
                            })
                            .collect(),
                    };
                    ok().with_body(body.encode())
                }
            }
        }
        RequestCode::GET_ALL_CONSUMER_OFFSET => ok().with_body(json_body(&state.offsets.to_body())),
        RequestCode::GET_ALL_DELAY_OFFSET => ok().with_body(json_body(&state.delay_offsets.to_body())),
        RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => ok().with_body(json_body(&state.groups.wrapper())),
        RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => update_group(state, &req).await,
        RequestCode::DELETE_SUBSCRIPTIONGROUP => delete_group(state, &req).await?,
        RequestCode::GET_PRODUCER_CONNECTION_LIST => {
            let h: GetProducerConnectionListRequestHeader = req.decode_header()?;
            let channels = state.clients.producer_channels(&h.producer_group);
            if channels.is_empty() {
                req.reply(
                    ResponseCode::SYSTEM_ERROR,
                    Some(format!("the producer group[{}] not exist", h.producer_group)),
                )
            } else {
                let body = ProducerConnection {
                    connection_set: channels.iter().map(connection_info).collect(),
                };
                ok().with_body(body.encode())
            }
        }
        other => return Err(HandlerError::NotSupported(other.code())),
    })
}

/// The `Connection` entry of a client channel.
fn connection_info(ch: &ClientChannel) -> ConnectionInfo {
    ConnectionInfo {
        client_addr: ch.conn.peer().to_string(),
        client_id: ch.client_id.clone(),
        language: ch.language.name().to_string(),
        version: ch.version,
    }
}

/// Apache's refusal of any admin change on a slave.
fn slave_rejection(state: &BrokerState, req: &RemotingCommand) -> Option<RemotingCommand> {
    state
        .is_slave()
        .then(|| req.reply(ResponseCode::SYSTEM_ERROR, Some(SLAVE_REMARK.to_string())))
}

/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: the body is the whole `SubscriptionGroupConfig`; fields
/// it leaves out take Java's defaults.
async fn update_group(state: &Arc<BrokerState>, req: &RemotingCommand) -> RemotingCommand {
    if let Some(rejection) = slave_rejection(state, req) {
        return rejection;
    }
    let cfg: SubscriptionGroupConfig = match from_fastjson(&req.body) {
        Ok(cfg) => cfg,
        Err(e) => {
            return req.reply(
                ResponseCode::SYSTEM_ERROR,
                Some(format!(
                    "the SubscriptionGroupConfig body is malformed ({e}); expected JSON like \
                     {{\"groupName\":\"g\",\"retryMaxTimes\":16}}"
                )),
            )
        }
    };
    if cfg.group_name.trim().is_empty() {
        return req.reply(
            ResponseCode::SYSTEM_ERROR,
            Some("the subscription group name (groupName) is blank".to_string()),
        );
    }
    tracing::info!(group = %cfg.group_name, config = ?cfg, "subscription group created or updated");
    state.groups.put(cfg, now_ms());
    persist_groups(state).await;
    req.reply(ResponseCode::SUCCESS, None)
}

/// DELETE_SUBSCRIPTIONGROUP: removes the group (a missing one is not an error, as in Apache) and,
/// with `removeOffset=true`, its committed offsets.
async fn delete_group(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> Result<RemotingCommand, HandlerError> {
    let h: DeleteSubscriptionGroupRequestHeader = req.decode_header()?;
    if let Some(rejection) = slave_rejection(state, req) {
        return Ok(rejection);
    }
    match state.groups.remove(&h.group_name, now_ms()) {
        Err(e) => return Ok(req.reply(ResponseCode::SYSTEM_ERROR, Some(e.to_string()))),
        Ok(true) => {
            tracing::info!(group = %h.group_name, "subscription group deleted");
            persist_groups(state).await;
        }
        Ok(false) => tracing::info!(group = %h.group_name, "deleting an unknown subscription group"),
    }
    if h.remove_offset == Some(true) && state.offsets.remove_group(&h.group_name) > 0 {
        persist_offsets(state).await;
    }
    Ok(req.reply(ResponseCode::SUCCESS, None))
}

fn check_admin_topic(state: &BrokerState, req: &RemotingCommand, topic: &str) -> Option<RemotingCommand> {
    if let Some(rejection) = slave_rejection(state, req) {
        return Some(rejection);
    }
    if let Err(remark) = validate_topic_name(topic) {
        return Some(req.reply(ResponseCode::SYSTEM_ERROR, Some(remark)));
    }
    if is_system_topic(topic, &state.config) {
        return Some(req.reply(
            ResponseCode::SYSTEM_ERROR,
            Some(format!("The topic[{topic}] is conflict with system topic.")),
        ));
    }
    None
}

async fn create_topic(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> Result<RemotingCommand, HandlerError> {
    let h: CreateTopicRequestHeader = req.decode_header()?;
    if let Some(rejection) = check_admin_topic(state, req, &h.topic) {
        return Ok(rejection);
    }
    if !(1..=1024).contains(&h.read_queue_nums) || !(1..=1024).contains(&h.write_queue_nums) {
        return Ok(req.reply(
            ResponseCode::SYSTEM_ERROR,
            Some(format!(
                "queue numbers must be within [1, 1024], got read {} write {}",
                h.read_queue_nums, h.write_queue_nums
            )),
        ));
    }
    let tc = TopicConfig {
        topic_name: h.topic.clone(),
        read_queue_nums: h.read_queue_nums,
        write_queue_nums: h.write_queue_nums,
        perm: h.perm & 7,
        topic_filter_type: TopicFilterType::from_name(&h.topic_filter_type).unwrap_or_default(),
        topic_sys_flag: h.topic_sys_flag.unwrap_or(0),
        order: h.order,
    };
    if state.topics.put(tc, now_ms()) {
        tracing::info!(topic = %h.topic, read = h.read_queue_nums, write = h.write_queue_nums, "topic created or updated");
        persist_topics(state).await;
        state.request_register();
    }
    Ok(req.reply(ResponseCode::SUCCESS, None))
}

async fn delete_topic(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> Result<RemotingCommand, HandlerError> {
    let h: DeleteTopicInBrokerRequestHeader = req.decode_header()?;
    if let Some(rejection) = check_admin_topic(state, req, &h.topic) {
        return Ok(rejection);
    }
    if state.topics.remove(&h.topic, now_ms()) {
        persist_topics(state).await;
        state.request_register();
    }
    state.offsets.remove_topic(&h.topic);
    let store = state.store.clone();
    let topic = h.topic.clone();
    let deleted = tokio::task::spawn_blocking(move || store.delete_topic(&topic)).await;
    match deleted {
        Ok(Ok(_)) => Ok(req.reply(ResponseCode::SUCCESS, None)),
        Ok(Err(e)) => Ok(req.reply(
            ResponseCode::SYSTEM_ERROR,
            Some(format!("delete topic files failed: {e}")),
        )),
        Err(e) => Ok(req.reply(
            ResponseCode::SYSTEM_ERROR,
            Some(format!("delete topic failed: {e} {FAQ_URL}")),
        )),
    }
}

/// GET_BROKER_RUNTIME_INFO's table with the keys Apache's mqadmin reads.
fn runtime_info(state: &BrokerState) -> KvTable {
    let store = &state.store;
    let (put_tps, get_tps) = state.stats.tps_strings();
    let (today, yesterday) = state
        .stats
        .window
        .lock()
        .map(|w| w.mornings())
        .unwrap_or_default();
    let put_total = state.stats.put_msgs.load(std::sync::atomic::Ordering::Relaxed);
    let get_total = state.stats.get_msgs.load(std::sync::atomic::Ordering::Relaxed);
    let max_phys = store.max_physical_offset();
    let earliest = store
        .read_record(store.commit_log_min_offset())
        .and_then(|b| rmq_remoting::message::MessageRecord::decode_bytes(&b, false).ok())
        .map_or(0, |(r, _)| r.store_timestamp);
    let mut kv: Vec<(&str, String)> = vec![
        ("brokerVersionDesc", "V4_9_8".into()),
        ("brokerVersion", rmq_remoting::CURRENT_VERSION.to_string()),
        ("putTps", put_tps),
        ("getTransferedTps", get_tps.clone()),
        ("getFoundTps", get_tps),
        ("sendThreadPoolQueueSize", "0".into()),
        ("sendThreadPoolQueueCapacity", "10000".into()),
        ("pullThreadPoolQueueSize", "0".into()),
        ("pullThreadPoolQueueCapacity", "100000".into()),
        ("sendThreadPoolQueueHeadWaitTimeMills", "0".into()),
        ("pullThreadPoolQueueHeadWaitTimeMills", "0".into()),
        ("pageCacheLockTimeMills", "0".into()),
        ("earliestMessageTimeStamp", earliest.to_string()),
        ("commitLogDiskRatio", format!("{:.4}", store.disk_used_ratio())),
        ("commitLogMinOffset", store.commit_log_min_offset().to_string()),
        ("commitLogMaxOffset", max_phys.to_string()),
        (
            "dispatchBehindBytes",
            max_phys.saturating_sub(store.dispatched_offset()).to_string(),
        ),
        (
            "remainHowManyDataToFlush",
            max_phys.saturating_sub(store.flushed_offset()).to_string(),
        ),
        ("msgPutTotalTodayNow", put_total.to_string()),
        ("msgGetTotalTodayNow", get_total.to_string()),
        ("msgPutTotalTodayMorning", today.0.to_string()),
        ("msgGetTotalTodayMorning", today.1.to_string()),
        ("msgPutTotalYesterdayMorning", yesterday.0.to_string()),
        ("msgGetTotalYesterdayMorning", yesterday.1.to_string()),
        ("startAcceptSendRequestTimeStamp", state.start_ms.to_string()),
        ("bootTimestamp", state.start_ms.to_string()),
        (
            "runtime",
            format!("[ {} seconds ]", (now_ms() - state.start_ms) / 1000),
        ),
        ("brokerRole", state.config.broker_role.name().to_string()),
        ("heldPulls", state.held.held().to_string()),
    ];
    kv.sort_by(|a, b| a.0.cmp(b.0));
    // HA (replication): master offset, each slave's acked offset and lag / the slave's progress.
    let ha = state
        .replication
        .get()
        .map(|r| r.runtime_info())
        .unwrap_or_default();
    kv.into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(ha)
        .collect()
}
