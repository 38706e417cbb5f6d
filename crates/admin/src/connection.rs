//! Connection commands: `consumerConnection -g <group>` (GET_CONSUMER_CONNECTION_LIST to a broker
//! of the group's `%RETRY%` route) and `producerConnection -g <group> -t <topic>`
//! (GET_PRODUCER_CONNECTION_LIST to the master of every broker in the topic's route; producers
//! heart-beat masters only). Rows are printed as Apache's tool prints them, with the client
//! version as its Java name (`V4_9_8`).

use std::collections::BTreeSet;
use std::fmt::Write;

use rmq_remoting::body::{Connection, ConsumerConnection, ProducerConnection};
use rmq_remoting::headers::admin::{
    GetConsumerConnectionListRequestHeader, GetProducerConnectionListRequestHeader,
};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use crate::admin::Admin;
use crate::consumer::RETRY_PREFIX;
use crate::error::AdminError;
use crate::format::version_desc;
use crate::topic::validate_topic;

fn check_group(group: &str) -> Result<(), AdminError> {
    if group.trim().is_empty() {
        return Err(AdminError::Invalid(
            "the group name is blank; pass -g <group>".into(),
        ));
    }
    Ok(())
}

/// Who of a consumer group is connected, as the first broker that lists members says.
#[derive(Debug, Clone)]
pub enum Members {
    /// A broker listed these connections, subscriptions and settings.
    Online(ConsumerConnection),
    /// No broker listed a member; what each broker of the retry route answered.
    Offline(Vec<String>),
}

/// GET_CONSUMER_CONNECTION_LIST at each broker of the `%RETRY%<group>` route until one lists
/// members. A group without a retry route has never heart-beaten a broker: that is an error.
pub async fn consumer_members(admin: &Admin, group: &str) -> Result<Members, AdminError> {
    check_group(group)?;
    let group = group.trim();
    let retry = format!("{RETRY_PREFIX}{group}");
    let route = admin.route(&retry).await?.ok_or_else(|| {
        AdminError::Invalid(format!(
            "consumer group {group} is not online (CONSUMER_NOT_ONLINE): the name server has no \
             route for {retry}, so no consumer of this group has ever heart-beaten a broker"
        ))
    })?;
    let header = GetConsumerConnectionListRequestHeader {
        consumer_group: group.to_string(),
    };
    let mut answers = Vec::new();
    for bd in &route.broker_datas {
        let Some(addr) = bd.select_broker_addr() else {
            continue;
        };
        let cmd = RemotingCommand::request_with(RequestCode::GET_CONSUMER_CONNECTION_LIST, &header);
        match admin.invoke(addr, cmd).await {
            Ok(resp) => {
                let cc: ConsumerConnection = Admin::decode(addr, &resp.body)?;
                if !cc.connection_set.is_empty() {
                    return Ok(Members::Online(cc));
                }
                answers.push(format!("{addr} listed no connection"));
            }
            Err(e) => answers.push(e.to_string()),
        }
    }
    Ok(Members::Offline(answers))
}

/// `consumerConnection -g <group>`: the first broker of the `%RETRY%<group>` route that knows
/// connected members answers; when none does, the error says CONSUMER_NOT_ONLINE and lists what
/// each broker answered.
pub async fn consumer_connection(admin: &Admin, group: &str, out: &mut String) -> Result<(), AdminError> {
    match consumer_members(admin, group).await? {
        Members::Online(cc) => {
            render_consumer_connection(&cc, out);
            Ok(())
        }
        Members::Offline(answers) => Err(AdminError::Invalid(format!(
            "consumer group {} is not online ({}): {}; start a consumer of the group, or check -g",
            group.trim(),
            ResponseCode::CONSUMER_NOT_ONLINE.name(),
            if answers.is_empty() {
                "its retry topic's route names no broker".to_string()
            } else {
                answers.join("; ")
            }
        ))),
    }
}

fn connection_row(index: usize, c: &Connection, width: usize) -> String {
    format!(
        "{index:0width$}  {:<32} {:<22} {:<8} {}",
        c.client_id,
        c.client_addr,
        c.language,
        version_desc(c.version)
    )
}

fn or_null<T: std::fmt::Debug>(v: Option<T>) -> String {
    v.map_or_else(|| "null".to_string(), |v| format!("{v:?}"))
}

/// The `consumerConnection` listing: members, subscriptions, then the group's consume settings.
pub fn render_consumer_connection(cc: &ConsumerConnection, out: &mut String) {
    for (i, c) in cc.connection_set.iter().enumerate() {
        let _ = writeln!(out, "{}", connection_row(i + 1, c, 3));
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Below is subscription:");
    for (i, sd) in cc.subscription_table.values().enumerate() {
        let _ = writeln!(
            out,
            "{:03}  Topic: {:<40} SubExpression: {}",
            i + 1,
            sd.topic,
            sd.sub_string
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "ConsumeType: {}", or_null(cc.consume_type));
    let _ = writeln!(out, "MessageModel: {}", or_null(cc.message_model));
    let _ = writeln!(out, "ConsumeFromWhere: {}", or_null(cc.consume_from_where));
}

/// `producerConnection -g <group> -t <topic>`: the union of the group's connections on the
/// masters of the topic's route; none at all is an error listing what each broker answered
/// (Apache's broker says `the producer group[<g>] not exist`).
pub async fn producer_connection(
    admin: &Admin,
    group: &str,
    topic: &str,
    out: &mut String,
) -> Result<(), AdminError> {
    check_group(group)?;
    validate_topic(topic)?;
    let group = group.trim();
    let route = admin.route_required(topic).await?;
    let header = GetProducerConnectionListRequestHeader {
        producer_group: group.to_string(),
    };
    let mut all: BTreeSet<Connection> = BTreeSet::new();
    let mut answers = Vec::new();
    for bd in &route.broker_datas {
        let Some(addr) = bd.master_addr() else {
            continue;
        };
        let cmd = RemotingCommand::request_with(RequestCode::GET_PRODUCER_CONNECTION_LIST, &header);
        match admin.invoke(addr, cmd).await {
            Ok(resp) => {
                let pc: ProducerConnection = Admin::decode(addr, &resp.body)?;
                all.extend(pc.connection_set);
            }
            Err(e) => answers.push(e.to_string()),
        }
    }
    if all.is_empty() {
        return Err(AdminError::Invalid(format!(
            "no connection of producer group {group} on the masters of topic {topic}: {}; is a \
             producer of this group running (producers heart-beat every 30 s)?",
            if answers.is_empty() {
                "the route names no master".to_string()
            } else {
                answers.join("; ")
            }
        )));
    }
    render_producer_connection(&all, out);
    Ok(())
}

/// The `producerConnection` rows.
pub fn render_producer_connection<'a>(conns: impl IntoIterator<Item = &'a Connection>, out: &mut String) {
    for (i, c) in conns.into_iter().enumerate() {
        let _ = writeln!(out, "{}", connection_row(i + 1, c, 4));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::body::{ConsumeFromWhere, ConsumeType, MessageModel, SubscriptionData};

    fn conn(id: &str, version: i32) -> Connection {
        Connection {
            client_addr: "127.0.0.1:50001".into(),
            client_id: id.into(),
            language: "JAVA".into(),
            version,
        }
    }

    #[test]
    fn consumer_listing_has_members_subscriptions_and_settings() {
        let mut cc = ConsumerConnection {
            consume_type: Some(ConsumeType::CONSUME_PASSIVELY),
            message_model: Some(MessageModel::CLUSTERING),
            consume_from_where: Some(ConsumeFromWhere::CONSUME_FROM_FIRST_OFFSET),
            ..Default::default()
        };
        cc.connection_set.insert(conn("10.0.0.1@a", 409));
        cc.subscription_table
            .insert("T".into(), SubscriptionData::tag("T", "TagA || TagB", 1));
        let mut out = String::new();
        render_consumer_connection(&cc, &mut out);
        let lines: Vec<&str> = out.lines().collect();
        let cols: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(cols, ["001", "10.0.0.1@a", "127.0.0.1:50001", "JAVA", "V4_9_8"]);
        assert!(out.contains("Below is subscription:\n001  Topic: T "), "{out}");
        assert!(out.contains("SubExpression: TagA || TagB\n"), "{out}");
        assert!(out.contains("ConsumeType: CONSUME_PASSIVELY\n"), "{out}");
        assert!(out.contains("MessageModel: CLUSTERING\n"), "{out}");
        assert!(
            out.ends_with("ConsumeFromWhere: CONSUME_FROM_FIRST_OFFSET\n"),
            "{out}"
        );
        let mut bare = String::new();
        render_consumer_connection(&ConsumerConnection::default(), &mut bare);
        assert!(bare.contains("ConsumeType: null"), "{bare}");
    }

    #[test]
    fn producer_rows_are_numbered_from_one() {
        let conns = [conn("a", 317), conn("b", 63)];
        let mut out = String::new();
        render_producer_connection(&conns, &mut out);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("0001  a "), "{out}");
        assert!(lines[0].ends_with(" V4_5_2"), "{out}");
        assert!(
            lines[1].starts_with("0002  b ") && lines[1].ends_with(" 63"),
            "{out}"
        );
    }
}
