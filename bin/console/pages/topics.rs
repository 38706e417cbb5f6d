//! Topic pages: the list with a search box, one topic's route and per-queue offsets, and the
//! create/update and delete forms (updateTopic, deleteTopic).

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rmq_admin::admin::masters_in;
use rmq_admin::topic::{
    clusters_of_route, delete_topic, topic_names, topic_offsets, update_topic, Target, UpdateTopic,
};
use rmq_remoting::body::{ClusterInfo, TopicRouteData};
use serde::Deserialize;

use crate::console::forms::{parse_name, parse_perm, parse_queue_nums};
use crate::console::html::{esc, table, time, urlenc, Nav, Page};
use crate::console::state::{explain, AppState};
use crate::console::system::is_system_topic;

/// GET /topics query.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    system: Option<String>,
    ok: Option<String>,
}

/// The create/update form, kept as typed so a bad value can be shown back.
#[derive(Deserialize, Default, Clone)]
pub struct TopicForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    read: String,
    #[serde(default)]
    write: String,
    #[serde(default)]
    perm: String,
}

/// GET /topics.
pub async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Page {
    let mut page = Page::new("Topics", Nav::Topics, state.namesrv());
    if let Some(ok) = q.ok.clone() {
        page.ok(ok);
    }
    let form = TopicForm {
        read: "8".into(),
        write: "8".into(),
        perm: "6".into(),
        ..Default::default()
    };
    fill_list(&state, &mut page, &q, &form).await;
    page
}

async fn fill_list(state: &AppState, page: &mut Page, q: &ListQuery, form: &TopicForm) {
    let admin = state.admin();
    let (names, info) = match (topic_names(admin).await, admin.cluster_info().await) {
        (Ok(n), Ok(i)) => (n, i),
        (Err(e), _) | (_, Err(e)) => {
            page.error(StatusCode::BAD_GATEWAY, explain(state, &e));
            return;
        }
    };
    let show_system = q.system.is_some();
    let needle = q.q.trim().to_lowercase();
    let own = |t: &str| info.broker_addr_table.contains_key(t) || info.cluster_addr_table.contains_key(t);
    let shown: Vec<&String> = names
        .iter()
        .filter(|t| show_system || !(is_system_topic(t) || own(t)))
        .filter(|t| needle.is_empty() || t.to_lowercase().contains(&needle))
        .collect();
    let mut body = format!(
        "<form method=\"get\" action=\"/topics\" class=\"search\">\
         <input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"search topics\">\
         <label><input type=\"checkbox\" name=\"system\" value=\"1\"{}> system, retry and DLQ topics</label>\
         <button type=\"submit\">Search</button></form>",
        esc(&q.q),
        if show_system { " checked" } else { "" }
    );
    body.push_str(&format!(
        "<p class=\"hint\">{} of {} topics</p>",
        shown.len(),
        names.len()
    ));
    let rows: Vec<(String, Vec<String>)> = shown
        .iter()
        .map(|t| {
            let kind = if t.starts_with("%RETRY%") {
                "retry"
            } else if t.starts_with("%DLQ%") {
                "dead letter"
            } else if is_system_topic(t) || own(t) {
                "system"
            } else {
                "normal"
            };
            (
                String::new(),
                vec![
                    format!("<a href=\"/topic?name={}\">{}</a>", urlenc(t), esc(t)),
                    kind.into(),
                ],
            )
        })
        .collect();
    body.push_str(&table(&["Topic", "Type"], &rows));
    body.push_str("<h2>Create or update a topic</h2>");
    body.push_str(&topic_form(&info, form, true));
    page.body = body;
}

/// The updateTopic form; `name_editable` is false on a topic's own page.
fn topic_form(info: &ClusterInfo, f: &TopicForm, name_editable: bool) -> String {
    let mut options = String::new();
    for cluster in info.cluster_addr_table.keys() {
        let v = format!("cluster:{cluster}");
        options.push_str(&format!(
            "<option value=\"{}\"{}>every master of cluster {}</option>",
            esc(&v),
            if f.target == v { " selected" } else { "" },
            esc(cluster)
        ));
        for m in masters_in(info, cluster) {
            let v = format!("broker:{}", m.addr);
            options.push_str(&format!(
                "<option value=\"{}\"{}>broker {} ({})</option>",
                esc(&v),
                if f.target == v { " selected" } else { "" },
                esc(&m.name),
                esc(&m.addr)
            ));
        }
    }
    let name = if name_editable {
        format!(
            "<label>Name <input name=\"name\" value=\"{}\" required maxlength=\"127\"></label>",
            esc(&f.name)
        )
    } else {
        format!("<input type=\"hidden\" name=\"name\" value=\"{}\">", esc(&f.name))
    };
    let perm_opt = |v: &str, label: &str| {
        format!(
            "<option value=\"{v}\"{}>{label}</option>",
            if f.perm == v { " selected" } else { "" }
        )
    };
    format!(
        "<form method=\"post\" action=\"/topics\" class=\"grid\" id=\"topic-form\">{name}\
         <label>Where <select name=\"target\">{options}</select></label>\
         <label>Read queues <input name=\"read\" value=\"{}\" size=\"5\"></label>\
         <label>Write queues <input name=\"write\" value=\"{}\" size=\"5\"></label>\
         <label>Permission <select name=\"perm\">{}{}{}</select></label>\
         <button type=\"submit\">Save</button></form>",
        esc(&f.read),
        esc(&f.write),
        perm_opt("6", "6 read and write"),
        perm_opt("4", "4 read only"),
        perm_opt("2", "2 write only"),
    )
}

fn parse_form(f: &TopicForm) -> Result<UpdateTopic, Vec<String>> {
    let mut errors = Vec::new();
    let name = parse_name("topic name", &f.name).map_err(|e| errors.push(e)).ok();
    let read = parse_queue_nums("read queues", &f.read)
        .map_err(|e| errors.push(e))
        .ok();
    let write = parse_queue_nums("write queues", &f.write)
        .map_err(|e| errors.push(e))
        .ok();
    let perm = parse_perm(&f.perm).map_err(|e| errors.push(e)).ok();
    let target = match f.target.split_once(':') {
        Some(("cluster", c)) if !c.is_empty() => Some(Target::Cluster(c.into())),
        Some(("broker", a)) if !a.is_empty() => Some(Target::Broker(a.into())),
        _ => {
            errors.push("where: pick a cluster or a broker from the list".into());
            None
        }
    };
    match (name, read, write, perm, target) {
        (Some(topic), Some(read_queue_nums), Some(write_queue_nums), Some(perm), Some(target))
            if errors.is_empty() =>
        {
            Ok(UpdateTopic {
                target,
                topic,
                read_queue_nums,
                write_queue_nums,
                perm,
                order: false,
            })
        }
        _ => Err(errors),
    }
}

/// POST /topics: updateTopic; back to the form with the reasons on a bad value.
pub async fn save(State(state): State<AppState>, Form(f): Form<TopicForm>) -> Response {
    let u = match parse_form(&f) {
        Ok(u) => u,
        Err(errors) => {
            let mut page = Page::new("Topics", Nav::Topics, state.namesrv());
            for e in errors {
                page.error(StatusCode::BAD_REQUEST, e);
            }
            fill_list(&state, &mut page, &ListQuery::default(), &f).await;
            page.status = StatusCode::BAD_REQUEST;
            return page.into_response();
        }
    };
    let mut out = String::new();
    match update_topic(state.admin(), &u, &mut out).await {
        Ok(()) => {
            let ok = format!(
                "Topic {} saved: {} read / {} write queues, perm {}.",
                u.topic, u.read_queue_nums, u.write_queue_nums, u.perm
            );
            Redirect::to(&format!("/topic?name={}&ok={}", urlenc(&u.topic), urlenc(&ok))).into_response()
        }
        Err(e) => {
            let mut page = Page::new("Topics", Nav::Topics, state.namesrv());
            let msg = explain(&state, &e);
            fill_list(&state, &mut page, &ListQuery::default(), &f).await;
            page.error(StatusCode::BAD_GATEWAY, format!("The topic was not saved: {msg}"));
            page.into_response()
        }
    }
}

/// GET /topic query.
#[derive(Deserialize)]
pub struct TopicQuery {
    #[serde(default)]
    name: String,
    ok: Option<String>,
}

/// GET /topic?name=: route, queues with offsets, update and delete forms, live chart.
pub async fn detail(State(state): State<AppState>, Query(q): Query<TopicQuery>) -> Page {
    let mut page = Page::new(format!("Topic {}", q.name), Nav::Topics, state.namesrv());
    if let Some(ok) = q.ok {
        page.ok(ok);
    }
    let name = match parse_name("topic", &q.name) {
        Ok(n) => n,
        Err(e) => {
            page.error(StatusCode::BAD_REQUEST, e);
            return page;
        }
    };
    let admin = state.admin();
    let route = match admin.route(&name).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            page.error(
                StatusCode::NOT_FOUND,
                format!("The name server has no route for topic {name}: it does not exist (or was deleted). Create it on the Topics page."),
            );
            return page;
        }
        Err(e) => {
            page.error(StatusCode::BAD_GATEWAY, explain(&state, &e));
            return page;
        }
    };
    let info = admin.cluster_info().await.unwrap_or_default();
    let mut body = route_table(&route);
    body.push_str("<h2>Queues</h2>");
    match topic_offsets(admin, &name).await {
        Ok(all) => {
            let rows: Vec<(String, Vec<String>)> = all
                .iter()
                .map(|(mq, o)| {
                    (
                        String::new(),
                        vec![
                            esc(&mq.broker_name),
                            mq.queue_id.to_string(),
                            o.min_offset.to_string(),
                            o.max_offset.to_string(),
                            (o.max_offset - o.min_offset).to_string(),
                            esc(&time(o.last_update_timestamp)),
                        ],
                    )
                })
                .collect();
            body.push_str(&format!("<p class=\"hint\">{} queues</p>", rows.len()));
            body.push_str(&table(
                &[
                    "Broker",
                    "Queue",
                    "Min offset",
                    "Max offset",
                    "Messages",
                    "Last stored",
                ],
                &rows,
            ));
        }
        Err(e) => page.error(
            StatusCode::BAD_GATEWAY,
            format!("Queue offsets: {}", explain(&state, &e)),
        ),
    }
    body.push_str(&format!(
        "<h2>Live TPS</h2><div class=\"chart\" data-series=\"topic/{n}/\" data-labels=\"send,consume\"></div>\
         <p><a href=\"/messages?mode=time&amp;topic={u}\">Messages of the last hour</a></p>",
        n = esc(&name),
        u = urlenc(&name)
    ));
    let first = route.queue_datas.first();
    let form = TopicForm {
        name: name.clone(),
        target: clusters_of_route(&info, &route)
            .first()
            .map(|c| format!("cluster:{c}"))
            .unwrap_or_default(),
        read: first.map_or(8, |q| q.read_queue_nums).to_string(),
        write: first.map_or(8, |q| q.write_queue_nums).to_string(),
        perm: first.map_or(6, |q| q.perm).to_string(),
    };
    body.push_str("<h2>Update</h2>");
    body.push_str(&topic_form(&info, &form, false));
    body.push_str(&format!(
        "<h2>Delete</h2><form method=\"post\" action=\"/topic/delete\" class=\"inline\" \
         onsubmit=\"return confirm('Delete this topic from every broker and name server?')\">\
         <input type=\"hidden\" name=\"name\" value=\"{}\"><button type=\"submit\" class=\"danger\">Delete topic {}</button></form>",
        esc(&name),
        esc(&name)
    ));
    page.body = body;
    page
}

fn route_table(route: &TopicRouteData) -> String {
    let rows: Vec<(String, Vec<String>)> = route
        .queue_datas
        .iter()
        .map(|q| {
            let bd = route.broker_datas.iter().find(|b| b.broker_name == q.broker_name);
            let addrs = bd
                .map(|b| {
                    b.broker_addrs
                        .iter()
                        .map(|(id, a)| format!("{id}: {a}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            (
                String::new(),
                vec![
                    esc(bd.map_or("", |b| b.cluster.as_str())),
                    esc(&q.broker_name),
                    esc(&addrs),
                    q.read_queue_nums.to_string(),
                    q.write_queue_nums.to_string(),
                    format!("{} ({})", q.perm, perm_text(q.perm)),
                ],
            )
        })
        .collect();
    format!(
        "<h2>Route</h2>{}",
        table(
            &[
                "Cluster",
                "Broker",
                "Addresses",
                "Read queues",
                "Write queues",
                "Permission"
            ],
            &rows
        )
    )
}

fn perm_text(perm: i32) -> &'static str {
    match perm & 6 {
        6 => "read and write",
        4 => "read only",
        2 => "write only",
        _ => "no access",
    }
}

/// POST /topic/delete form.
#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    name: String,
}

/// POST /topic/delete: deleteTopic on every cluster that holds the topic.
pub async fn delete(State(state): State<AppState>, Form(f): Form<DeleteForm>) -> Response {
    let mut page = Page::new("Topics", Nav::Topics, state.namesrv());
    let result = async {
        let name = parse_name("topic", &f.name).map_err(|e| (StatusCode::BAD_REQUEST, e))?;
        let admin = state.admin();
        let bad = |e: rmq_admin::AdminError| (StatusCode::BAD_GATEWAY, explain(&state, &e));
        let route = admin.route_required(&name).await.map_err(bad)?;
        let info = admin.cluster_info().await.map_err(bad)?;
        let mut out = String::new();
        for cluster in clusters_of_route(&info, &route) {
            delete_topic(admin, &name, &cluster, &mut out)
                .await
                .map_err(bad)?;
        }
        Ok::<String, (StatusCode, String)>(name)
    }
    .await;
    match result {
        Ok(name) => Redirect::to(&format!(
            "/topics?ok={}",
            urlenc(&format!("Topic {name} deleted."))
        ))
        .into_response(),
        Err((status, e)) => {
            page.error(status, format!("The topic was not deleted: {e}"));
            page.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, target: &str, read: &str, write: &str, perm: &str) -> TopicForm {
        TopicForm {
            name: name.into(),
            target: target.into(),
            read: read.into(),
            write: write.into(),
            perm: perm.into(),
        }
    }

    #[test]
    fn a_good_form_becomes_an_update() {
        let u = parse_form(&form("T1", "cluster:DefaultCluster", "4", "4", "6")).unwrap();
        assert_eq!(u.target, Target::Cluster("DefaultCluster".into()));
        assert_eq!((u.read_queue_nums, u.write_queue_nums, u.perm), (4, 4, 6));
        let u = parse_form(&form("T1", "broker:1.2.3.4:10911", "1", "1", "4")).unwrap();
        assert_eq!(u.target, Target::Broker("1.2.3.4:10911".into()));
    }

    #[test]
    fn every_bad_field_is_named() {
        let e = parse_form(&form("a b", "", "0", "x", "9")).unwrap_err();
        assert_eq!(e.len(), 5, "{e:?}");
        assert!(e.iter().any(|m| m.starts_with("topic name")));
        assert!(e.iter().any(|m| m.starts_with("read queues")));
        assert!(e.iter().any(|m| m.starts_with("write queues")));
        assert!(e.iter().any(|m| m.starts_with("permission")));
        assert!(e.iter().any(|m| m.starts_with("where")));
    }

    #[test]
    fn the_form_escapes_values_shown_back() {
        let f = form("\"><script>", "cluster:C", "8", "8", "6");
        let html = topic_form(&ClusterInfo::default(), &f, true);
        assert!(!html.contains("<script>"), "{html}");
    }
}
