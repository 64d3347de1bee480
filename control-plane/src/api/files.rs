//! `GET /v1/apps/{app}/versions/{version}/files`: a version's files (path → sha256, size,
//! content type), read from its manifest. What `switchyard diff` compares.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchyard_model::{Digest, Manifest, parse_version_label};

use super::extract::Auth;
use super::{Api, ApiError};

pub(super) async fn version_files(
    State(api): State<Api>,
    auth: Auth,
    Path((app, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let app = api.app(auth.merchant()?, &app).await?;
    let number = parse_version_label(&version).ok_or_else(|| {
        ApiError::bad_request("invalid_version", format!("version {version:?}: expected v<N>, like v3"))
    })?;
    let name = app.name.clone();
    let versions = api.db(move |s| s.list_versions(&app)).await?;
    let found = versions.into_iter().find(|v| v.number == number);
    let info = found.ok_or_else(|| ApiError::not_found(format!("app {name:?} has no version v{number}")))?;
    let digest: Digest = info.manifest.parse().map_err(ApiError::internal)?;
    let blobs = api.inner.blobs.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.read_verified(&digest))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let manifest = Manifest::from_json(&bytes).map_err(ApiError::internal)?;
    let files: serde_json::Map<String, serde_json::Value> = manifest
        .files
        .into_iter()
        .map(|(path, f)| (path, json!({ "sha256": f.sha256, "size": f.size, "content_type": f.content_type })))
        .collect();
    Ok(Json(json!({ "version": info.version, "files": files })).into_response())
}
