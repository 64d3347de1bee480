//! Where an edge fetches blobs from: the control plane (default, `GET /v1/blobs/{sha256}`) or
//! straight from the platform's S3 bucket (`[origin] kind = "s3"`, read-only credentials), so
//! that the control plane is not in the data path of a large fleet.
//!
//! Architecture Invariant: whichever origin, a blob's bytes are hashed and checked against its
//! digest before they enter the edge's cache (the S3 backend checks on read, the cache again on
//! write); a blob altered in the bucket is refused and the edge keeps its current snapshot.

use std::path::Path;

use anyhow::Context;
use bytes::Bytes;
use serde::Deserialize;
use switchyard_blob::{S3BlobStore, S3Config, S3Settings};
use switchyard_model::Digest;

/// The `[origin]` section as written.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum OriginSection {
    ControlPlane(ControlPlaneSection),
    S3(S3Settings),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlaneSection {}

/// Validated origin settings.
#[derive(Debug, Clone, Default)]
pub enum OriginConfig {
    #[default]
    ControlPlane,
    S3(S3Config),
}

impl OriginConfig {
    pub(crate) fn from_section(section: Option<OriginSection>) -> anyhow::Result<OriginConfig> {
        Ok(match section {
            None | Some(OriginSection::ControlPlane(_)) => OriginConfig::ControlPlane,
            Some(OriginSection::S3(settings)) => OriginConfig::S3(settings.resolve().context("[origin] section")?),
        })
    }
}

/// An open origin.
pub(crate) enum Origin {
    ControlPlane,
    S3(S3BlobStore),
}

impl Origin {
    /// Sets up the origin (no request is sent; a bucket that cannot be read is reported in
    /// the background and by every failed sync). Must be called within a Tokio runtime.
    pub(crate) fn open(config: &OriginConfig, cache_dir: &Path) -> anyhow::Result<Origin> {
        match config {
            OriginConfig::ControlPlane => Ok(Origin::ControlPlane),
            OriginConfig::S3(s3) => {
                let store =
                    S3BlobStore::new(s3.clone(), &cache_dir.join("s3-tmp")).context("setting up the S3 origin")?;
                let probe = store.clone();
                tokio::spawn(async move {
                    match probe.check(std::time::Duration::from_secs(20), false).await {
                        Ok(()) => tracing::info!(origin = %probe.url(), "fetching blobs straight from the bucket"),
                        Err(error) => tracing::warn!(%error, origin = %probe.url(), "the S3 origin cannot be read"),
                    }
                });
                Ok(Origin::S3(store))
            }
        }
    }

    /// Fetches a blob from the bucket, hash-verified; `None` when blobs come from the control
    /// plane instead.
    pub(crate) async fn fetch(&self, digest: Digest, limit: u64) -> Option<Result<Bytes, switchyard_blob::Error>> {
        match self {
            Origin::ControlPlane => None,
            Origin::S3(store) => Some(store.get_verified(&digest, limit).await),
        }
    }
}
