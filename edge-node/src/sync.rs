//! Following the control plane: long-poll for a newer revision, prefetch every manifest and
//! blob it needs into the local cache (verifying each against its digest), build the routing
//! table, swap it in with one store, then persist the snapshot.
//!
//! Architecture Invariants:
//! - Swap happens only after every blob of the new snapshot is in the cache (DESIGN 2, 3).
//! - A blob is accepted into the cache only if its bytes hash to its digest (DESIGN 1).
//! - The persisted snapshot is written after the swap and only ever names cached blobs, so an
//!   edge restarted without the control plane serves it at once.
//! - Apps are isolated: if a manifest or blob of one app cannot be fetched or verified (after
//!   bounded retries), that app keeps the state it had in the applied snapshot, the error is
//!   reported in the heartbeat and retried with back-off, and every other app moves on.
//! - A blob already on disk is trusted only once verified in this run (fetched through
//!   `put_verified`, or hashed at restore or before first use), so a blob corrupted in the cache
//!   is never served, whether from memory or streamed from disk.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use futures_util::StreamExt;
use switchyard_blob::LocalBlobStore;
use switchyard_model::{AppState, Digest, Manifest, Snapshot};
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::heartbeat::Status;
use crate::memory::MemoryCache;
use crate::metrics::Metrics;
use crate::origin::Origin;
use crate::sites::{BuildError, Routes};

/// How long one long-poll asks the control plane to wait.
const POLL_WAIT_SECS: u64 = 25;
/// Largest blob an edge accepts (the control plane's per-file limit is lower).
const MAX_BLOB: u64 = 1 << 30;
/// Blob downloads in flight at once.
const FETCH_CONCURRENCY: usize = 16;
/// First and longest wait before fetching a held-back app again.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

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
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

pub(crate) struct Syncer {
    config: Config,
    client: reqwest::Client,
    cache: LocalBlobStore,
    memory: Arc<MemoryCache>,
    routes: Arc<ArcSwap<Routes>>,
    status: Arc<Status>,
    /// The snapshot the routes were built from (apps held back keep their earlier state).
    applied: Mutex<Snapshot>,
    /// Digests whose bytes on disk were hashed and matched in this run.
    verified: Mutex<HashSet<Digest>>,
    /// Some app was held back: fetch the current snapshot again after a back-off.
    retry: AtomicBool,
    /// The cache grew since the last eviction pass (or none ran yet in this process).
    grew: AtomicBool,
    origin: Origin,
    /// Per-version counters, handed to every build (`metrics`).
    metrics: Arc<Metrics>,
}

impl Syncer {
    pub(crate) fn new(
        config: Config,
        cache: LocalBlobStore,
        memory: Arc<MemoryCache>,
        routes: Arc<ArcSwap<Routes>>,
        status: Arc<Status>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Syncer> {
        let origin = Origin::open(&config.origin, &config.cache_dir)?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("switchyard-edge/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with static settings builds");
        Ok(Syncer {
            config,
            client,
            cache,
            memory,
            routes,
            origin,
            status,
            applied: Mutex::new(Snapshot::default()),
            verified: Mutex::new(HashSet::new()),
            retry: AtomicBool::new(false),
            grew: AtomicBool::new(true),
            metrics,
        })
    }

    pub(crate) fn client(&self) -> reqwest::Client {
        self.client.clone()
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
        let snapshot = match serde_json::from_slice::<Snapshot>(&bytes) {
            Ok(snapshot) => snapshot,
            Err(error) => {
                return tracing::warn!(%error, "persisted snapshot unusable; waiting for the control plane");
            }
        };
        // Hash everything the snapshot needs before serving any of it: a blob corrupted on disk
        // (even one too large for memory, streamed from disk later) drops its app until re-fetched.
        let mut snapshot = snapshot;
        let mut app_errors = BTreeMap::new();
        snapshot.apps.retain(|app, state| match self.verify_app_on_disk(state) {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(app, %error, "cached app failed verification; it is fetched again");
                app_errors.insert(app.clone(), error.to_string());
                false
            }
        });
        let built = Routes::build(
            &snapshot,
            &self.cache,
            &self.memory,
            &self.config.base_domain,
            &Routes::default(),
            &self.metrics,
        )
        .map_err(|e| SyncError::Build(Box::new(e)))
        .and_then(|mut routes| attach_tls(&mut routes, &snapshot, &self.config).map(|()| routes));
        match built {
            Ok(routes) => {
                tracing::info!(
                    revision = routes.revision,
                    hosts = routes.host_count(),
                    "serving the persisted snapshot"
                );
                self.routes.store(Arc::new(routes));
                if !app_errors.is_empty() {
                    self.retry.store(true, Ordering::Relaxed);
                }
                self.status.applied(&snapshot, app_errors);
                *self.applied.lock().unwrap_or_else(|p| p.into_inner()) = snapshot;
            }
            Err(error) => {
                tracing::warn!(%error, "persisted snapshot unusable; waiting for the control plane")
            }
        }
    }

    /// Hashes every manifest and blob `state` needs as stored in the cache; a corrupt one is
    /// removed. Marks the good ones verified.
    fn verify_app_on_disk(&self, state: &AppState) -> Result<(), SyncError> {
        let mut good = Vec::new();
        for vref in state.versions.values() {
            let bytes = self.cache.read_verified(&vref.manifest).map_err(|e| self.blob_error(vref.manifest, e))?;
            good.push(vref.manifest);
            let manifest = Manifest::from_json(&bytes)
                .map_err(|e| SyncError::BadManifest { digest: vref.manifest, reason: e.to_string() })?;
            for digest in manifest.blobs() {
                if !good.contains(&digest) {
                    verify_file(&self.cache, &digest).map_err(|e| self.blob_error(digest, e))?;
                    good.push(digest);
                }
            }
        }
        self.verified.lock().unwrap_or_else(|p| p.into_inner()).extend(good);
        Ok(())
    }

    /// A blob error; a corrupt blob is removed from the cache so it is fetched again.
    fn blob_error(&self, digest: Digest, source: switchyard_blob::Error) -> SyncError {
        if matches!(source, switchyard_blob::Error::Corrupt { .. }) {
            let _ = self.cache.remove(&digest);
        }
        SyncError::Blob { digest, source: Box::new(source) }
    }

    /// Follows the control plane until `shutdown`.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        let mut retry_after = RETRY_FIRST;
        loop {
            let revision = self.routes.load().revision;
            let retry = self.retry.load(Ordering::Relaxed);
            // With an app held back, wait for a new revision only as long as the retry back-off,
            // then take the current snapshot again.
            let wait = if retry { retry_after } else { Duration::from_secs(POLL_WAIT_SECS) };
            let step = tokio::select! {
                step = self.poll(revision, wait) => step,
                () = shutdown.cancelled() => return,
            };
            let step = match step {
                Ok(None) if retry => {
                    retry_after = (retry_after * 2).min(RETRY_MAX);
                    tokio::select! {
                        step = self.poll(revision.saturating_sub(1), Duration::ZERO) => step,
                        () = shutdown.cancelled() => return,
                    }
                }
                step => step,
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
                Ok(()) => {
                    backoff = Duration::from_millis(100);
                    self.status.recovered();
                    if !self.retry.load(Ordering::Relaxed) {
                        retry_after = RETRY_FIRST;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "sync failed");
                    self.status.failed(error.to_string());
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
    async fn poll(&self, after: u64, wait: Duration) -> Result<Option<Snapshot>, SyncError> {
        let url = format!("{}/v1/edge/snapshot", self.config.control_plane);
        let unreachable = |source| SyncError::Unreachable { url: url.clone(), source };
        let response = self
            .client
            .get(&url)
            .query(&[("after", after), ("wait", wait.as_secs())])
            .bearer_auth(&self.config.token)
            .timeout(wait + Duration::from_secs(10))
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

    /// Prefetches each app, builds, swaps, persists, reports. An app whose manifest or blobs
    /// cannot be had keeps its previously applied state.
    async fn apply(&self, snapshot: Snapshot) -> Result<(), SyncError> {
        let before = self.applied.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut snapshot = snapshot;
        let apps = std::mem::take(&mut snapshot.apps);
        let mut effective = Snapshot { apps: BTreeMap::new(), ..snapshot };
        let mut app_errors = BTreeMap::new();
        for (app, state) in apps {
            match self.prefetch_app(&state).await {
                Ok(()) => {
                    effective.apps.insert(app, state);
                }
                Err(error) if error.is_app_specific() => {
                    tracing::warn!(app, %error, "app held back on its previous state");
                    if let Some(old) = before.apps.get(&app) {
                        effective.apps.insert(app.clone(), old.clone());
                    }
                    app_errors.insert(app, error.to_string());
                }
                Err(error) => return Err(error),
            }
        }

        self.fetch_certs(&effective).await?;

        let (cache, memory, metrics) = (self.cache.clone(), self.memory.clone(), self.metrics.clone());
        let base = self.config.base_domain.clone();
        let previous = self.routes.load_full();
        let old = previous.clone();
        let config = self.config.clone();
        let (effective, routes, app_errors, failed) = tokio::task::spawn_blocking(move || {
            let (effective, routes, app_errors, failed) = build_isolated(effective, &before, app_errors, |s| {
                Routes::build(s, &cache, &memory, &base, &old, &metrics)
            });
            let routes = routes
                .map_err(|e| SyncError::Build(Box::new(e)))
                .and_then(|mut routes| attach_tls(&mut routes, &effective, &config).map(|()| routes));
            (effective, routes, app_errors, failed)
        })
        .await
        .expect("building routes does not panic");
        // A blob that failed to load (found corrupt and removed) must be fetched again.
        {
            let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            for digest in &failed {
                verified.remove(digest);
            }
        }
        let routes = Arc::new(routes?);
        self.routes.store(routes.clone());
        // Bodies only the old routes held leave memory once no request can reach them.
        let (cache, memory) = (self.cache.clone(), self.memory.clone());
        tokio::task::spawn_blocking(move || memory.maintain(routes.bodies(), previous.dropped_by(&routes), &cache));
        self.retry.store(!app_errors.is_empty(), Ordering::Relaxed);
        self.status.applied(&effective, app_errors);
        self.persist(&effective).await?;
        crate::tls::prune(&crate::tls::dir(&self.config.cache_dir), &effective);
        *self.applied.lock().unwrap_or_else(|p| p.into_inner()) = effective.clone();
        self.collect_garbage(effective).await;
        Ok(())
    }

    /// Fetches (and verifies) every manifest and blob of one app.
    async fn prefetch_app(&self, state: &AppState) -> Result<(), SyncError> {
        let mut manifests: Vec<Digest> = state.versions.values().map(|v| v.manifest).collect();
        manifests.sort_unstable();
        manifests.dedup();
        self.fetch_all(&manifests).await?;
        let mut blobs = Vec::new();
        for digest in &manifests {
            let manifest = self.read_manifest(digest).await?;
            blobs.extend(manifest.blobs());
        }
        blobs.sort_unstable();
        blobs.dedup();
        self.fetch_all(&blobs).await
    }

    /// Over the cache budget: removes blobs no version of `applied` references, least
    /// recently written first (off the request path, after the swap).
    async fn collect_garbage(&self, applied: Snapshot) {
        if !self.grew.swap(false, Ordering::Relaxed) {
            return;
        }
        let (cache, budget, dir) = (self.cache.clone(), self.config.cache_budget, self.config.cache_dir.clone());
        let evicted = tokio::task::spawn_blocking(move || crate::gc::collect(&cache, &dir, &applied, budget))
            .await
            .expect("collecting does not panic");
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        for digest in &evicted {
            verified.remove(digest);
        }
    }

    /// Fetches the chain and key of every certificate the snapshot names and the cache lacks.
    async fn fetch_certs(&self, snapshot: &Snapshot) -> Result<(), SyncError> {
        let dir = crate::tls::dir(&self.config.cache_dir);
        for cert in &snapshot.certs {
            if dir.join(format!("{}.pem", cert.id)).exists() {
                continue;
            }
            let url = format!("{}/v1/edge/certs/{}", self.config.control_plane, cert.id);
            let unreachable = |source| SyncError::Unreachable { url: url.clone(), source };
            let response = self.client.get(&url).bearer_auth(&self.config.token).send().await.map_err(unreachable)?;
            if !response.status().is_success() {
                let status = response.status();
                return Err(SyncError::Status { url, status, body: response.text().await.unwrap_or_default() });
            }
            #[derive(serde::Deserialize)]
            struct Material {
                chain: String,
                key: String,
            }
            let bytes = response.bytes().await.map_err(unreachable)?;
            let material: Material = serde_json::from_slice(&bytes).map_err(SyncError::BadSnapshot)?;
            let (dir, id, fingerprint) = (dir.clone(), cert.id.clone(), cert.fingerprint.clone());
            tokio::task::spawn_blocking(move || {
                crate::tls::store(&dir, &id, &fingerprint, &material.chain, &material.key)
            })
            .await
            .expect("writing does not panic")?;
            tracing::info!(domain = %cert.domain, fingerprint = %cert.fingerprint, "fetched a certificate");
        }
        Ok(())
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
        let unverified: Vec<Digest> = {
            let verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            digests.iter().filter(|d| !verified.contains(d)).copied().collect()
        };
        if unverified.is_empty() {
            return Ok(());
        }
        // On disk from an earlier run but not yet hashed in this one: hash before trusting it.
        let cache = self.cache.clone();
        let (good, missing) = tokio::task::spawn_blocking(move || {
            unverified.into_iter().partition::<Vec<Digest>, _>(|d| match verify_file(&cache, d) {
                Ok(()) => true,
                Err(switchyard_blob::Error::Corrupt { .. }) => {
                    tracing::warn!(digest = %d, "cached blob is corrupt; fetching it again");
                    let _ = cache.remove(d);
                    false
                }
                Err(_) => false,
            })
        })
        .await
        .expect("hashing does not panic");
        self.verified.lock().unwrap_or_else(|p| p.into_inner()).extend(good);
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
        self.verified.lock().unwrap_or_else(|p| p.into_inner()).insert(digest);
        self.grew.store(true, Ordering::Relaxed);
        Ok(())
    }

    async fn persist(&self, snapshot: &Snapshot) -> Result<(), SyncError> {
        let json = serde_json::to_vec(snapshot).expect("a snapshot serializes");
        let path = self.snapshot_path();
        tokio::task::spawn_blocking(move || write_atomically(&path, &json)).await.expect("writing does not panic")
    }
}

impl SyncError {
    /// Whether the failure belongs to the app whose data was being fetched (a missing or
    /// corrupt blob or manifest) rather than to the sync as a whole (the control plane down,
    /// the token refused).
    fn is_app_specific(&self) -> bool {
        match self {
            SyncError::Unreachable { source, .. } => !source.is_connect(),
            SyncError::Status { status, .. } => {
                !matches!(*status, reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN)
                    && !status.is_server_error()
            }
            SyncError::BadSnapshot(_) => false,
            SyncError::BadManifest { .. } | SyncError::Blob { .. } | SyncError::Build(_) | SyncError::Io { .. } => true,
            // Certificates belong to the whole snapshot, not to one app.
            SyncError::Tls(_) => false,
        }
    }
}

/// Builds routes for `snapshot`; an app whose build fails (a blob found corrupt while loading)
/// falls back to its state in `before`, or is left out, and is added to `app_errors`.
fn build_isolated(
    mut snapshot: Snapshot,
    before: &Snapshot,
    mut app_errors: BTreeMap<String, String>,
    mut build: impl FnMut(&Snapshot) -> Result<Routes, BuildError>,
) -> (Snapshot, Result<Routes, BuildError>, BTreeMap<String, String>, Vec<Digest>) {
    let mut failed = Vec::new();
    loop {
        match build(&snapshot) {
            Ok(routes) => return (snapshot, Ok(routes), app_errors, failed),
            Err(error) => {
                failed.push(error.digest());
                let app = error.app().to_owned();
                let Some(current) = snapshot.apps.get(&app) else {
                    return (snapshot, Err(error), app_errors, failed);
                };
                tracing::warn!(app, %error, "app held back on its previous state");
                match before.apps.get(&app) {
                    Some(old) if old != current => {
                        snapshot.apps.insert(app.clone(), old.clone());
                    }
                    _ => {
                        snapshot.apps.remove(&app);
                    }
                }
                app_errors.insert(app, error.to_string());
            }
        }
    }
}

/// Hashes a cached blob as it is streamed from disk.
fn verify_file(cache: &LocalBlobStore, digest: &Digest) -> Result<(), switchyard_blob::Error> {
    let path = cache.path(digest);
    let io = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => switchyard_blob::Error::NotFound { digest: *digest },
        _ => switchyard_blob::Error::Io { path: path.clone(), source },
    };
    let mut file = std::fs::File::open(&path).map_err(io)?;
    let mut hasher = switchyard_model::Sha256Writer::new(std::io::sink());
    std::io::copy(&mut file, &mut hasher).map_err(io)?;
    let (_, actual, _) = hasher.finish();
    if actual != *digest {
        return Err(switchyard_blob::Error::Corrupt { expected: *digest, actual });
    }
    Ok(())
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

/// Loads the snapshot's certificates into `routes`, with the HTTPS port redirects point to.
fn attach_tls(routes: &mut Routes, snapshot: &Snapshot, config: &Config) -> Result<(), SyncError> {
    let dir = crate::tls::dir(&config.cache_dir);
    routes.certs = crate::tls::Certs::load(snapshot, &dir, config.default_cert.clone(), &config.base_domain)?;
    routes.https_port = config.https_addr.map(|a| a.port());
    Ok(())
}

#[cfg(test)]
mod tests;
