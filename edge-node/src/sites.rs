//! The routing table an edge serves from: host name → site (one version of one app) →
//! path → file. Built off the request path from a snapshot and the local cache, then swapped
//! in whole.
//!
//! Architecture Invariants:
//! - A [`Routes`] value is complete: every file it names has its bytes in memory or in the
//!   local cache. It is built only after everything it needs is fetched and verified.
//! - Served paths are looked up in the manifest's map; nothing here joins a request path onto
//!   the filesystem. Disk paths come from digests only.
//! - Everything that does not depend on the request (content type, ETag, app and version
//!   headers) is built once here, not per request.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderValue;
use switchyard_blob::LocalBlobStore;
use switchyard_model::hosts::{Selector, platform_host};
use switchyard_model::{Digest, LIVE, Manifest, Snapshot, version_label};

/// Files up to this size are kept in memory; larger ones are streamed from the cache.
pub const IN_MEMORY_MAX: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("manifest {digest} of {app} v{version}: {source}")]
    Manifest {
        app: String,
        version: u64,
        digest: Digest,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("blob {digest} ({app}/{path}): {source}")]
    Blob {
        app: String,
        path: String,
        digest: Digest,
        source: Box<switchyard_blob::Error>,
    },
}

/// What one snapshot routes, ready to serve.
#[derive(Default)]
pub struct Routes {
    pub revision: u64,
    hosts: HashMap<String, Arc<Site>>,
    /// Blob bodies by digest, shared by every version that holds the same bytes.
    bodies: HashMap<Digest, Arc<BlobBody>>,
}

/// One version of one app.
pub struct Site {
    pub app: String,
    pub version: u64,
    pub app_header: HeaderValue,
    pub version_header: HeaderValue,
    files: HashMap<String, File>,
}

/// A file of a version, with its prebuilt headers.
pub struct File {
    pub body: Arc<BlobBody>,
    pub size: u64,
    pub content_type: HeaderValue,
    /// Strong ETag: the quoted SHA-256 of the bytes.
    pub etag: HeaderValue,
}

/// Where a blob's bytes are.
pub enum BlobBody {
    Memory(Bytes),
    Disk(PathBuf),
}

impl Routes {
    /// Builds the routing table for `snapshot` from manifests and blobs already in `cache`.
    /// Bodies already loaded by `previous` are reused rather than read again.
    pub fn build(
        snapshot: &Snapshot,
        cache: &LocalBlobStore,
        base_domain: &str,
        previous: &Routes,
    ) -> Result<Routes, BuildError> {
        let mut routes = Routes {
            revision: snapshot.revision,
            hosts: HashMap::new(),
            bodies: HashMap::new(),
        };
        for (app, state) in &snapshot.apps {
            let mut sites: HashMap<u64, Arc<Site>> = HashMap::new();
            for (&version, digest) in &state.versions {
                let manifest =
                    load_manifest(cache, digest).map_err(|source| BuildError::Manifest {
                        app: app.clone(),
                        version,
                        digest: *digest,
                        source,
                    })?;
                let site = routes.site(app, version, &manifest, cache, previous)?;
                let site = Arc::new(site);
                routes.hosts.insert(
                    platform_host(app, &Selector::Version(version), base_domain),
                    site.clone(),
                );
                sites.insert(version, site);
            }
            for (channel, version) in &state.channels {
                if let Some(site) = sites.get(version) {
                    routes.hosts.insert(
                        platform_host(app, &Selector::Channel(channel.clone()), base_domain),
                        site.clone(),
                    );
                }
            }
            debug_assert!(
                state
                    .channels
                    .get(LIVE)
                    .is_none_or(|v| sites.contains_key(v))
            );
        }
        Ok(routes)
    }

    fn site(
        &mut self,
        app: &str,
        version: u64,
        manifest: &Manifest,
        cache: &LocalBlobStore,
        previous: &Routes,
    ) -> Result<Site, BuildError> {
        let mut files = HashMap::with_capacity(manifest.files.len());
        for (path, entry) in &manifest.files {
            let body = match self
                .bodies
                .get(&entry.sha256)
                .or_else(|| previous.bodies.get(&entry.sha256))
            {
                Some(body) => body.clone(),
                None => {
                    let blob_err = |source| BuildError::Blob {
                        app: app.to_owned(),
                        path: path.clone(),
                        digest: entry.sha256,
                        source: Box::new(source),
                    };
                    let body = if entry.size <= IN_MEMORY_MAX {
                        BlobBody::Memory(Bytes::from(
                            cache.read_verified(&entry.sha256).map_err(blob_err)?,
                        ))
                    } else if cache.contains(&entry.sha256) {
                        BlobBody::Disk(cache.path(&entry.sha256))
                    } else {
                        return Err(blob_err(switchyard_blob::Error::NotFound {
                            digest: entry.sha256,
                        }));
                    };
                    Arc::new(body)
                }
            };
            self.bodies.insert(entry.sha256, body.clone());
            let content_type = HeaderValue::from_str(&entry.content_type)
                .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
            let etag = HeaderValue::from_str(&format!("\"{}\"", entry.sha256))
                .expect("hex is a valid header value");
            files.insert(
                path.clone(),
                File {
                    body,
                    size: entry.size,
                    content_type,
                    etag,
                },
            );
        }
        Ok(Site {
            app: app.to_owned(),
            version,
            app_header: HeaderValue::from_str(app).expect("app names are DNS labels"),
            version_header: HeaderValue::from_str(&version_label(version)).expect("ascii"),
            files,
        })
    }

    /// The site for a normalized host name.
    pub fn site_for(&self, host: &str) -> Option<&Arc<Site>> {
        self.hosts.get(host)
    }

    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }
}

impl Site {
    /// The file at a manifest path (no leading slash).
    pub fn file(&self, path: &str) -> Option<&File> {
        self.files.get(path)
    }
}

fn load_manifest(
    cache: &LocalBlobStore,
    digest: &Digest,
) -> Result<Manifest, Box<dyn std::error::Error + Send + Sync>> {
    let bytes = cache.read_verified(digest)?;
    Ok(Manifest::from_json(&bytes)?)
}
