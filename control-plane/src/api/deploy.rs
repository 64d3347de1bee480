//! Deploy: an uploaded archive becomes a new immutable version.
//!
//! Architecture Invariant (DESIGN invariant 3): the order is upload to a temporary file →
//! ingest into a staging area → commit blobs and manifest to the blob store → one SQLite
//! transaction that creates the version and moves pointers. A failure or a kill at any step
//! before the transaction leaves every version and pointer as it was; at worst, committed
//! blobs that no version names remain (harmless: content-addressed, never served).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use switchyard_bundle::Limits;
use switchyard_model::hosts::Selector;
use switchyard_model::{LIVE, Manifest, Name, PREVIEW};
use tokio::io::AsyncWriteExt;

use super::extract::{Auth, QueryArgs};
use super::{Api, ApiError};
use crate::store::NewVersion;

/// The largest upload accepted: the content limit plus the archive's own framing, which for
/// tar is up to two 512-byte blocks per file, plus slack for compression headers.
pub(super) fn max_upload_bytes(limits: &Limits) -> u64 {
    limits.max_total_bytes + limits.max_files as u64 * 1536 + 1024 * 1024
}

/// After an upload passes the limit, up to this much more is read and thrown away before the
/// 413 is sent, so that a client still sending gets the answer instead of a reset connection
/// (nginx's lingering close does the same).
const DRAIN_AFTER_LIMIT: u64 = 64 * 1024 * 1024;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct DeployQuery {
    /// Channel to point at the new version; `preview` unless `promote` is set.
    #[serde(default)]
    channel: Option<String>,
    /// Also point `live` at the new version.
    #[serde(default)]
    promote: bool,
    #[serde(default)]
    message: Option<String>,
}

pub(super) async fn deploy(
    State(api): State<Api>,
    auth: Auth,
    Path(app): Path<String>,
    QueryArgs(q): QueryArgs<DeployQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let app = api.app(&who, &app).await?;
    let channels = target_channels(q.channel.as_deref(), q.promote)?;
    check_message(q.message.as_deref())?;
    let limits = api.inner.config.limits;
    let upload = receive(&api, body, max_upload_bytes(&limits)).await?;

    let blobs = api.inner.blobs.clone();
    let ingested = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let mut staging = blobs.staging().map_err(crate::blobs::api_error)?;
        let manifest = switchyard_bundle::ingest(&upload, &mut staging, &limits).map_err(|e| {
            if e.is_client_error() {
                ApiError::bad_request("invalid_archive", e.to_string())
            } else {
                ApiError::internal(e)
            }
        })?;
        let manifest_digest = staging.write_bytes(&manifest.to_canonical_json()).map_err(ApiError::internal)?;
        let manifest_is_new = !blobs.contains(&manifest_digest).map_err(crate::blobs::api_error)?;
        // Report the bundle's files newly stored; the manifest is bookkeeping.
        let new_blobs = staging.commit().map_err(crate::blobs::api_error)?.saturating_sub(usize::from(manifest_is_new));
        drop(upload);
        Ok((manifest, manifest_digest, new_blobs))
    })
    .await
    .map_err(ApiError::internal)??;
    let (manifest, manifest_digest, new_blobs): (Manifest, _, usize) = ingested;

    let files = manifest.files.len() as u64;
    let bytes = manifest.total_bytes();
    let actor = who.actor();
    let app_name = app.name.clone();
    let channel_list = channels.clone();
    let (created, open) = api
        .db(move |s| {
            // Read first: a failure after the version is committed would hide it behind a 500.
            let open = s.open_channels(&app)?;
            let created = s.create_version(
                &app,
                NewVersion {
                    manifest: manifest_digest,
                    files,
                    bytes,
                    message: q.message.as_deref(),
                    actor: &actor,
                    channels: &channel_list,
                },
            )?;
            Ok((created, open))
        })
        .await?;
    let (number, revision) = created;
    tracing::info!(app = %app_name, version = number, files, bytes, new_blobs, revision, "version deployed");

    let body = deployed_json(&api, &app_name, created, (files, bytes, new_blobs), &manifest_digest, (&channels, open));
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The answer to a deploy (archive or finalized uploads): the version, its URLs (the
/// version's host, then each channel's) and counts. `(number, revision)` is the version made;
/// `open`, the app's public channels (`Store::open_channels`: `None` when every host is
/// public), decides `private_urls`, the URLs that open only with a share link: the version's
/// host and the channels other than `live` that are not public.
pub(super) fn deployed_json(
    api: &Api,
    app_name: &str,
    (number, revision): (u64, u64),
    (files, bytes, new_blobs): (u64, u64, usize),
    manifest_digest: &switchyard_model::Digest,
    (channels, open): (&[String], Option<Vec<String>>),
) -> serde_json::Value {
    let version_url = api.url(app_name, &Selector::Version(number));
    let channel_urls: Vec<(&String, String)> =
        channels.iter().map(|c| (c, api.url(app_name, &Selector::Channel(c.clone())))).collect();
    let private_urls: Vec<&String> = match open {
        None => Vec::new(),
        Some(open) => std::iter::once(&version_url)
            .chain(channel_urls.iter().filter(|(c, _)| c.as_str() != LIVE && !open.contains(c)).map(|(_, url)| url))
            .collect(),
    };
    let urls: Vec<&String> = std::iter::once(&version_url).chain(channel_urls.iter().map(|(_, url)| url)).collect();
    json!({
        "app": app_name,
        "version": switchyard_model::version_label(number),
        "number": number,
        "files": files,
        "bytes": bytes,
        "new_blobs": new_blobs,
        "manifest": manifest_digest,
        "channels": channels,
        "urls": urls,
        "private_urls": private_urls,
        "revision": revision,
    })
}

/// A deploy's message: at most 1000 characters, no control characters but newlines.
pub(super) fn check_message(message: Option<&str>) -> Result<(), ApiError> {
    if let Some(m) = message
        && (m.len() > 1000 || m.chars().any(|c| c.is_control() && c != '\n'))
    {
        return Err(ApiError::bad_request(
            "invalid_message",
            "message: at most 1000 characters, no control characters",
        ));
    }
    Ok(())
}

/// The channels a deploy moves: the named channel (default `preview`, or none with
/// `promote`), plus `live` with `promote`.
pub(super) fn target_channels(channel: Option<&str>, promote: bool) -> Result<Vec<String>, ApiError> {
    let mut channels = Vec::new();
    match (channel, promote) {
        (Some(c), _) => {
            let name =
                Name::channel(c).map_err(|e| ApiError::bad_request("invalid_name", format!("channel name: {e}")))?;
            channels.push(name.to_string());
        }
        (None, false) => channels.push(PREVIEW.to_owned()),
        (None, true) => {}
    }
    if promote && !channels.iter().any(|c| c == LIVE) {
        channels.push(LIVE.to_owned());
    }
    Ok(channels)
}

/// Streams the request body to a temporary file, refusing more than `limit` bytes.
async fn receive(api: &Api, body: Body, limit: u64) -> Result<tempfile::TempPath, ApiError> {
    let uploads = api.inner.config.data.join("uploads");
    let temp = tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(&uploads)
        .map_err(|e| ApiError::internal(format!("{}: {e}", uploads.display())))?
        .into_temp_path();
    let mut file = tokio::fs::OpenOptions::new().write(true).open(&temp).await.map_err(ApiError::internal)?;
    let mut received: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request("upload_failed", format!("the upload was interrupted: {e}")))?;
        received += chunk.len() as u64;
        if received > limit {
            drop(file);
            drop(temp);
            drain(&mut stream, received, limit).await;
            return Err(too_large(limit));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    if received == 0 {
        return Err(ApiError::bad_request(
            "invalid_archive",
            "the request body is empty; send a .tar.gz or .zip archive",
        ));
    }
    Ok(temp)
}

/// Reads and discards the rest of an oversized upload, up to [`DRAIN_AFTER_LIMIT`] more.
async fn drain(stream: &mut axum::body::BodyDataStream, mut received: u64, limit: u64) {
    while received <= limit + DRAIN_AFTER_LIMIT {
        match stream.next().await {
            Some(Ok(chunk)) => received += chunk.len() as u64,
            _ => return,
        }
    }
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the upload is larger than the limit of {limit} bytes"),
    )
}
