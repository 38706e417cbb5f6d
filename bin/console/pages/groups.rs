//! Consumer group pages: the list (members online, lag, consume TPS), one group's members,
//! subscriptions and lag per queue, and the reset-offset-by-time form.

use std::collections::BTreeSet;

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use rmq_admin::connection::{consumer_members, Members};
use rmq_admin::consumer::{consumer_groups, group_progress, GroupProgress, RETRY_PREFIX};
use rmq_admin::format::version_desc;
use rmq_admin::reset::reset_offset_by_time;
use serde::Deserialize;

use crate::console::forms::{parse_name, parse_time};
use crate::console::html::{esc, table, time, urlenc, Nav, Page};
use crate::console::state::{explain, AppState};
use crate::console::system::is_system_group;

/// GET /groups query.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    system: Option<String>,
}

/// GET /groups.
pub async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Page {
    let mut page = Page::new("Consumer groups", Nav::Groups, state.namesrv());
    let admin = state.admin();
    let (groups, failed) = match consumer_groups(admin).await {
        Ok(g) => g,
        Err(e) => {
            page.error(StatusCode::BAD_GATEWAY, explain(&state, &e));
            return page;
        }
    };
    for f in failed {
        page.error(
            StatusCode::OK,
            format!("Groups of broker {f} are missing from the list"),
        );
    }
    let shown: Vec<String> = groups
        .into_iter()
        .filter(|g| q.system.is_some() || !is_system_group(g))
        .collect();
    let summaries = futures::future::join_all(shown.iter().map(|g| async move {
        let members = consumer_members(admin, g).await;
        let progress = group_progress(admin, g).await;
        (members, progress)
    }))
    .await;
    let rows: Vec<(String, Vec<String>)> = shown
        .iter()
        .zip(summaries)
        .map(|(g, (members, progress))| {
            let online = match members {
                Ok(Members::Online(cc)) => cc.connection_set.len().to_string(),
                Ok(Members::Offline(_)) => "0".into(),
                Err(_) => "never online".into(),
            };
            let (lag, tps) = match progress {
                Ok(p) => (p.total_lag().to_string(), format!("{:.1}", p.tps)),
                Err(_) => ("-".into(), "-".into()),
            };
            (
                String::new(),
                vec![
                    format!("<a href=\"/group?name={}\">{}</a>", urlenc(g), esc(g)),
                    online,
                    lag,
                    tps,
                ],
            )
        })
        .collect();
    page.body = format!(
        "<form method=\"get\" action=\"/groups\" class=\"search\"><label><input type=\"checkbox\" \
         name=\"system\" value=\"1\"{}> system groups</label> <button type=\"submit\">Show</button></form>{}",
        if q.system.is_some() { " checked" } else { "" },
        table(
            &["Group", "Members online", "Lag (messages)", "Consume TPS"],
            &rows
        )
    );
    page
}

/// GET /group query.
#[derive(Deserialize, Default)]
pub struct GroupQuery {
    #[serde(default)]
    name: String,
}

/// GET /group?name=.
pub async fn detail(State(state): State<AppState>, Query(q): Query<GroupQuery>) -> Page {
    let mut page = Page::new(format!("Consumer group {}", q.name), Nav::Groups, state.namesrv());
    fill_detail(&state, &mut page, &q.name, &ResetForm::default()).await;
    page
}

async fn fill_detail(state: &AppState, page: &mut Page, name: &str, form: &ResetForm) {
    let group = match parse_name("group", name) {
        Ok(g) => g,
        Err(e) => {
            page.error(StatusCode::BAD_REQUEST, e);
            return;
        }
    };
    let admin = state.admin();
    let mut body = String::from("<h2>Members</h2>");
    let mut topics = BTreeSet::new();
    match consumer_members(admin, &group).await {
        Ok(Members::Online(cc)) => {
            let rows: Vec<(String, Vec<String>)> = cc
                .connection_set
                .iter()
                .map(|c| {
                    (
                        String::new(),
                        vec![
                            esc(&c.client_id),
                            esc(&c.client_addr),
                            esc(&c.language),
                            esc(&version_desc(c.version)),
                        ],
                    )
                })
                .collect();
            body.push_str(&table(&["Client id", "Address", "Language", "Version"], &rows));
            let subs: Vec<(String, Vec<String>)> = cc
                .subscription_table
                .values()
                .filter(|s| !s.topic.starts_with(RETRY_PREFIX))
                .map(|s| {
                    topics.insert(s.topic.clone());
                    (String::new(), vec![esc(&s.topic), esc(&s.sub_string)])
                })
                .collect();
            body.push_str(&format!(
                "<p class=\"hint\">{} · {}</p>",
                esc(&cc.message_model.map(|m| format!("{m:?}")).unwrap_or_default()),
                esc(&cc
                    .consume_from_where
                    .map(|m| format!("{m:?}"))
                    .unwrap_or_default())
            ));
            body.push_str(&table(&["Subscribed topic", "Expression"], &subs));
        }
        Ok(Members::Offline(_)) => body.push_str("<p class=\"empty\">No member of this group is online.</p>"),
        Err(e) => {
            page.error(StatusCode::NOT_FOUND, explain(state, &e));
            return;
        }
    }
    body.push_str("<h2>Lag per queue</h2>");
    match group_progress(admin, &group).await {
        Ok(p) => {
            topics.extend(
                p.offsets
                    .keys()
                    .map(|mq| mq.topic.clone())
                    .filter(|t| !t.starts_with(RETRY_PREFIX)),
            );
            body.push_str(&progress_table(&p));
        }
        Err(e) => page.error(StatusCode::BAD_GATEWAY, format!("Lag: {}", explain(state, &e))),
    }
    body.push_str(&reset_form(&group, &topics, form));
    page.body = body;
}

fn progress_table(p: &GroupProgress) -> String {
    let rows: Vec<(String, Vec<String>)> = p
        .offsets
        .iter()
        .map(|(mq, o)| {
            let lag = (o.broker_offset - o.consumer_offset).max(0);
            (
                if lag > 0 { "lag".into() } else { String::new() },
                vec![
                    esc(&mq.topic),
                    esc(&mq.broker_name),
                    mq.queue_id.to_string(),
                    o.broker_offset.to_string(),
                    o.consumer_offset.to_string(),
                    lag.to_string(),
                    esc(&time(o.last_timestamp)),
                ],
            )
        })
        .collect();
    format!(
        "<p class=\"total\">Total lag: <strong id=\"total-lag\">{}</strong> · consume TPS {:.1}</p>{}",
        p.total_lag(),
        p.tps,
        table(
            &[
                "Topic",
                "Broker",
                "Queue",
                "Broker offset",
                "Consumer offset",
                "Lag",
                "Last consumed"
            ],
            &rows
        )
    )
}

fn reset_form(group: &str, topics: &BTreeSet<String>, f: &ResetForm) -> String {
    let options: String = topics
        .iter()
        .map(|t| {
            format!(
                "<option value=\"{v}\"{s}>{v}</option>",
                v = esc(t),
                s = if &f.topic == t { " selected" } else { "" }
            )
        })
        .collect();
    format!(
        "<h2>Reset offset by time</h2><p class=\"hint\">Moves the group's offsets on the topic to the \
         first message stored at or after the time (UTC). Stop the group's consumers first.</p>\
         <form method=\"post\" action=\"/group/reset\" class=\"grid\" id=\"reset-form\">\
         <input type=\"hidden\" name=\"name\" value=\"{}\">\
         <label>Topic <select name=\"topic\">{options}</select></label>\
         <label>Time <input name=\"time\" value=\"{}\" placeholder=\"2024-05-01 13:45 or epoch ms\"></label>\
         <button type=\"submit\">Reset</button></form>",
        esc(group),
        esc(&f.time)
    )
}

/// POST /group/reset form.
#[derive(Deserialize, Default, Clone)]
pub struct ResetForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    time: String,
}

/// POST /group/reset: resetOffsetByTime, then the group page with what changed.
pub async fn reset(State(state): State<AppState>, Form(f): Form<ResetForm>) -> Page {
    let mut page = Page::new(format!("Consumer group {}", f.name), Nav::Groups, state.namesrv());
    let checked = (|| {
        let group = parse_name("group", &f.name)?;
        let topic = parse_name("topic", &f.topic)?;
        if f.time.trim().is_empty() {
            return Err("time: give the time to reset to, e.g. 2024-05-01 13:45 (UTC)".to_string());
        }
        let ts = parse_time("time", &f.time, 0)?;
        Ok((group, topic, ts))
    })();
    match checked {
        Err(e) => page.error(StatusCode::BAD_REQUEST, e),
        Ok((group, topic, ts)) => match reset_offset_by_time(state.admin(), &group, &topic, ts).await {
            Ok(done) => {
                let changes: Vec<String> = done
                    .iter()
                    .map(|r| match r.old_offset {
                        Some(old) => format!(
                            "{} q{}: {} → {}",
                            r.queue.broker_name, r.queue.queue_id, old, r.new_offset
                        ),
                        None => format!(
                            "{} q{}: → {}",
                            r.queue.broker_name, r.queue.queue_id, r.new_offset
                        ),
                    })
                    .collect();
                page.ok(format!(
                    "Offsets of {group} on {topic} reset to {}: {}",
                    time(ts),
                    changes.join(", ")
                ));
            }
            Err(e) => page.error(
                StatusCode::CONFLICT,
                format!("Not reset: {}", explain(&state, &e)),
            ),
        },
    }
    fill_detail(&state, &mut page, &f.name, &f).await;
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::body::{MessageQueue, OffsetWrapper};

    #[test]
    fn lag_rows_and_total() {
        let mut p = GroupProgress::default();
        p.offsets.insert(
            MessageQueue::new("T<x>", "a", 0),
            OffsetWrapper {
                broker_offset: 10,
                consumer_offset: 4,
                last_timestamp: 0,
            },
        );
        p.offsets.insert(
            MessageQueue::new("T<x>", "a", 1),
            OffsetWrapper {
                broker_offset: 3,
                consumer_offset: 3,
                last_timestamp: 0,
            },
        );
        let html = progress_table(&p);
        assert!(html.contains("<strong id=\"total-lag\">6</strong>"), "{html}");
        assert!(html.contains("T&lt;x&gt;"), "{html}");
        assert_eq!(html.matches("<tr class=\"lag\">").count(), 1, "{html}");
    }
}
