//! Message pages: lookup by id (client msgId or offset msgId), by key, and by topic and time
//! range, and one message's detail with its body and properties. Bodies and properties are
//! producer data: always escaped, binary bodies shown as hex.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use rmq_admin::browse::messages_in_range;
use rmq_admin::message::{client_msg_id, message_by_offset_id, plain_body};
use rmq_admin::query::{message_by_unique_key, messages_by_key};
use rmq_remoting::message::properties;
use rmq_remoting::message::record::MessageRecord;
use serde::Deserialize;

use crate::console::forms::{parse_max, parse_name, parse_time};
use crate::console::html::{esc, table, time, urlenc, Nav, Page};
use crate::console::state::{explain, now_ms, AppState};

/// Longest body preview in a result row, in characters.
const PREVIEW: usize = 80;

/// GET /messages query: which search and its fields.
#[derive(Deserialize, Default, Clone)]
pub struct Search {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    begin: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    max: String,
}

/// GET /messages.
pub async fn search(State(state): State<AppState>, Query(s): Query<Search>) -> Page {
    let mut page = Page::new("Messages", Nav::Messages, state.namesrv());
    let mut body = forms(&s);
    match s.mode.as_str() {
        "" => {}
        "key" => by_key(&state, &s, &mut page, &mut body).await,
        "id" => by_id(&state, &s, &mut page, &mut body).await,
        "time" => by_time(&state, &s, &mut page, &mut body).await,
        other => page.error(
            StatusCode::BAD_REQUEST,
            format!("unknown search {other:?}: use one of the three forms"),
        ),
    }
    page.body = body;
    page
}

async fn by_key(state: &AppState, s: &Search, page: &mut Page, body: &mut String) {
    let topic = match parse_name("topic", &s.topic) {
        Ok(t) => t,
        Err(e) => return page.error(StatusCode::BAD_REQUEST, e),
    };
    let key = s.key.trim();
    if key.is_empty() {
        return page.error(
            StatusCode::BAD_REQUEST,
            "key: type the key to look for (a message's KEYS)",
        );
    }
    match messages_by_key(state.admin(), &topic, key, 64, (0, i64::MAX)).await {
        Ok(found) if found.is_empty() => page.error(
            StatusCode::NOT_FOUND,
            format!("No message of {topic} has the key {key:?} (keys are indexed only on brokers with messageIndexEnable=true)."),
        ),
        Ok(found) => body.push_str(&results(found.iter().map(|r| (None, r)), false)),
        Err(e) => page.error(StatusCode::BAD_GATEWAY, explain(state, &e)),
    }
}

async fn by_id(state: &AppState, s: &Search, page: &mut Page, body: &mut String) {
    let id = s.id.trim();
    if id.is_empty() {
        return page.error(
            StatusCode::BAD_REQUEST,
            "message id: paste the msgId a send returned",
        );
    }
    let admin = state.admin();
    if !s.topic.trim().is_empty() {
        let topic = match parse_name("topic", &s.topic) {
            Ok(t) => t,
            Err(e) => return page.error(StatusCode::BAD_REQUEST, e),
        };
        match message_by_unique_key(admin, &topic, id).await {
            Ok(Some(rec)) => return body.push_str(&detail_html(&rec)),
            Ok(None) => {}
            Err(e) => return page.error(StatusCode::BAD_GATEWAY, explain(state, &e)),
        }
    }
    match message_by_offset_id(admin, id).await {
        Ok(rec) => body.push_str(&detail_html(&rec)),
        Err(e) => page.error(
            StatusCode::NOT_FOUND,
            format!(
                "No message with id {id:?}{}: {e}",
                if s.topic.trim().is_empty() {
                    " (give the topic too to look a client msgId up)"
                } else {
                    ""
                }
            ),
        ),
    }
}

async fn by_time(state: &AppState, s: &Search, page: &mut Page, body: &mut String) {
    let now = now_ms();
    let checked = (|| {
        let topic = parse_name("topic", &s.topic)?;
        let begin = parse_time("begin", &s.begin, now - 3_600_000)?;
        let end = parse_time("end", &s.end, now)?;
        if begin > end {
            return Err("begin: the range begins after it ends; swap the two times".to_string());
        }
        let max = parse_max(&s.max, 100, 2000)?;
        Ok((topic, begin, end, max))
    })();
    let (topic, begin, end, max) = match checked {
        Ok(v) => v,
        Err(e) => return page.error(StatusCode::BAD_REQUEST, e),
    };
    match messages_in_range(state.admin(), &topic, begin, end, max).await {
        Ok(r) => {
            body.push_str(&format!(
                "<p class=\"hint\">{} message(s) of {} stored {} – {}{}</p>",
                r.messages.len(),
                esc(&topic),
                esc(&time(begin)),
                esc(&time(end)),
                if r.truncated {
                    "; more left, raise max results or narrow the range"
                } else {
                    ""
                }
            ));
            body.push_str(&results(
                r.messages
                    .iter()
                    .map(|f| (Some(f.broker_name.as_str()), &f.record)),
                true,
            ));
        }
        Err(e) => page.error(StatusCode::BAD_GATEWAY, explain(state, &e)),
    }
}

fn forms(s: &Search) -> String {
    let v = |x: &str| esc(x);
    format!(
        "<div class=\"forms\">\
         <form method=\"get\" action=\"/messages\" id=\"by-key\"><h2>By key</h2><input type=\"hidden\" name=\"mode\" value=\"key\">\
         <label>Topic <input name=\"topic\" value=\"{t}\"></label><label>Key <input name=\"key\" value=\"{k}\"></label>\
         <button type=\"submit\">Find</button></form>\
         <form method=\"get\" action=\"/messages\" id=\"by-id\"><h2>By id</h2><input type=\"hidden\" name=\"mode\" value=\"id\">\
         <label>Topic <input name=\"topic\" value=\"{t}\" placeholder=\"needed for a client msgId\"></label>\
         <label>Message id <input name=\"id\" value=\"{i}\" size=\"34\"></label><button type=\"submit\">Find</button></form>\
         <form method=\"get\" action=\"/messages\" id=\"by-time\"><h2>By topic and time</h2><input type=\"hidden\" name=\"mode\" value=\"time\">\
         <label>Topic <input name=\"topic\" value=\"{t}\"></label>\
         <label>Begin <input name=\"begin\" value=\"{b}\" placeholder=\"an hour ago\"></label>\
         <label>End <input name=\"end\" value=\"{e}\" placeholder=\"now\"></label>\
         <label>Max results <input name=\"max\" value=\"{m}\" size=\"5\" placeholder=\"100\"></label>\
         <button type=\"submit\">Find</button></form></div>\
         <p class=\"hint\">Times are UTC: 2024-05-01 13:45, 2024-05-01 13:45:10 or epoch milliseconds.</p>",
        t = v(&s.topic),
        k = v(&s.key),
        i = v(&s.id),
        b = v(&s.begin),
        e = v(&s.end),
        m = v(&s.max),
    )
}

fn preview(rec: &MessageRecord) -> String {
    let body = plain_body(rec);
    match std::str::from_utf8(&body) {
        Ok(text) if text.chars().count() > PREVIEW => {
            format!("{}…", text.chars().take(PREVIEW).collect::<String>())
        }
        Ok(text) => text.to_string(),
        Err(_) => format!("({} bytes of binary)", body.len()),
    }
}

fn results<'a>(
    found: impl Iterator<Item = (Option<&'a str>, &'a MessageRecord)>,
    with_broker: bool,
) -> String {
    let rows: Vec<(String, Vec<String>)> = found
        .map(|(broker, r)| {
            let mut cells = vec![
                format!(
                    "<a href=\"/message?id={}\">{}</a>",
                    urlenc(&r.offset_msg_id()),
                    esc(&client_msg_id(r))
                ),
                esc(r.property(properties::keys::TAGS).unwrap_or("")),
                esc(r.property(properties::keys::KEYS).unwrap_or("")),
            ];
            if with_broker {
                cells.push(esc(broker.unwrap_or("")));
            }
            cells.push(r.queue_id.to_string());
            cells.push(r.queue_offset.to_string());
            cells.push(esc(&time(r.store_timestamp)));
            cells.push(format!("<span class=\"body\">{}</span>", esc(&preview(r))));
            (String::new(), cells)
        })
        .collect();
    let mut headers = vec!["Message id", "Tags", "Keys"];
    if with_broker {
        headers.push("Broker");
    }
    headers.extend(["Queue", "Offset", "Stored", "Body"]);
    table(&headers, &rows)
}

/// GET /message query.
#[derive(Deserialize, Default)]
pub struct ViewQuery {
    #[serde(default)]
    id: String,
}

/// GET /message?id=<offset msgId>: one message.
pub async fn view(State(state): State<AppState>, Query(q): Query<ViewQuery>) -> Page {
    let mut page = Page::new("Message", Nav::Messages, state.namesrv());
    match message_by_offset_id(state.admin(), q.id.trim()).await {
        Ok(rec) => page.body = detail_html(&rec),
        Err(e) => page.error(StatusCode::NOT_FOUND, explain(&state, &e)),
    }
    page
}

/// A message's fields, properties and body.
pub fn detail_html(rec: &MessageRecord) -> String {
    let opt = |k: &str| esc(rec.property(k).unwrap_or("-"));
    let body = plain_body(rec);
    let fields: Vec<(String, Vec<String>)> = [
        ("Topic", esc(&rec.topic)),
        ("Message id", esc(&client_msg_id(rec))),
        ("Offset message id", esc(&rec.offset_msg_id())),
        ("Tags", opt(properties::keys::TAGS)),
        ("Keys", opt(properties::keys::KEYS)),
        ("Queue", rec.queue_id.to_string()),
        ("Queue offset", rec.queue_offset.to_string()),
        (
            "Born",
            format!(
                "{} from {}",
                esc(&time(rec.born_timestamp)),
                esc(&rec.born_host.to_string())
            ),
        ),
        (
            "Stored",
            format!(
                "{} on {}",
                esc(&time(rec.store_timestamp)),
                esc(&rec.store_host.to_string())
            ),
        ),
        ("Reconsume times", rec.reconsume_times.to_string()),
        ("Body size", format!("{} bytes", body.len())),
    ]
    .into_iter()
    .map(|(k, v)| (String::new(), vec![k.to_string(), v]))
    .collect();
    let props: Vec<(String, Vec<String>)> = properties::parse(&rec.properties)
        .iter()
        .map(|(k, v)| (String::new(), vec![esc(k), esc(v)]))
        .collect();
    let body_html = match std::str::from_utf8(&body) {
        Ok(text) => format!("<pre class=\"body\" id=\"message-body\">{}</pre>", esc(text)),
        Err(_) => format!("<p class=\"hint\">Binary body, shown as hex:</p><pre class=\"body\" id=\"message-body\">{}</pre>", hex(&body)),
    };
    format!(
        "<h2>Message</h2>{}<h2>Body</h2>{body_html}<h2>Properties</h2>{}",
        table(&["Field", "Value"], &fields),
        table(&["Property", "Value"], &props)
    )
}

/// Hex in rows of 32 bytes.
fn hex(bytes: &[u8]) -> String {
    bytes
        .chunks(32)
        .map(|c| c.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_values_are_escaped_in_the_forms() {
        let s = Search {
            topic: "\"><img src=x onerror=alert(1)>".into(),
            ..Default::default()
        };
        let html = forms(&s);
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&quot;&gt;&lt;img"), "{html}");
    }

    #[test]
    fn hex_rows() {
        assert_eq!(hex(&[0, 255, 16]), "00 ff 10");
        assert_eq!(hex(&[1; 33]).lines().count(), 2);
    }
}
