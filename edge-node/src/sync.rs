//! Following the control plane: long-poll for a newer revision, prefetch every manifest and
//! blob it needs into the local cache (verifying each against its digest), build the routing
//! table, swap it in with one store, then persist the snapshot.
//!
//! Architecture Invariants:
//! - Swap happens only after every blob of the new snapshot is in the cache (DESIGN 2, 3).
//! - A blob is accepted into the cache only if its bytes hash to its digest (DESIGN 1).
//! - The persisted snapshot is written after the swap and only ever names cached blobs, so an
//!   edge restarted without the control plane serves it at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use futures_util::StreamExt;
use switchyard_blob::LocalBlobStore;
use switchyard_model::{Digest, Manifest, Snapshot};
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::memory::MemoryCache;
use crate::origin::Origin;
use crate::sites::{BuildError, Routes};

/// How long one long-poll asks the control plane to wait.
const POLL_WAIT_SECS: u64 = 25;
/// Largest blob an edge accepts (the control plane's per-file limit is lower).
const MAX_BLOB: u64 = 1 << 30;
/// Blob downloads in flight at once.
const FETCH_CONCURRENCY: usize = 16;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    #[error("control plane unreachable at {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("control plane answered {status} for {url}: {body}")]
    Status { url: String, status: reqwest::StatusCode, body: String },
    #[error("snapshot from the control plane is not valid: {0}")]
    BadSnapshot(serde_json::Error),
    #[error("manifest {digest}: {reason}")]
    BadManifest { digest: Digest, reason: String },
    #[error("blob {digest}: {source}")]
    Blob { digest: Digest, source: Box<switchyard_blob::Error> },
    #[error(transparent)]
    Build(#[from] Box<BuildError>),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

pub(crate) struct Syncer {
    config: Config,
    client: reqwest::Client,
    cache: LocalBlobStore,
    memory: Arc<MemoryCache>,
    routes: Arc<ArcSwap<Routes>>,
    origin: Origin,
}

impl Syncer {
    pub(crate) fn new(
        config: Config,
        cache: LocalBlobStore,
        memory: Arc<MemoryCache>,
        routes: Arc<ArcSwap<Routes>>,
    ) -> anyhow::Result<Syncer> {
        let origin = Origin::open(&config.origin, &config.cache_dir)?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("switchyard-edge/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with static settings builds");
        Ok(Syncer { config, client, cache, memory, routes, origin })
    }

    fn snapshot_path(&self) -> PathBuf {
        self.config.cache_dir.join("snapshot.json")
    }

    /// Builds routes from the snapshot persisted by an earlier run, if any, so the edge
    /// serves before (and without) reaching the control plane.
    pub(crate) fn restore(&self) {
        let path = self.snapshot_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(error) => {
                return tracing::warn!(%error, path = %path.display(), "cannot read the persisted snapshot");
            }
        };
        let restored = serde_json::from_slice::<Snapshot>(&bytes).map_err(SyncError::BadSnapshot).and_then(|s| {
            Routes::build(&s, &self.cache, &self.memory, &self.config.base_domain, &Routes::default())
                .map_err(|e| SyncError::Build(Box::new(e)))
        });
        match restored {
            Ok(routes) => {
                tracing::info!(
                    revision = routes.revision,
                    hosts = routes.host_count(),
                    "serving the persisted snapshot"
                );
                self.routes.store(Arc::new(routes));
            }
            Err(error) => {
                tracing::warn!(%error, "persisted snapshot unusable; waiting for the control plane")
            }
        }
    }

    /// Follows the control plane until `shutdown`.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let after = self.routes.load().revision;
            let step = tokio::select! {
                step = self.poll(after) => step,
                () = shutdown.cancelled() => return,
            };
            let result = match step {
                Ok(None) => Ok(()),
                Ok(Some(snapshot)) => {
                    let started = std::time::Instant::now();
                    let revision = snapshot.revision;
                    self.apply(snapshot).await.inspect(|()| {
                        tracing::info!(revision, elapsed_ms = started.elapsed().as_millis() as u64, "applied snapshot");
                    })
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "sync failed");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {},
                        () = shutdown.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// One long-poll: `Some` snapshot newer than `after`, or `None` if the wait ran out.
    async fn poll(&self, after: u64) -> Result<Option<Snapshot>, SyncError> {
        let url = format!("{}/v1/edge/snapshot", self.config.control_plane);
        let unreachable = |source| SyncError::Unreachable { url: url.clone(), source };
        let response = self
            .client
            .get(&url)
            .query(&[("after", after), ("wait", POLL_WAIT_SECS)])
            .bearer_auth(&self.config.token)
            .timeout(Duration::from_secs(POLL_WAIT_SECS + 10))
            .send()
            .await
            .map_err(unreachable)?;
        match response.status() {
            reqwest::StatusCode::NO_CONTENT => Ok(None),
            reqwest::StatusCode::OK => {
                let bytes = response.bytes().await.map_err(unreachable)?;
                Ok(Some(serde_json::from_slice(&bytes).map_err(SyncError::BadSnapshot)?))
            }
            status => Err(SyncError::Status { url, status, body: response.text().await.unwrap_or_default() }),
        }
    }

    /// Prefetches, builds, swaps, persists.
    async fn apply(&self, snapshot: Snapshot) -> Result<(), SyncError> {
        let manifests = snapshot.manifest_digests();
        self.fetch_all(&manifests).await?;
        let mut blobs = Vec::new();
        for digest in &manifests {
            let manifest = self.read_manifest(digest).await?;
            blobs.extend(manifest.blobs());
        }
        blobs.sort_unstable();
        blobs.dedup();
        self.fetch_all(&blobs).await?;

        let (cache, memory) = (self.cache.clone(), self.memory.clone());
        let base = self.config.base_domain.clone();
        let previous = self.routes.load_full();
        let old = previous.clone();
        let (snapshot, routes) = tokio::task::spawn_blocking(move || {
            let routes = Routes::build(&snapshot, &cache, &memory, &base, &old);
            (snapshot, routes)
        })
        .await
        .expect("building routes does not panic");
        let routes = Arc::new(routes.map_err(Box::new)?);
        self.routes.store(routes.clone());
        // Bodies only the old routes held leave memory once no request can reach them.
        let (cache, memory) = (self.cache.clone(), self.memory.clone());
        tokio::task::spawn_blocking(move || memory.maintain(routes.bodies(), previous.dropped_by(&routes), &cache));
        self.persist(&snapshot).await
    }

    async fn read_manifest(&self, digest: &Digest) -> Result<Manifest, SyncError> {
        let cache = self.cache.clone();
        let digest = *digest;
        let bytes = tokio::task::spawn_blocking(move || cache.read_verified(&digest))
            .await
            .expect("reading does not panic")
            .map_err(|source| SyncError::Blob { digest, source: Box::new(source) })?;
        Manifest::from_json(&bytes).map_err(|e| SyncError::BadManifest { digest, reason: e.to_string() })
    }

    /// Downloads every digest not yet in the cache, a bounded number at a time.
    async fn fetch_all(&self, digests: &[Digest]) -> Result<(), SyncError> {
        let missing: Vec<Digest> = digests.iter().filter(|d| !self.cache.contains(d)).copied().collect();
        if missing.is_empty() {
            return Ok(());
        }
        tracing::debug!(count = missing.len(), "fetching blobs");
        let mut fetches =
            futures_util::stream::iter(missing).map(|d| self.fetch_with_retries(d)).buffer_unordered(FETCH_CONCURRENCY);
        while let Some(result) = fetches.next().await {
            result?;
        }
        Ok(())
    }

    async fn fetch_with_retries(&self, digest: Digest) -> Result<(), SyncError> {
        let mut delay = Duration::from_millis(50);
        let mut attempt = 1;
        loop {
            match self.fetch(digest).await {
                Ok(()) => return Ok(()),
                Err(error) if attempt < 3 => {
                    tracing::debug!(%error, attempt, "blob fetch failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn fetch(&self, digest: Digest) -> Result<(), SyncError> {
        if let Some(fetched) = self.origin.fetch(digest, MAX_BLOB).await {
            let bytes = fetched.map_err(|source| SyncError::Blob { digest, source: Box::new(source) })?;
            let cache = self.cache.clone();
            return tokio::task::spawn_blocking(move || cache.put_verified(&digest, &bytes[..], MAX_BLOB))
                .await
                .expect("writing does not panic")
                .map(drop)
                .map_err(|source| SyncError::Blob { digest, source: Box::new(source) });
        }
        let url = format!("{}/v1/blobs/{digest}", self.config.control_plane);
        let unreachable = |source| SyncError::Unreachable { url: url.clone(), source };
        let response = self.client.get(&url).bearer_auth(&self.config.token).send().await.map_err(unreachable)?;
        if !response.status().is_success() {
            let status = response.status();
            return Err(SyncError::Status { url, status, body: response.text().await.unwrap_or_default() });
        }
        let bytes = response.bytes().await.map_err(unreachable)?;
        let cache = self.cache.clone();
        tokio::task::spawn_blocking(move || cache.put_verified(&digest, &bytes[..], MAX_BLOB))
            .await
            .expect("writing does not panic")
            .map_err(|source| SyncError::Blob { digest, source: Box::new(source) })?;
        Ok(())
    }

    async fn persist(&self, snapshot: &Snapshot) -> Result<(), SyncError> {
        let json = serde_json::to_vec(snapshot).expect("a snapshot serializes");
        let path = self.snapshot_path();
        tokio::task::spawn_blocking(move || write_atomically(&path, &json)).await.expect("writing does not panic")
    }
}

/// temp file → fsync → rename → fsync the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SyncError> {
    use std::io::Write;
    let dir = path.parent().expect("the snapshot lives in the cache dir");
    let io = |source| SyncError::Io { path: path.to_owned(), source };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}
