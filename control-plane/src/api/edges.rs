//! The fleet routes: edges report (`POST /v1/edge/heartbeat`), operators list them
//! (`GET /v1/edges`), and a promote or rollback waits for them (`GET /v1/edges/wait`).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use switchyard_model::fleet::{Fleet, Heartbeat};

use super::extract::{Auth, JsonBody, QueryArgs};
use super::{Api, ApiError};
use crate::fleet;

/// Longest wait one request may ask for.
const MAX_WAIT: Duration = Duration::from_secs(600);

pub(super) async fn heartbeat(
    State(api): State<Api>,
    auth: Auth,
    JsonBody(report): JsonBody<Heartbeat>,
) -> Result<Response, ApiError> {
    auth.edge()?;
    fleet::validate(&report).map_err(|m| ApiError::bad_request("invalid_heartbeat", m))?;
    tracing::debug!(edge = %report.name, revision = report.revision, "heartbeat");
    api.inner
        .fleet
        .report(report)
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "fleet_full", e.to_string()))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn list(State(api): State<Api>, auth: Auth) -> Result<Response, ApiError> {
    auth.admin()?;
    let revision = api.inner.publisher.current().revision;
    let edges = api.inner.fleet.list(revision);
    Ok(axum::Json(Fleet { revision, edges }).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WaitQuery {
    revision: u64,
    /// Milliseconds to wait at most (default 30 s, at most 600 s).
    #[serde(default)]
    timeout_ms: Option<u64>,
    /// An app whose being held back on an edge counts as that edge lagging.
    #[serde(default)]
    app: Option<String>,
}

/// Long-poll: answers as soon as every healthy edge reports a revision ≥ `revision` (re-checked
/// on every heartbeat), or with `done: false` and the lagging edges at the timeout.
pub(super) async fn wait(
    State(api): State<Api>,
    auth: Auth,
    QueryArgs(q): QueryArgs<WaitQuery>,
) -> Result<Response, ApiError> {
    auth.merchant()?;
    let current = api.inner.publisher.current().revision;
    if q.revision > current {
        return Err(ApiError::bad_request(
            "invalid_revision",
            format!("revision {} is not published yet (current: {current})", q.revision),
        ));
    }
    let timeout = q.timeout_ms.map_or(Duration::from_secs(30), Duration::from_millis).min(MAX_WAIT);
    let started = tokio::time::Instant::now();
    let deadline = started + timeout;
    let mut changed = api.inner.fleet.subscribe();
    // Edges turn stale with time alone, so re-check now and then as well as on reports.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        changed.borrow_and_update();
        let progress = api.inner.fleet.progress(q.revision, q.app.as_deref(), started.into_std());
        if progress.done || tokio::time::Instant::now() >= deadline {
            return Ok(axum::Json(progress).into_response());
        }
        tokio::select! {
            r = changed.changed() => if r.is_err() { break },
            _ = tick.tick() => {},
            () = tokio::time::sleep_until(deadline) => {},
            () = api.inner.shutdown.cancelled() => break,
        }
    }
    let progress = api.inner.fleet.progress(q.revision, q.app.as_deref(), started.into_std());
    Ok(axum::Json(progress).into_response())
}
