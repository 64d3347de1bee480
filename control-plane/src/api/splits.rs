//! Traffic splits of the live channel: `PUT /v1/apps/{app}/split` starts one (or replaces the
//! one in force), `GET /v1/apps/{app}/split` shows it with the app's split history. A move of
//! `live` ends a split (see `store::splits`).
//!
//! Invariant: a refused split (shape, unknown version, no live channel) is a 422 naming the
//! culprit and changes nothing: no row, no revision.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use switchyard_model::api::SplitRequest;

use super::extract::{Auth, JsonBody};
use super::{Api, ApiError};
use crate::store::splits;

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_split", message)
}

pub(super) async fn set_split(
    State(api): State<Api>,
    auth: Auth,
    Path(app): Path<String>,
    JsonBody(req): JsonBody<SplitRequest>,
) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let app = api.app(&who, &app).await?;
    let shares = splits::check_shape(&req.weights).map_err(refused)?;
    let (app_name, actor) = (app.name.clone(), who.actor());
    let split = api.db(move |s| s.set_split(&app, &shares, &actor)).await?.map_err(|r| refused(String::from(r)))?;
    tracing::info!(app = %app_name, weights = ?split.weights, revision = split.revision, "traffic split set");
    Ok(axum::Json(split).into_response())
}

pub(super) async fn get_split(
    State(api): State<Api>,
    auth: Auth,
    Path(app): Path<String>,
) -> Result<Response, ApiError> {
    let app = api.app(auth.merchant()?, &app).await?;
    let state = api.db(move |s| s.split_state(&app)).await?;
    Ok(axum::Json(state).into_response())
}

#[cfg(test)]
mod tests;
