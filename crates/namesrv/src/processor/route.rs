//! Route reads (GET_ROUTEINFO_BY_TOPIC, GET_BROKER_CLUSTER_INFO, GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
//! GET_TOPICS_BY_CLUSTER) and admin writes on queue data (WIPE/ADD_WRITE_PERM_OF_BROKER,
//! DELETE_TOPIC_IN_NAMESRV).
//!
//! Route JSON is always standard JSON with quoted `brokerAddrs` keys and `enableActingMaster`,
//! the one form every client tried accepts (protocol.md §11), whatever the caller's version.

use rmq_remoting::body::JsonBody;
use rmq_remoting::headers::namesrv::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader, DeleteTopicInNamesrvRequestHeader,
    GetRouteInfoRequestHeader, GetTopicsByClusterRequestHeader, WipeWritePermOfBrokerRequestHeader,
    WipeWritePermOfBrokerResponseHeader,
};
use rmq_remoting::net::HandlerError;
use rmq_remoting::{clip, RemotingCommand, ResponseCode};
use tracing::info;

use crate::kv::ORDER_TOPIC_CONFIG;
use crate::state::State;

/// Apache's `FAQUrl.suggestTodo(APPLY_TOPIC_URL)` suffix, which clients show to users.
const FAQ_SUFFIX: &str = "\nSee http://rocketmq.apache.org/docs/faq/ for further details.";

/// GET_ROUTEINFO_BY_TOPIC (105).
pub(super) fn topic_route(state: &State, req: &RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let header: GetRouteInfoRequestHeader = req.decode_header()?;
    let route = state.routes().topic_route(&header.topic);
    let Some(mut route) = route else {
        let remark = format!(
            "No topic route info in name server for the topic: {}{FAQ_SUFFIX}",
            header.topic
        );
        return Ok(req.reply(ResponseCode::TOPIC_NOT_EXIST, remark));
    };
    if state.config().order_message_enable {
        route.order_topic_conf = state.kv.get(ORDER_TOPIC_CONFIG, &header.topic);
    }
    Ok(req.reply(ResponseCode::SUCCESS, None).with_body(route.encode()))
}

/// GET_BROKER_CLUSTER_INFO (106).
pub(super) fn cluster_info(state: &State, req: &RemotingCommand) -> RemotingCommand {
    let info = state.routes().cluster_info();
    req.reply(ResponseCode::SUCCESS, None).with_body(info.encode())
}

/// GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206).
pub(super) fn topic_list(state: &State, req: &RemotingCommand) -> RemotingCommand {
    let list = state.routes().topic_list();
    req.reply(ResponseCode::SUCCESS, None).with_body(list.encode())
}

/// GET_TOPICS_BY_CLUSTER (224).
pub(super) fn topics_by_cluster(
    state: &State,
    req: &RemotingCommand,
) -> Result<RemotingCommand, HandlerError> {
    let header: GetTopicsByClusterRequestHeader = req.decode_header()?;
    let list = state.routes().topics_of_cluster(&header.cluster);
    Ok(req.reply(ResponseCode::SUCCESS, None).with_body(list.encode()))
}

/// WIPE_WRITE_PERM_OF_BROKER (205).
pub(super) fn wipe_write_perm(state: &State, req: &RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let header: WipeWritePermOfBrokerRequestHeader = req.decode_header()?;
    let wipe_topic_count = state.routes_mut().wipe_write_perm(&header.broker_name);
    info!(broker_name = %clip(&header.broker_name), topics = wipe_topic_count, "write permission wiped");
    Ok(req.reply_with(&WipeWritePermOfBrokerResponseHeader { wipe_topic_count }))
}

/// ADD_WRITE_PERM_OF_BROKER (327).
pub(super) fn add_write_perm(state: &State, req: &RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let header: AddWritePermOfBrokerRequestHeader = req.decode_header()?;
    let add_topic_count = state.routes_mut().add_write_perm(&header.broker_name);
    info!(broker_name = %clip(&header.broker_name), topics = add_topic_count, "write permission added");
    Ok(req.reply_with(&AddWritePermOfBrokerResponseHeader { add_topic_count }))
}

/// DELETE_TOPIC_IN_NAMESRV (216).
pub(super) fn delete_topic(state: &State, req: &RemotingCommand) -> Result<RemotingCommand, HandlerError> {
    let header: DeleteTopicInNamesrvRequestHeader = req.decode_header()?;
    // An empty clusterName is how some tools say "no cluster".
    let cluster = header.cluster_name.as_deref().filter(|c| !c.is_empty());
    let removed = state.routes_mut().delete_topic(&header.topic, cluster);
    info!(topic = %clip(&header.topic), cluster = cluster.unwrap_or("*"), removed, "topic deleted from routes");
    Ok(req.reply(ResponseCode::SUCCESS, None))
}
