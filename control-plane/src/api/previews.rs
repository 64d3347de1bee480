//! Shared previews: share links to private preview and version hosts, and public channels.
//!
//! | method | path                                        | who             | what                                  |
//! |--------|---------------------------------------------|-----------------|---------------------------------------|
//! | POST   | /v1/apps/{app}/shares                       | tenant/operator | make a share link (answers the URL once) |
//! | GET    | /v1/apps/{app}/shares                       | tenant/operator | public channels and links (no tokens) |
//! | DELETE | /v1/apps/{app}/shares/{id}                  | tenant/operator | revoke a link                         |
//! | PUT    | /v1/apps/{app}/channels/{channel}/visibility | tenant/operator | make a channel public or private     |
//!
//! Security invariants:
//! - A link's token is in the answer that creates it and nowhere else: the store keeps its id
//!   and metadata only, and no log line carries it. The signing key is never in an answer.
//! - Another tenant's app is "not found" (`Api::app`), as on every route.
//! - Bad input (expiry out of range, both or neither of channel and version, `live`, a channel
//!   or version that does not exist) is a 4xx naming it and stores nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post, put};
use serde::Deserialize;
use switchyard_model::hosts::Selector;
use switchyard_model::share::{self, MAX_EXPIRY_SECS, SHARE_PARAM, ShareClaims, ShareCreated, Visibility};
use switchyard_model::{LIVE, Name, parse_version_label};

use super::extract::{Auth, JsonBody};
use super::{Api, ApiError};
use crate::store::{NewShare, ShareScope};

/// The routes of this module, merged into `api::router`.
pub(super) fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/apps/{app}/shares", post(create).get(list))
        .route("/v1/apps/{app}/shares/{id}", delete(revoke))
        .route("/v1/apps/{app}/channels/{channel}/visibility", put(visibility))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateShare {
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    version: Option<String>,
    /// Seconds the link stays valid: 1 to 30 days' worth.
    expires_in: u64,
}

fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// What a share request names, validated.
fn scope(channel: Option<&str>, version: Option<&str>) -> Result<ShareScope, ApiError> {
    match (channel, version) {
        (Some(_), Some(_)) | (None, None) => {
            Err(ApiError::bad_request("invalid_scope", "name either a channel or a version to share, not both"))
        }
        (Some(c), None) => {
            let c =
                Name::channel(c).map_err(|e| ApiError::bad_request("invalid_name", format!("channel name: {e}")))?;
            if c.as_str() == LIVE {
                return Err(unprocessable(
                    "live_is_public",
                    "the live channel is always public; share a preview channel or a version",
                ));
            }
            Ok(ShareScope::Channel(c.as_str().to_owned()))
        }
        (None, Some(v)) => parse_version_label(v)
            .map(ShareScope::Version)
            .ok_or_else(|| ApiError::bad_request("invalid_version", format!("version {v:?}: expected v<N>, like v3"))),
    }
}

fn check_expiry(expires_in: u64) -> Result<(), ApiError> {
    if expires_in == 0 || expires_in > MAX_EXPIRY_SECS {
        return Err(ApiError::bad_request(
            "invalid_expiry",
            format!("expires_in: {expires_in} seconds; a link lives from 1 second to 30 days ({MAX_EXPIRY_SECS} s)"),
        ));
    }
    Ok(())
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A new share id: 128 random bits, hex.
fn new_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub(super) async fn create(
    State(api): State<Api>,
    auth: Auth,
    Path(app): Path<String>,
    JsonBody(req): JsonBody<CreateShare>,
) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let app = api.app(&who, &app).await?;
    let scope = scope(req.channel.as_deref(), req.version.as_deref())?;
    check_expiry(req.expires_in)?;
    let Some(key) = api.inner.signing_key.as_ref() else {
        return Err(ApiError::internal("the API was built without a preview signing key"));
    };
    let id = new_id();
    let exp = unix_now() + req.expires_in;
    let (app_name, new_scope, new_id, actor) = (app.name.clone(), scope.clone(), id.clone(), who.actor());
    let info = api
        .db(move |s| s.create_share(&app, NewShare { id: &new_id, scope: new_scope, expires: exp, actor: &actor }))
        .await?;
    let claims = ShareClaims { id, app: app_name.clone(), scope: scope.label(), exp };
    let token = key.sign(&claims);
    let selector = match &scope {
        ShareScope::Channel(c) => Selector::Channel(c.clone()),
        ShareScope::Version(n) => Selector::Version(*n),
    };
    let url = format!("{}?{SHARE_PARAM}={token}", api.url(&app_name, &selector));
    tracing::info!(app = %app_name, scope = %claims.scope, share = %claims.id, expires_at = %info.expires_at, "share link created");
    let created = ShareCreated { id: claims.id, app: app_name, scope: claims.scope, url, expires_at: info.expires_at };
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

pub(super) async fn list(State(api): State<Api>, auth: Auth, Path(app): Path<String>) -> Result<Response, ApiError> {
    let app = api.app(auth.merchant()?, &app).await?;
    let previews = api.db(move |s| s.previews(&app)).await?;
    Ok(axum::Json(previews).into_response())
}

pub(super) async fn revoke(
    State(api): State<Api>,
    auth: Auth,
    Path((app, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let app = api.app(auth.merchant()?, &app).await?;
    if !share::is_share_id(&id) {
        return Err(ApiError::bad_request("invalid_id", "a share link id is 32 lowercase hex digits"));
    }
    let app_name = app.name.clone();
    let info = api.db(move |s| s.revoke_share(&app, &id)).await?;
    tracing::info!(app = %app_name, share = %info.id, "share link revoked");
    Ok(axum::Json(info).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SetVisibility {
    public: bool,
}

pub(super) async fn visibility(
    State(api): State<Api>,
    auth: Auth,
    Path((app, channel)): Path<(String, String)>,
    JsonBody(req): JsonBody<SetVisibility>,
) -> Result<Response, ApiError> {
    let app = api.app(auth.merchant()?, &app).await?;
    let channel =
        Name::channel(&channel).map_err(|e| ApiError::bad_request("invalid_name", format!("channel name: {e}")))?;
    if channel.as_str() == LIVE {
        return Err(unprocessable("live_is_public", "the live channel is always public"));
    }
    let (app_name, name) = (app.name.clone(), channel.as_str().to_owned());
    api.db(move |s| s.set_public(&app, &name, req.public)).await?;
    tracing::info!(app = %app_name, channel = %channel, public = req.public, "channel visibility set");
    let url = api.url(&app_name, &Selector::Channel(channel.as_str().to_owned()));
    let answer = Visibility { app: app_name, channel: channel.as_str().to_owned(), public: req.public, url };
    Ok(axum::Json(answer).into_response())
}

#[cfg(test)]
mod tests;
