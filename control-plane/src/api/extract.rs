//! Request extractors whose rejections are API errors (JSON bodies, named causes).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{Api, ApiError};
use crate::auth::{Principal, TokenHash};

/// The authenticated caller. Missing or unknown tokens are 401.
pub(super) struct Auth(pub(super) Principal);

impl FromRequestParts<Api> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, ApiError> {
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| unauthorized("missing bearer token"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
        let hash = TokenHash::of(token);
        let principal = api.db(move |store| store.authenticate(&hash)).await?;
        let principal = principal.ok_or_else(|| unauthorized("unknown or revoked token"))?;
        tracing::Span::current().record("actor", principal.actor());
        Ok(Auth(principal))
    }
}

impl Auth {
    pub(super) fn admin(&self) -> Result<(), ApiError> {
        match self.0 {
            Principal::Admin => Ok(()),
            _ => Err(ApiError::forbidden("this needs the operator token")),
        }
    }

    /// Merchants and the operator; edges may not use the merchant API.
    pub(super) fn merchant(&self) -> Result<&Principal, ApiError> {
        match self.0 {
            Principal::Edge { .. } => Err(ApiError::forbidden("edge tokens may only read snapshots and blobs")),
            ref p => Ok(p),
        }
    }

    /// Edges and the operator.
    pub(super) fn edge(&self) -> Result<(), ApiError> {
        match self.0 {
            Principal::Edge { .. } | Principal::Admin => Ok(()),
            Principal::Tenant { .. } => Err(ApiError::forbidden("this needs an edge token")),
        }
    }
}

/// `Json<T>` whose rejection names the problem in the API's error format.
pub(super) struct JsonBody<T>(pub(super) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(rejection) => Err(ApiError::new(rejection.status(), "invalid_json", rejection.body_text())),
        }
    }
}

/// `Query<T>` whose rejection names the problem in the API's error format.
pub(super) struct QueryArgs<T>(pub(super) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryArgs<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(QueryArgs(v)),
            Err(rejection) => Err(ApiError::bad_request("invalid_query", rejection.body_text())),
        }
    }
}

/// A JSON body that may be absent: an empty body is `T::default()`.
pub(super) fn optional_json<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("invalid_json", format!("request body: {e}")))
}
