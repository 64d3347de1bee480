//! Content-addressed deploys: the client sends the listing (path → SHA-256, size), uploads
//! only the blobs the store lacks, then finalizes the version.
//!
//! | method | path                                            | what                                     |
//! |--------|-------------------------------------------------|------------------------------------------|
//! | POST   | /v1/apps/{app}/deploys                          | open: listing in, deploy id + missing out |
//! | PUT    | /v1/apps/{app}/deploys/{id}/blobs/{sha256}      | one blob, verified against its digest    |
//! | POST   | /v1/apps/{app}/deploys/{id}/finalize            | build the manifest, create the version   |
//!
//! Architecture Invariants:
//! - The listing passes the same checks as an archive's entries (`switchyard_bundle::
//!   check_listing`: paths, duplicates, limits), and `_redirects`, `_headers` and
//!   `switchyard.toml` are parsed at finalize by the same functions as archive ingest.
//! - A blob is stored only if its bytes hash to the digest in the URL and their length is the
//!   size the listing declared (`put_verified`); otherwise 400 naming the digest.
//! - A deploy becomes a version only at finalize, after every blob it names is stored, in one
//!   transaction (`Store::finalize_deploy`). Blobs uploaded by a deploy that is never
//!   finalized stay unreferenced (content-addressed, never served) and make a rerun cheaper.
//! - Precompressed variants are remembered per source digest (`encodings` table), so an
//!   unchanged file is never compressed twice.
//!
//! Blob-store calls (any `BlobStore`, local or S3): `contains_many` (batched, concurrent on
//! S3), `put_verified`, `put_bytes`, `read_verified`; a store failure answers 503
//! `blob_store_unavailable` (`crate::blobs::api_error`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchyard_blob::BlobStore;

use crate::blobs::api_error as store_error;
use switchyard_bundle::{config_file, config_text, content_type_for, precompress};
use switchyard_model::{Digest, Encoded, FileEntry, Manifest};

use super::deploy::{check_message, deployed_json, target_channels};
use super::extract::{Auth, JsonBody};
use super::{Api, ApiError};
use crate::store::NewVersion;

/// One file of a listing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Listed {
    path: String,
    sha256: Digest,
    size: u64,
}

/// `POST /v1/apps/{app}/deploys`; also what the deploy row keeps.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OpenRequest {
    files: Vec<Listed>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    promote: bool,
    #[serde(default)]
    message: Option<String>,
}

fn bundle_error(e: switchyard_bundle::Error) -> ApiError {
    if e.is_client_error() { ApiError::bad_request("invalid_bundle", e.to_string()) } else { ApiError::internal(e) }
}

pub(super) async fn open(
    State(api): State<Api>,
    auth: Auth,
    Path(app): Path<String>,
    JsonBody(req): JsonBody<OpenRequest>,
) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let app = api.app(&who, &app).await?;
    target_channels(req.channel.as_deref(), req.promote)?;
    check_message(req.message.as_deref())?;
    let limits = api.inner.config.limits;
    switchyard_bundle::check_listing(req.files.iter().map(|f| (f.path.as_str(), f.size)), &limits)
        .map_err(bundle_error)?;
    // A digest listed twice must be listed with one size.
    let mut sizes: HashMap<Digest, u64> = HashMap::new();
    for f in &req.files {
        if *sizes.entry(f.sha256).or_insert(f.size) != f.size {
            return Err(ApiError::bad_request(
                "invalid_bundle",
                format!("{:?}: blob {} is listed with two different sizes", f.path, f.sha256),
            ));
        }
    }
    let blobs = api.inner.blobs.clone();
    let wanted: Vec<(Digest, u64)> = sizes.into_iter().collect();
    let (wanted, missing) = tokio::task::spawn_blocking(move || {
        let digests: Vec<Digest> = wanted.iter().map(|(d, _)| *d).collect();
        let present = blobs.contains_many(&digests)?;
        let missing: Vec<(Digest, u64)> =
            wanted.iter().zip(present).filter(|(_, stored)| !stored).map(|(w, _)| *w).collect();
        Ok::<_, switchyard_blob::Error>((wanted, missing))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(store_error)?;
    let id = new_deploy_id();
    let request = serde_json::to_string(&req).map_err(ApiError::internal)?;
    let missing_bytes: u64 = missing.iter().map(|(_, s)| s).sum();
    let (files, bytes) = (req.files.len(), req.files.iter().map(|f| f.size).sum::<u64>());
    let (deploy_id, actor, count) = (id.clone(), who.actor(), missing.len() as u64);
    let app_name = app.name.clone();
    api.db(move |s| s.open_deploy(&app, &deploy_id, &request, &wanted, count, &actor)).await?;
    tracing::info!(app = %app_name, deploy = %id, files, missing = missing.len(), "deploy opened");
    let missing: Vec<Digest> = missing.into_iter().map(|(d, _)| d).collect();
    let body = json!({
        "deploy": id,
        "files": files,
        "bytes": bytes,
        "missing": missing,
        "missing_bytes": missing_bytes,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn new_deploy_id() -> String {
    let bytes: [u8; 16] = rand::random();
    format!("dep_{}", hex::encode(bytes))
}

fn parse_digest(digest: &str) -> Result<Digest, ApiError> {
    digest.parse().map_err(|e: switchyard_model::DigestError| ApiError::bad_request("invalid_digest", e.to_string()))
}

pub(super) async fn upload(
    State(api): State<Api>,
    auth: Auth,
    Path((app, id, digest)): Path<(String, String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let app = api.app(&who, &app).await?;
    let digest = parse_digest(&digest)?;
    let deploy_id = id.clone();
    let (deploy, size) = api
        .db(move |s| {
            let deploy = s.find_deploy(&app, &deploy_id)?;
            Ok((deploy, s.deploy_blob_size(&deploy_id, &digest)?))
        })
        .await?;
    if let Some(n) = deploy.version {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("deploy {id:?} was already finalized as v{n}"),
        ));
    }
    let size = size.ok_or_else(|| ApiError::not_found(format!("deploy {id:?} does not list blob {digest}")))?;

    let mut bytes = Vec::with_capacity(size.min(64 * 1024 * 1024) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("upload_failed", format!("the upload of blob {digest} was interrupted: {e}"))
        })?;
        if bytes.len() as u64 + chunk.len() as u64 > size {
            return Err(ApiError::bad_request(
                "size_mismatch",
                format!("blob {digest}: more bytes than the {size} the listing declared; nothing was stored"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    if bytes.len() as u64 != size {
        return Err(ApiError::bad_request(
            "size_mismatch",
            format!("blob {digest}: {} bytes, the listing declared {size}; nothing was stored", bytes.len()),
        ));
    }
    let blobs = api.inner.blobs.clone();
    let stored = tokio::task::spawn_blocking(move || blobs.put_verified(&digest, &mut &bytes[..], size))
        .await
        .map_err(ApiError::internal)?;
    match stored {
        Ok(_) => Ok((StatusCode::CREATED, Json(json!({ "sha256": digest, "size": size }))).into_response()),
        Err(switchyard_blob::Error::Corrupt { expected, actual }) => Err(ApiError::bad_request(
            "digest_mismatch",
            format!("the bytes uploaded as blob {expected} hash to {actual}; nothing was stored"),
        )),
        Err(e) => Err(store_error(e)),
    }
}

pub(super) async fn finalize(
    State(api): State<Api>,
    auth: Auth,
    Path((app, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let app = api.app(&who, &app).await?;
    let (app2, deploy_id) = (app.clone(), id.clone());
    let deploy = api.db(move |s| s.find_deploy(&app2, &deploy_id)).await?;
    if let Some(n) = deploy.version {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("deploy {id:?} was already finalized as v{n}"),
        ));
    }
    let req: OpenRequest = serde_json::from_str(&deploy.request).map_err(ApiError::internal)?;
    let channels = target_channels(req.channel.as_deref(), req.promote)?;

    // Every listed blob must be stored; configuration files are read and parsed.
    let blobs = api.inner.blobs.clone();
    let files = req.files.clone();
    let (entries, configs) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let digests: Vec<Digest> = files.iter().map(|f| f.sha256).collect();
        let present = blobs.contains_many(&digests).map_err(store_error)?;
        let missing: Vec<&Listed> = files.iter().zip(present).filter(|(_, stored)| !stored).map(|(f, _)| f).collect();
        if !missing.is_empty() {
            let first: Vec<String> = missing.iter().take(3).map(|f| format!("{} ({})", f.path, f.sha256)).collect();
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "incomplete",
                format!("{} listed files are not uploaded yet, e.g. {}", missing.len(), first.join(", ")),
            ));
        }
        let mut entries = BTreeMap::new();
        let mut configs = Vec::new();
        for f in files {
            if let Some(name) = config_file(&f.path) {
                let bytes = blobs.read_verified(&f.sha256).map_err(store_error)?;
                configs.push((name, config_text(name, bytes).map_err(bundle_error)?));
                continue;
            }
            let content_type = content_type_for(&f.path).to_owned();
            entries.insert(f.path, FileEntry { sha256: f.sha256, size: f.size, content_type, encodings: Vec::new() });
        }
        Ok((entries, configs))
    })
    .await
    .map_err(ApiError::internal)??;
    let site = switchyard_bundle::site_rules(&configs, &entries).map_err(bundle_error)?;

    let entries = precompress_all(&api, entries).await?;
    let mut manifest = Manifest::new(entries);
    manifest.site = site;
    let blobs = api.inner.blobs.clone();
    let json = manifest.to_canonical_json();
    let manifest_digest = tokio::task::spawn_blocking(move || blobs.put_bytes(&json))
        .await
        .map_err(ApiError::internal)?
        .map_err(store_error)?;

    let files = manifest.files.len() as u64;
    let bytes = manifest.total_bytes();
    let actor = who.actor();
    let app_name = app.name.clone();
    let channel_list = channels.clone();
    let deploy_id = id.clone();
    let (created, open) = api
        .db(move |s| {
            // Read first: a failure after the version is committed would hide it behind a 500.
            let open = s.open_channels(&app)?;
            let created = s.finalize_deploy(
                &app,
                &deploy_id,
                NewVersion {
                    manifest: manifest_digest,
                    files,
                    bytes,
                    message: req.message.as_deref(),
                    actor: &actor,
                    channels: &channel_list,
                },
            )?;
            Ok((created, open))
        })
        .await?;
    let (number, revision) = created;
    let new_blobs = deploy.missing as usize;
    tracing::info!(app = %app_name, deploy = %id, version = number, files, bytes, new_blobs, revision, "deploy finalized");
    let body = deployed_json(&api, &app_name, created, (files, bytes, new_blobs), &manifest_digest, (&channels, open));
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Fills in the precompressed variants of every compressible file: remembered ones from the
/// `encodings` table (when their blobs are still stored), the rest compressed now on every
/// core, stored, then remembered.
async fn precompress_all(
    api: &Api,
    mut entries: BTreeMap<String, FileEntry>,
) -> Result<BTreeMap<String, FileEntry>, ApiError> {
    let sources: Vec<Digest> = entries
        .values()
        .filter(|e| precompress::worth_trying(&e.content_type))
        .map(|e| e.sha256)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let lookup = sources.clone();
    let cached = api.db(move |s| s.cached_encodings(&lookup)).await?;
    let blobs = api.inner.blobs.clone();
    let (known, fresh) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let mut known: HashMap<Digest, Vec<Encoded>> = HashMap::new();
        let mut todo = Vec::new();
        // Variants remembered for a source count only while every one of them is stored.
        let remembered: Vec<Digest> = cached.values().flatten().map(|e| e.sha256).collect();
        let stored: HashSet<Digest> = remembered
            .iter()
            .zip(blobs.contains_many(&remembered).map_err(store_error)?)
            .filter(|(_, stored)| *stored)
            .map(|(d, _)| *d)
            .collect();
        for source in sources {
            match cached.get(&source) {
                Some(v) if v.iter().all(|e| stored.contains(&e.sha256)) => {
                    known.insert(source, v.clone());
                }
                _ => todo.push(source),
            }
        }
        let fresh = compress_in_parallel(&*blobs, &todo)?;
        for (source, variants) in &fresh {
            known.insert(*source, variants.clone());
        }
        Ok((known, fresh))
    })
    .await
    .map_err(ApiError::internal)??;
    if !fresh.is_empty() {
        api.db(move |s| s.remember_encodings(&fresh)).await?;
    }
    for entry in entries.values_mut() {
        if let Some(variants) = known.get(&entry.sha256) {
            entry.encodings = variants.clone();
        }
    }
    Ok(entries)
}

fn compress_in_parallel(blobs: &dyn BlobStore, todo: &[Digest]) -> Result<Vec<(Digest, Vec<Encoded>)>, ApiError> {
    let next = AtomicUsize::new(0);
    let out = Mutex::new(Vec::with_capacity(todo.len()));
    let failed = Mutex::new(None);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(todo.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(source) = todo.get(i) else { return };
                    match compress_one(blobs, source) {
                        Ok(variants) => out.lock().unwrap_or_else(|p| p.into_inner()).push((*source, variants)),
                        Err(e) => {
                            *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            next.store(todo.len(), Ordering::Relaxed);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(store_error(e));
    }
    Ok(out.into_inner().unwrap_or_else(|p| p.into_inner()))
}

fn compress_one(blobs: &dyn BlobStore, source: &Digest) -> Result<Vec<Encoded>, switchyard_blob::Error> {
    let bytes = blobs.read_verified(source)?;
    let mut encodings = Vec::new();
    for (encoding, encoded) in precompress::variants(&bytes) {
        let sha256 = blobs.put_bytes(&encoded)?;
        encodings.push(Encoded { encoding, sha256, size: encoded.len() as u64 });
    }
    Ok(encodings)
}
