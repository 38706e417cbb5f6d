//! The cluster page: every broker of every cluster with its role, address, version, liveness,
//! TPS, today's message counts and disk use; dead brokers greyed out with when they were last
//! seen; and the write-permission switch of each broker group (wipeWritePerm / addWritePerm).

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rmq_admin::namesrv::{write_perm, WritePerm};
use serde::Deserialize;

use crate::console::html::{esc, table, urlenc, Nav, Page};
use crate::console::liveness::{ago, BrokerStatus};
use crate::console::state::{explain, now_ms, AppState};

/// `?ok=` after a redirect.
#[derive(Deserialize, Default)]
pub struct Done {
    ok: Option<String>,
}

/// GET /cluster.
pub async fn page(State(state): State<AppState>, Query(done): Query<Done>) -> Page {
    let mut page = Page::new("Cluster", Nav::Cluster, state.namesrv());
    if let Some(ok) = done.ok {
        page.ok(ok);
    }
    let brokers = match state.refresh_brokers().await {
        Ok(b) => b,
        Err(e) => {
            page.error(StatusCode::BAD_GATEWAY, explain(&state, &e));
            // Still show what was seen before the name server went away.
            state.known_brokers()
        }
    };
    page.body = render(&brokers, now_ms());
    page
}

fn render(brokers: &[BrokerStatus], now: i64) -> String {
    if brokers.is_empty() {
        return "<p class=\"empty\">No broker is registered at the name server yet. Start one with \
                <code>mqbroker -n &lt;namesrv&gt;</code>.</p>"
            .into();
    }
    let rows: Vec<(String, Vec<String>)> = brokers.iter().map(|b| row(b, now)).collect();
    let mut out = String::from("<p class=\"hint\">Figures are each broker's own (GET_BROKER_RUNTIME_INFO); the page reloads every 10 s.</p>");
    out.push_str(&table(
        &[
            "Cluster",
            "Broker",
            "Role",
            "Address",
            "Version",
            "Status",
            "In TPS",
            "Out TPS",
            "Put today",
            "Get today",
            "Disk used",
            "Write permission",
        ],
        &rows,
    ));
    out.push_str("<script>setTimeout(function(){location.reload();},10000);</script>");
    out
}

fn row(b: &BrokerStatus, now: i64) -> (String, Vec<String>) {
    let role = if b.key.id == 0 {
        "MASTER".to_string()
    } else {
        format!("SLAVE ({})", b.key.id)
    };
    let seen = match b.last_seen_ms {
        Some(t) => format!("last seen {} ({})", crate::console::html::time(t), ago(now, t)),
        None => "never seen".into(),
    };
    let status = if b.up {
        "<span class=\"up\">up</span>".to_string()
    } else {
        format!(
            "<span class=\"down\">down</span> <span class=\"seen\">{}</span><br><small>{}</small>",
            esc(&seen),
            esc(b.error.as_deref().unwrap_or(""))
        )
    };
    let f = b.figures.clone().unwrap_or_default();
    let figures = b.figures.is_some();
    let num = |v: String| if figures { v } else { "-".into() };
    let perm = if b.key.id == 0 {
        let form = |action: &str, label: &str| {
            format!(
                "<form method=\"post\" action=\"/broker/perm\" class=\"inline\">\
                 <input type=\"hidden\" name=\"broker\" value=\"{}\">\
                 <input type=\"hidden\" name=\"action\" value=\"{action}\">\
                 <button type=\"submit\">{label}</button></form>",
                esc(&b.key.name)
            )
        };
        format!("{} {}", form("wipe", "Wipe"), form("add", "Add"))
    } else {
        String::new()
    };
    let class = if b.up { String::new() } else { "down".into() };
    (
        class,
        vec![
            esc(&b.key.cluster),
            esc(&b.key.name),
            role,
            esc(&b.key.addr),
            num(esc(&f.version)),
            status,
            num(format!("{:.1}", f.in_tps)),
            num(format!("{:.1}", f.out_tps)),
            num(f.put_today.to_string()),
            num(f.get_today.to_string()),
            num(format!("{:.1}%", f.disk_ratio * 100.0)),
            perm,
        ],
    )
}

/// POST /broker/perm form.
#[derive(Deserialize)]
pub struct PermForm {
    broker: String,
    action: String,
}

/// POST /broker/perm: wipeWritePerm or addWritePerm of a broker group on every name server.
pub async fn perm(State(state): State<AppState>, Form(f): Form<PermForm>) -> Response {
    let which = match f.action.as_str() {
        "wipe" => WritePerm::Wipe,
        "add" => WritePerm::Add,
        other => {
            let mut page = Page::new("Cluster", Nav::Cluster, state.namesrv());
            page.error(
                StatusCode::BAD_REQUEST,
                format!("unknown action {other:?}: use the Wipe or Add button of a master row"),
            );
            page.body = render(&state.known_brokers(), now_ms());
            return page.into_response();
        }
    };
    let mut out = String::new();
    match write_perm(state.admin(), which, &f.broker, &mut out).await {
        Ok(()) => {
            let what = match which {
                WritePerm::Wipe => "is now read-only: producers send to other brokers",
                WritePerm::Add => "accepts writes again",
            };
            let ok = format!("Broker {} {what}. {}", f.broker, out.trim());
            Redirect::to(&format!("/cluster?ok={}", urlenc(&ok))).into_response()
        }
        Err(e) => {
            let mut page = Page::new("Cluster", Nav::Cluster, state.namesrv());
            page.error(StatusCode::BAD_GATEWAY, explain(&state, &e));
            page.body = render(&state.known_brokers(), now_ms());
            page.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::liveness::{BrokerKey, Figures};

    fn status(up: bool, id: i64) -> BrokerStatus {
        BrokerStatus {
            key: BrokerKey {
                cluster: "C".into(),
                name: "broker-<a>".into(),
                id,
                addr: "127.0.0.1:10911".into(),
            },
            up,
            registered: up,
            last_seen_ms: Some(1_700_000_000_000),
            figures: Some(Figures {
                version: "V4_9_8".into(),
                in_tps: 12.34,
                ..Default::default()
            }),
            error: (!up).then(|| "connection refused".into()),
        }
    }

    #[test]
    fn live_and_dead_brokers() {
        let html = render(&[status(true, 0), status(false, 1)], 1_700_000_012_000);
        assert!(html.contains("broker-&lt;a&gt;"), "names are escaped: {html}");
        assert!(
            html.contains("<td>MASTER</td>") && html.contains("SLAVE (1)"),
            "{html}"
        );
        assert!(html.contains("<tr class=\"down\">"), "{html}");
        assert!(
            html.contains("last seen 2023-11-14 22:13:20 UTC (12 s ago)"),
            "{html}"
        );
        assert!(html.contains("connection refused"), "{html}");
        assert!(html.contains("12.3"), "{html}");
        assert_eq!(
            html.matches("action=\"/broker/perm\"").count(),
            2,
            "masters only: {html}"
        );
    }

    #[test]
    fn no_broker_says_how_to_start_one() {
        assert!(render(&[], 0).contains("mqbroker -n"));
    }
}
