//! The HTTP side: the routes and [`run`], which serves until the shutdown token fires. Static
//! assets are compiled into the binary.

use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::pages::{charts, cluster, groups, messages, topics};
use super::state::AppState;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// Every route of the console.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/cluster") }))
        .route("/cluster", get(cluster::page))
        .route("/broker/perm", post(cluster::perm))
        .route("/topics", get(topics::list).post(topics::save))
        .route("/topic", get(topics::detail))
        .route("/topic/delete", post(topics::delete))
        .route("/groups", get(groups::list))
        .route("/group", get(groups::detail))
        .route("/group/reset", post(groups::reset))
        .route("/messages", get(messages::search))
        .route("/message", get(messages::view))
        .route("/charts", get(charts::page))
        .route("/api/tps", get(charts::api))
        .route(
            "/static/console.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response() }),
        )
        .route(
            "/static/console.js",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], JS).into_response()
            }),
        )
        .with_state(state)
}

/// Serves `listener` until `shutdown` fires.
pub async fn run(listener: TcpListener, state: AppState, shutdown: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
