//! The platform blob store: which backend the `[blob]` config section selects, the start-up
//! check that refuses to start on a store that cannot be used, and `migrate-blobs`, which
//! copies a local store into a bucket.
//!
//! Architecture Invariant: the control plane never starts on an S3 store it has not just
//! written to, read back (hash-verified) and deleted from; a missing bucket, refused
//! credentials or an unreachable endpoint stop it at start-up with a message naming which.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use switchyard_blob::{LocalBlobStore, S3BlobStore, S3Config, S3Settings, SharedBlobStore};

use crate::Config;
use crate::api::ApiError;

/// How long the start-up check of an S3 store may take in all.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// The `[blob]` section as written: `kind = "fs"` (default) or `kind = "s3"`.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum BlobSection {
    Fs(FsSection),
    S3(S3Settings),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FsSection {
    /// Directory of the store [default: the data directory].
    path: Option<PathBuf>,
}

/// Validated blob store settings.
#[derive(Debug, Clone)]
pub enum BlobConfig {
    /// Blobs under `<path>/blobs`.
    Fs {
        path: PathBuf,
    },
    S3(S3Config),
}

impl BlobConfig {
    pub(crate) fn from_section(section: Option<BlobSection>, data: &Path) -> anyhow::Result<BlobConfig> {
        Ok(match section {
            None | Some(BlobSection::Fs(FsSection { path: None })) => BlobConfig::Fs { path: data.to_owned() },
            Some(BlobSection::Fs(FsSection { path: Some(path) })) => BlobConfig::Fs { path },
            Some(BlobSection::S3(settings)) => BlobConfig::S3(settings.resolve().context("[blob] section")?),
        })
    }
}

/// Opens the configured store. An S3 store is checked first (HeadBucket, then a tiny
/// put/get/delete) within [`CHECK_TIMEOUT`]; any failure is an error naming the store.
/// Must run on a multi-threaded Tokio runtime.
pub fn open(config: &Config) -> anyhow::Result<SharedBlobStore> {
    match &config.blob {
        BlobConfig::Fs { path } => {
            let store =
                LocalBlobStore::open(path).with_context(|| format!("opening the blob store in {}", path.display()))?;
            Ok(Arc::new(store))
        }
        BlobConfig::S3(s3) => {
            let store = open_s3(s3, &config.data)?;
            let check = store.check(CHECK_TIMEOUT, true);
            tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(check)).with_context(|| {
                format!("the blob store {} is not usable, so the control plane will not start", store.url())
            })?;
            tracing::info!(store = %store.url(), "blob store checked");
            Ok(Arc::new(store))
        }
    }
}

fn open_s3(s3: &S3Config, data: &Path) -> anyhow::Result<S3BlobStore> {
    // Staged uploads live here until committed to the bucket; leftovers of a dead process go.
    let tmp = data.join("s3-staging");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("clearing {}", tmp.display()))?;
    }
    S3BlobStore::new(s3.clone(), &tmp).context("setting up the S3 client")
}

/// What the API answers when the blob store fails: an unreachable or refusing S3 store is a
/// 503 the client may retry; details go to the log, not to the client.
pub(crate) fn api_error(error: switchyard_blob::Error) -> ApiError {
    match error {
        switchyard_blob::Error::S3 { .. } => {
            tracing::warn!(%error, "blob store request failed");
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "blob_store_unavailable",
                "the blob store is unavailable; nothing was published, try again later",
            )
        }
        other => ApiError::internal(other),
    }
}

/// Counts reported by [`migrate`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Migrated {
    pub total: usize,
    pub already: usize,
    pub copied: usize,
    pub corrupt: usize,
}

/// `migrate-blobs --to s3`: copies every blob of the local store in `from` to the bucket of
/// `config`'s `[blob]` section. Resumable: blobs already in the bucket are skipped, and an
/// interrupted copy leaves no partial object. Each blob's hash is checked before it is sent
/// (a corrupt local blob is reported and not copied) and again by the store on receipt.
pub async fn migrate(config: &Config, from: &Path) -> anyhow::Result<Migrated> {
    let BlobConfig::S3(s3) = &config.blob else {
        bail!("migrate-blobs --to s3 needs the target in the config file: [blob] kind = \"s3\", bucket = ...");
    };
    if !from.join("blobs").is_dir() {
        bail!("{} holds no local blob store (no blobs/ directory)", from.display());
    }
    let local =
        LocalBlobStore::open(from).with_context(|| format!("opening the local blob store {}", from.display()))?;
    let target = open_s3(s3, &config.data)?;
    target
        .check(CHECK_TIMEOUT, true)
        .await
        .with_context(|| format!("the blob store {} is not usable", target.url()))?;

    let digests = tokio::task::spawn_blocking({
        let local = local.clone();
        move || local.list()
    })
    .await?
    .context("listing the local blobs")?;
    let present = target.exists_many(&digests).await.context("checking which blobs the bucket holds")?;
    let missing: Vec<_> = digests.iter().zip(&present).filter(|(_, p)| !**p).map(|(d, _)| *d).collect();
    let mut counts = Migrated { total: digests.len(), already: digests.len() - missing.len(), ..Migrated::default() };
    let results: Vec<bool> = futures_util::stream::iter(missing)
        .map(|digest| {
            let (local, target) = (local.clone(), target.clone());
            async move {
                let path = local.path(&digest);
                let check = tokio::task::spawn_blocking(move || local.read_verified(&digest).map(drop)).await?;
                match check {
                    Ok(()) => {}
                    Err(error @ switchyard_blob::Error::Corrupt { .. }) => {
                        tracing::error!(%error, path = %path.display(), "local blob is corrupt; not copied");
                        return Ok(false);
                    }
                    Err(e) => return Err(anyhow::Error::new(e)),
                }
                target.put_file(&digest, &path).await.with_context(|| format!("copying blob {digest}"))?;
                anyhow::Ok(true)
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    counts.copied = results.iter().filter(|ok| **ok).count();
    counts.corrupt = results.len() - counts.copied;
    Ok(counts)
}

#[cfg(test)]
mod tests;
