//! Live TPS: the chart page (one chart per broker and per topic, drawn by `console.js` on a
//! canvas) and the JSON endpoint the charts poll, `/api/tps?prefix=topic/<name>/`.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::console::html::{esc, Nav, Page};
use crate::console::state::{now_ms, AppState};

/// GET /charts.
pub async fn page(State(state): State<AppState>) -> Page {
    let mut page = Page::new("Live TPS", Nav::Charts, state.namesrv());
    let (brokers, topics) = state.with_series(|s| {
        let family = |prefix: &str| -> BTreeSet<String> {
            s.with_prefix(prefix)
                .filter_map(|(k, _)| {
                    k[prefix.len()..]
                        .rsplit_once('/')
                        .map(|(name, _)| name.to_string())
                })
                .collect()
        };
        (family("broker/"), family("topic/"))
    });
    let mut body = format!(
        "<p class=\"hint\">Sampled every {} s by the console: brokers' own put/get TPS, topics' send TPS from \
         their max offsets and consume TPS from their groups' committed offsets (which consumers \
         commit every few seconds).</p>",
        state.sample_interval().as_secs_f64()
    );
    if brokers.is_empty() && topics.is_empty() {
        body.push_str("<p class=\"empty\">No sample yet: the first arrives within one interval.</p>");
    }
    body.push_str("<h2>Brokers</h2><div class=\"charts\">");
    for b in &brokers {
        body.push_str(&chart("broker", b, "put,get"));
    }
    body.push_str("</div><h2>Topics</h2><div class=\"charts\">");
    for t in &topics {
        body.push_str(&chart("topic", t, "send,consume"));
    }
    body.push_str("</div>");
    page.body = body;
    page
}

fn chart(family: &str, name: &str, labels: &str) -> String {
    format!(
        "<div class=\"chart\" id=\"chart-{family}-{n}\" data-series=\"{family}/{n}/\" data-labels=\"{labels}\">\
         <h3>{family} {n}</h3></div>",
        n = esc(name)
    )
}

/// GET /api/tps query.
#[derive(Deserialize)]
pub struct TpsQuery {
    prefix: String,
}

/// GET /api/tps reply.
#[derive(Serialize)]
pub struct TpsReply {
    /// Server time, epoch ms.
    now: i64,
    /// Sampling interval, ms.
    interval_ms: u64,
    /// Series name (after the prefix) → `[time ms, msgs/s]` points, oldest first.
    series: BTreeMap<String, Vec<(i64, f64)>>,
}

/// GET /api/tps?prefix=: the series under one prefix.
pub async fn api(State(state): State<AppState>, Query(q): Query<TpsQuery>) -> Json<TpsReply> {
    let series = state.with_series(|s| {
        s.with_prefix(&q.prefix)
            .filter(|(k, _)| !k[q.prefix.len()..].contains('/'))
            .map(|(k, v)| (k[q.prefix.len()..].to_string(), v.iter().copied().collect()))
            .collect()
    });
    Json(TpsReply {
        now: now_ms(),
        interval_ms: state.sample_interval().as_millis() as u64,
        series,
    })
}
