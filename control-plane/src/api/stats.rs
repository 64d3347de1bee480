//! Statistics routes: edges report counts (`POST /v1/edge/stats`), merchants read them per
//! version (`GET /v1/apps/{app}/stats?since=<seconds>`), and the operator's scraper reads the
//! control plane's own metrics (`GET /metrics`, Prometheus text format, no token: aggregate
//! numbers only, no names).

use std::fmt::Write as _;

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use switchyard_model::Name;
use switchyard_model::fleet::EdgeState;
use switchyard_model::stats::{HOUR, MAX_ENTRIES, SUM_CAP, Sketch, StatsReport, is_currency};

use super::extract::{Auth, JsonBody, QueryArgs};
use super::{Api, ApiError};
use crate::store::Applied;

/// The longest period `stats` reads back.
const MAX_SINCE: u64 = 400 * 24 * 3600;
/// The default period: a week.
const DEFAULT_SINCE: u64 = 7 * 24 * 3600;

/// Why a report is refused, naming the entry.
pub(crate) fn validate(report: &StatsReport, now: u64) -> Result<(), String> {
    if report.edge.is_empty() || report.edge.len() > 200 || report.edge.chars().any(char::is_control) {
        return Err("edge: 1 to 200 characters, no control characters".into());
    }
    if report.entries.len() > MAX_ENTRIES {
        return Err(format!("a report carries at most {MAX_ENTRIES} entries, not {}", report.entries.len()));
    }
    for (i, e) in report.entries.iter().enumerate() {
        let at = |m: String| format!("entry {i} ({} v{}): {m}", e.app, e.version);
        Name::new(&e.app).map_err(|err| at(format!("app name: {err}")))?;
        if e.version == 0 {
            return Err(at("versions start at 1".into()));
        }
        if e.hour % HOUR != 0 || e.hour > now + HOUR {
            return Err(at(format!("hour {} is not the start of a past UTC hour", e.hour)));
        }
        if e.page_views > SUM_CAP as u64 || e.conversions > SUM_CAP as u64 {
            return Err(at(format!("counts are at most {SUM_CAP}")));
        }
        for (currency, minor) in &e.revenue {
            if !is_currency(currency) || !(0..=SUM_CAP).contains(minor) {
                return Err(at(format!(
                    "revenue {currency:?} {minor}: three capital letters, hundredths from 0 to {SUM_CAP}"
                )));
            }
        }
        if let Some(hex) = &e.visitors {
            Sketch::from_hex(hex).map_err(|err| at(err.to_string()))?;
        }
    }
    Ok(())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// The body (up to 64 MiB) is read only once the token is known to be an edge's (or the
/// operator's): a tenant token gets its 403 without it.
pub(super) async fn report(State(api): State<Api>, auth: Auth, request: Request) -> Result<Response, ApiError> {
    auth.edge()?;
    let JsonBody(report) = JsonBody::<StatsReport>::from_request(request, &api).await?;
    validate(&report, unix_now()).map_err(|m| ApiError::bad_request("invalid_stats", m))?;
    let (edge, seq) = (report.edge.clone(), report.seq);
    let applied = api.db(move |s| s.apply_stats(&report)).await?;
    match applied {
        Applied::Counted(entries) => tracing::debug!(%edge, seq, entries, "stats applied"),
        Applied::Duplicate => tracing::debug!(%edge, seq, "stats report already applied"),
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StatsQuery {
    /// Seconds back from now (default a week, at most 400 days).
    #[serde(default)]
    since: Option<u64>,
}

pub(super) async fn app_stats(
    State(api): State<Api>,
    auth: Auth,
    Path(app): Path<String>,
    QueryArgs(q): QueryArgs<StatsQuery>,
) -> Result<Response, ApiError> {
    let app = api.app(auth.merchant()?, &app).await?;
    let back = q.since.unwrap_or(DEFAULT_SINCE);
    if back == 0 || back > MAX_SINCE {
        return Err(ApiError::bad_request(
            "invalid_since",
            format!("since={back}: seconds back from now, from 1 to {MAX_SINCE} (400 days)"),
        ));
    }
    let since = unix_now().saturating_sub(back);
    let stats = api.db(move |s| s.app_stats(&app, since)).await?;
    Ok(axum::Json(stats).into_response())
}

/// The control plane's metrics: revision, deploys, promotions and rollbacks (from the store,
/// so they survive restarts) and edges by state (from the fleet table).
pub(super) async fn metrics(State(api): State<Api>) -> Result<Response, ApiError> {
    let revision = api.inner.publisher.current().revision;
    let totals = api.db(|s| s.metric_totals()).await?;
    let edges = api.inner.fleet.list(revision);
    let mut out = String::with_capacity(1024);
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    metric("switchyard_control_revision", "gauge", "The published snapshot revision.", &[("", revision)]);
    metric("switchyard_control_deploys_total", "counter", "Versions created.", &[("", totals.deploys)]);
    let moves = |kind: &str| totals.moves.get(kind).copied().unwrap_or(0);
    metric(
        "switchyard_control_promotions_total",
        "counter",
        "Channel pointer moves by promote.",
        &[("", moves("promote"))],
    );
    metric(
        "switchyard_control_rollbacks_total",
        "counter",
        "Channel pointer moves by rollback.",
        &[("", moves("rollback"))],
    );
    let count = |state: EdgeState| edges.iter().filter(|e| e.state == state).count() as u64;
    let connected = count(EdgeState::InSync) + count(EdgeState::Syncing);
    metric(
        "switchyard_control_edges_connected",
        "gauge",
        "Edges that reported within the stale threshold (15 s).",
        &[("", connected)],
    );
    metric(
        "switchyard_control_edges",
        "gauge",
        "Edges known since start, by state.",
        &[
            ("{state=\"in_sync\"}", count(EdgeState::InSync)),
            ("{state=\"syncing\"}", count(EdgeState::Syncing)),
            ("{state=\"stale\"}", count(EdgeState::Stale)),
            ("{state=\"unreachable\"}", count(EdgeState::Unreachable)),
        ],
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response())
}

#[cfg(test)]
mod tests;
