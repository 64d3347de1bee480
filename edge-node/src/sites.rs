//! The routing table an edge serves from: host name → site (one version of one app) →
//! path → file, plus the version's compiled rules. Built off the request path from a snapshot
//! and the local cache, then swapped in whole.
//!
//! Architecture Invariants:
//! - A [`Routes`] value is complete: every file it names has its bytes in memory or in the
//!   local cache. It is built only after everything it needs is fetched and verified.
//! - Served paths are looked up in the manifest's map; nothing here joins a request path onto
//!   the filesystem. Disk paths come from digests only.
//! - Everything that does not depend on the request (content type, ETags, cache policy,
//!   last-modified, app and version headers, compiled rules) is built once here.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use switchyard_blob::LocalBlobStore;

pub use crate::memory::BlobBody;
use crate::memory::MemoryCache;
use crate::metrics::{Metrics, VersionStats};
use crate::tagging::PrebuiltHeaders;
use switchyard_model::hosts::{Selector, platform_host};
use switchyard_model::rules::{Pattern, TrailingSlash};
use switchyard_model::{Digest, Encoding, LIVE, Manifest, Snapshot, version_label};

static REVALIDATE: HeaderValue = HeaderValue::from_static("public, max-age=0, must-revalidate");
static IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
static NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
static BYTES: HeaderValue = HeaderValue::from_static("bytes");
static VARY_AE: HeaderValue = HeaderValue::from_static("accept-encoding");

/// The content types deploys give most files (`switchyard_bundle::content_type_for`), held as
/// static values: a response clones its file's headers, and a static value's clone and drop
/// touch no reference count (two atomic operations fewer per response, `benches/README.md`).
const COMMON_TYPES: [&str; 20] = [
    "text/html; charset=utf-8",
    "text/javascript; charset=utf-8",
    "text/css; charset=utf-8",
    "application/json",
    "application/manifest+json",
    "text/plain; charset=utf-8",
    "application/xml",
    "image/svg+xml",
    "application/wasm",
    "application/octet-stream",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/x-icon",
    "font/woff2",
    "font/woff",
    "video/mp4",
    "application/pdf",
];

/// The `content-type` value for a manifest's type; a type no header may carry (the manifest
/// comes from the control plane, which writes only valid ones) is sent as
/// `application/octet-stream`.
fn content_type_value(content_type: &str) -> HeaderValue {
    match COMMON_TYPES.iter().find(|common| **common == content_type) {
        Some(common) => HeaderValue::from_static(common),
        None => {
            HeaderValue::from_str(content_type).unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
        }
    }
}
pub(crate) const X_APP: HeaderName = HeaderName::from_static("x-switchyard-app");
pub(crate) const X_VERSION: HeaderName = HeaderName::from_static("x-switchyard-version");

/// Maps keyed by names from snapshots and manifests, looked up with request data: a fast
/// hash, randomly seeded per process.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("manifest {digest} of {app} v{version}: {source}")]
    Manifest { app: String, version: u64, digest: Digest, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("blob {digest} ({app}/{path}): {source}")]
    Blob { app: String, path: String, digest: Digest, source: Box<switchyard_blob::Error> },
}

impl BuildError {
    /// The app whose version failed to build.
    pub fn app(&self) -> &str {
        match self {
            BuildError::Manifest { app, .. } | BuildError::Blob { app, .. } => app,
        }
    }

    /// The manifest or blob that failed.
    pub fn digest(&self) -> Digest {
        match self {
            BuildError::Manifest { digest, .. } | BuildError::Blob { digest, .. } => *digest,
        }
    }
}

/// What one snapshot routes, ready to serve.
pub struct Routes {
    pub revision: u64,
    /// This table's alone in the process, never reused (`serve::LastHost` compares it).
    generation: u64,
    /// Every host the table routes, found by `names` and `wildcards`.
    hosts: Vec<Host>,
    names: Map<String, usize>,
    /// Custom wildcard domains: `*.example.com` is kept under `example.com`.
    wildcards: Map<String, usize>,
    /// TLS certificates of this snapshot, selected by SNI (see `tls`).
    pub certs: crate::tls::Certs,
    /// The HTTPS port plain-HTTP redirects point to, if the edge serves HTTPS.
    pub https_port: Option<u16>,
    /// Blob bodies by digest, shared by every version that holds the same bytes.
    bodies: Map<Digest, Arc<BlobBody>>,
}

impl Default for Routes {
    /// Routes of nothing, with a generation of their own.
    fn default() -> Routes {
        static GENERATIONS: AtomicU64 = AtomicU64::new(0);
        Routes {
            revision: 0,
            generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
            hosts: Vec::new(),
            names: Map::default(),
            wildcards: Map::default(),
            certs: Default::default(),
            https_port: None,
            bodies: Map::default(),
        }
    }
}

/// What a host name serves.
#[derive(Clone)]
pub struct Host {
    pub site: Arc<Site>,
    /// Preview and version hosts ask search engines not to index them.
    pub noindex: bool,
    /// Plain HTTP gets a 308 to HTTPS (a custom domain with a certificate, redirect on).
    pub https_redirect: bool,
    /// `Strict-Transport-Security` for HTTPS responses, prebuilt.
    pub hsts: Option<HeaderValue>,
    /// The previews gate of a private host (`access`); `None`: public.
    pub access: Option<Arc<crate::access::Gate>>,
    /// A channel host's version choice (split, retained versions; see `tagging`); `None` on
    /// version hosts, which always serve `site`.
    pub channel: Option<Arc<crate::tagging::Channel>>,
}

/// One version of one app.
pub struct Site {
    /// App, version and the prebuilt `sy_v` cookies (see `tagging`).
    pub tag: crate::tagging::SiteTag,
    /// The version's counters (`metrics`), the same across routing-table swaps.
    pub stats: Arc<VersionStats>,
    pub app_header: HeaderValue,
    pub version_header: HeaderValue,
    /// When the version was created: the `last-modified` of all its files.
    pub modified: SystemTime,
    pub last_modified: HeaderValue,
    files: Map<String, File>,
    pub redirects: Vec<RedirectRule>,
    pub header_rules: Vec<HeaderRule>,
    /// Some `_headers` rule sets or removes `Set-Cookie`: responses then start from prebuilt
    /// headers without cookies, and ours are added after the rules (see `serve::respond`).
    pub rules_touch_cookies: bool,
    pub spa_fallback: Option<String>,
    pub clean_urls: bool,
    pub trailing_slash: TrailingSlash,
    pub not_found: Option<String>,
}

pub struct RedirectRule {
    pub pattern: Pattern,
    pub to: String,
    pub status: u16,
    pub force: bool,
}

pub struct HeaderRule {
    pub pattern: Pattern,
    pub set: Vec<(HeaderName, HeaderValue)>,
    pub remove: Vec<HeaderName>,
}

/// A file of a version, with its prebuilt headers and precompressed variants.
pub struct File {
    /// An HTML page (`text/html`): its `200`/`304` answers to GET count as page views.
    pub page: bool,
    pub identity: Representation,
    /// Smaller encodings, brotli before gzip.
    pub encodings: Vec<(Encoding, Representation)>,
}

/// One byte sequence a file can be sent as.
pub struct Representation {
    pub body: Arc<BlobBody>,
    pub size: u64,
    /// Strong ETag: the quoted SHA-256 of these bytes.
    pub etag: HeaderValue,
    /// Every header of a `200` response with these bytes, built once: content type, length
    /// and encoding, ETag, last-modified, cache policy, `accept-ranges`, `vary`, `nosniff`,
    /// the app and version, each without and with the version's cookies.
    pub headers: PrebuiltHeaders,
}

impl Routes {
    /// Builds the routing table for `snapshot` from manifests and blobs already in `cache`.
    /// Bodies already loaded by `previous` are reused rather than read again.
    pub fn build(
        snapshot: &Snapshot,
        cache: &LocalBlobStore,
        memory: &MemoryCache,
        base_domain: &str,
        previous: &Routes,
        metrics: &Metrics,
    ) -> Result<Routes, BuildError> {
        let mut routes = Routes { revision: snapshot.revision, ..Routes::default() };
        let verifier = crate::access::Verifier::from_snapshot(snapshot);
        for (app, state) in &snapshot.apps {
            let mut sites: HashMap<u64, Arc<Site>> = HashMap::new();
            for (&version, vref) in &state.versions {
                let manifest = load_manifest(cache, &vref.manifest).map_err(|source| BuildError::Manifest {
                    app: app.clone(),
                    version,
                    digest: vref.manifest,
                    source,
                })?;
                let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(vref.created);
                let stats = metrics.version(app, version);
                let site = Arc::new(routes.site(app, version, modified, &manifest, cache, memory, previous, stats)?);
                let selector = Selector::Version(version);
                let access = crate::access::gate(verifier.as_ref(), app, &selector, state);
                let host = platform_host(app, &selector, base_domain);
                routes.add_host(
                    host,
                    Host {
                        site: site.clone(),
                        noindex: true,
                        https_redirect: false,
                        hsts: None,
                        access,
                        channel: None,
                    },
                );
                sites.insert(version, site);
            }
            let now = crate::tagging::now();
            for (channel, version) in &state.channels {
                if let Some(site) = sites.get(version) {
                    let selector = Selector::Channel(channel.clone());
                    let access = crate::access::gate(verifier.as_ref(), app, &selector, state);
                    let host = platform_host(app, &selector, base_domain);
                    let noindex = channel != LIVE;
                    let choice = Some(Arc::new(crate::tagging::Channel::build(channel, state, &sites, now)));
                    routes.add_host(
                        host,
                        Host {
                            site: site.clone(),
                            noindex,
                            https_redirect: false,
                            hsts: None,
                            access,
                            channel: choice,
                        },
                    );
                }
            }
        }
        routes.add_domains(snapshot, base_domain);
        Ok(routes)
    }

    /// The body of a blob: the one `previous` routes already hold, or a new one, admitted into
    /// memory while the budget allows (the maintenance pass adjusts by use later).
    fn body(
        &mut self,
        digest: &Digest,
        size: u64,
        cache: &LocalBlobStore,
        memory: &MemoryCache,
        previous: &Routes,
    ) -> Result<Arc<BlobBody>, switchyard_blob::Error> {
        if let Some(body) = self.bodies.get(digest).or_else(|| previous.bodies.get(digest)) {
            let body = body.clone();
            self.bodies.insert(*digest, body.clone());
            return Ok(body);
        }
        if !cache.contains(digest) {
            return Err(switchyard_blob::Error::NotFound { digest: *digest });
        }
        let body = Arc::new(BlobBody::new(*digest, cache.path(digest), size, memory));
        match memory.admit(&body, cache) {
            Ok(()) => {}
            // Never serve it; drop it from the cache so the next sync fetches it again.
            Err(e @ switchyard_blob::Error::Corrupt { .. }) => {
                let _ = cache.remove(digest);
                return Err(e);
            }
            // Memory is an optimisation: serve from disk rather than fail the snapshot.
            Err(error) => tracing::warn!(%error, %digest, "cannot load a cached blob into memory"),
        }
        self.bodies.insert(*digest, body.clone());
        Ok(body)
    }

    #[allow(clippy::too_many_arguments)]
    fn site(
        &mut self,
        app: &str,
        version: u64,
        modified: SystemTime,
        manifest: &Manifest,
        cache: &LocalBlobStore,
        memory: &MemoryCache,
        previous: &Routes,
        stats: Arc<VersionStats>,
    ) -> Result<Site, BuildError> {
        let app_header = HeaderValue::from_str(app).expect("app names are DNS labels");
        let version_header = HeaderValue::from_str(&version_label(version)).expect("ascii");
        let last_modified = HeaderValue::from_str(&httpdate::fmt_http_date(modified)).expect("an HTTP date is ascii");
        let tag = crate::tagging::SiteTag::new(app, version);
        let mut files = Map::with_capacity_and_hasher(manifest.files.len(), Default::default());
        for (path, entry) in &manifest.files {
            let content_type = content_type_value(&entry.content_type);
            let cache_control = if is_fingerprinted(path) { IMMUTABLE.clone() } else { REVALIDATE.clone() };
            let varies = !entry.encodings.is_empty();
            let page = entry.content_type.starts_with("text/html");
            let mut representation =
                |digest: &Digest, size: u64, encoding: Option<Encoding>| -> Result<Representation, BuildError> {
                    let body = self.body(digest, size, cache, memory, previous).map_err(|source| BuildError::Blob {
                        app: app.to_owned(),
                        path: path.clone(),
                        digest: *digest,
                        source: Box::new(source),
                    })?;
                    let etag = HeaderValue::from_str(&format!("\"{digest}\"")).expect("hex is a valid header value");
                    let mut h = HeaderMap::with_capacity(16);
                    h.insert(header::CONTENT_TYPE, content_type.clone());
                    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
                    if let Some(encoding) = encoding {
                        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding.as_str()));
                    }
                    h.insert(header::ETAG, etag.clone());
                    h.insert(header::LAST_MODIFIED, last_modified.clone());
                    h.insert(header::CACHE_CONTROL, cache_control.clone());
                    h.insert(header::ACCEPT_RANGES, BYTES.clone());
                    if varies {
                        h.insert(header::VARY, VARY_AE.clone());
                    }
                    h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF.clone());
                    h.insert(X_APP, app_header.clone());
                    h.insert(X_VERSION, version_header.clone());
                    Ok(Representation { body, size, etag, headers: PrebuiltHeaders::new(&h, &tag, page) })
                };
            let identity = representation(&entry.sha256, entry.size, None)?;
            let mut encodings = Vec::with_capacity(entry.encodings.len());
            for encoded in &entry.encodings {
                let repr = representation(&encoded.sha256, encoded.size, Some(encoded.encoding))?;
                encodings.push((encoded.encoding, repr));
            }
            encodings.sort_by_key(|(e, _)| *e != Encoding::Br);
            files.insert(path.clone(), File { page, identity, encodings });
        }
        let site = &manifest.site;
        // Rules were validated at deploy time; a rule that does not compile here is skipped.
        let redirects = site
            .redirects
            .iter()
            .filter_map(|r| {
                let pattern = Pattern::parse(&r.from).ok()?;
                Some(RedirectRule { pattern, to: r.to.clone(), status: r.status, force: r.force })
            })
            .collect();
        let header_rules: Vec<HeaderRule> = site
            .headers
            .iter()
            .filter_map(|h| {
                let pattern = Pattern::parse(&h.path).ok()?;
                let set = h
                    .set
                    .iter()
                    .filter_map(|(n, v)| Some((HeaderName::try_from(n).ok()?, HeaderValue::try_from(v).ok()?)))
                    .collect();
                let remove = h.remove.iter().filter_map(|n| HeaderName::try_from(n).ok()).collect();
                Some(HeaderRule { pattern, set, remove })
            })
            .collect();
        let rules_touch_cookies = header_rules.iter().any(|r| {
            r.set.iter().any(|(name, _)| name == header::SET_COOKIE) || r.remove.contains(&header::SET_COOKIE)
        });
        Ok(Site {
            tag,
            stats,
            app_header,
            version_header,
            modified,
            last_modified,
            files,
            redirects,
            header_rules,
            rules_touch_cookies,
            spa_fallback: site.spa_fallback.clone(),
            clean_urls: site.clean_urls,
            trailing_slash: site.trailing_slash,
            not_found: site.not_found.clone(),
        })
    }

    /// Custom domains route like platform hosts, to the site their (app, channel) serves.
    fn add_domains(&mut self, snapshot: &Snapshot, base_domain: &str) {
        for (name, route) in &snapshot.domains {
            let platform = platform_host(&route.app, &Selector::Channel(route.channel.clone()), base_domain);
            let Some((site, access, channel)) =
                self.exact(&platform).map(|h| (h.site.clone(), h.access.clone(), h.channel.clone()))
            else {
                continue;
            };
            let has_cert = snapshot.certs.iter().any(|c| switchyard_model::domain::name_covers(&c.domain, name));
            let host = Host {
                site,
                noindex: route.channel != LIVE,
                https_redirect: route.https_redirect && has_cert,
                hsts: route.hsts.and_then(|h| HeaderValue::try_from(h.header_value()).ok()),
                // A custom domain of a private channel is as private as the channel's host.
                access,
                channel,
            };
            self.hosts.push(host);
            let index = self.hosts.len() - 1;
            match name.strip_prefix("*.") {
                Some(parent) => self.wildcards.insert(parent.to_owned(), index),
                None => self.names.insert(name.clone(), index),
            };
        }
    }

    /// `host` under `name`; a host the name had before stays in `hosts`, unreachable.
    fn add_host(&mut self, name: String, host: Host) {
        self.hosts.push(host);
        self.names.insert(name, self.hosts.len() - 1);
    }

    fn exact(&self, name: &str) -> Option<&Host> {
        self.names.get(name).map(|&i| &self.hosts[i])
    }

    /// What a normalized host name serves: an exact name, else a wildcard domain one label up.
    pub fn host(&self, host: &str) -> Option<&Host> {
        self.host_index(host).map(|i| self.host_at(i))
    }

    /// [`Routes::host`]'s place in this table, for [`Routes::host_at`].
    pub fn host_index(&self, host: &str) -> Option<usize> {
        self.names.get(host).copied().or_else(|| {
            if self.wildcards.is_empty() {
                return None;
            }
            switchyard_model::domain::parent_of(host).and_then(|parent| self.wildcards.get(parent).copied())
        })
    }

    /// The host at `index`, as [`Routes::host_index`] of this table gave it.
    pub fn host_at(&self, index: usize) -> &Host {
        &self.hosts[index]
    }

    /// Unique to this table among all the process builds (see `generation`).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn host_count(&self) -> usize {
        self.names.len()
    }

    /// Every blob body these routes serve.
    pub fn bodies(&self) -> impl Iterator<Item = &Arc<BlobBody>> {
        self.bodies.values()
    }

    /// Bodies of `self` that `next` no longer holds.
    pub fn dropped_by<'a>(&'a self, next: &'a Routes) -> impl Iterator<Item = &'a Arc<BlobBody>> {
        self.bodies.iter().filter(|(d, _)| !next.bodies.contains_key(d)).map(|(_, b)| b)
    }
}

impl Routes {
    /// Routes of exactly these exact host names, for tests of host look-up.
    #[cfg(test)]
    pub(crate) fn with_hosts(hosts: impl IntoIterator<Item = (&'static str, Host)>) -> Routes {
        let mut routes = Routes::default();
        for (name, host) in hosts {
            routes.add_host(name.to_owned(), host);
        }
        routes
    }
}

impl Site {
    /// A site with no files and no rules, for tests of what chooses among sites.
    #[cfg(test)]
    pub(crate) fn empty(app: &str, version: u64) -> Site {
        Site {
            tag: crate::tagging::SiteTag::new(app, version),
            stats: crate::metrics::Metrics::new().version(app, version),
            app_header: HeaderValue::from_str(app).unwrap(),
            version_header: HeaderValue::from_str(&version_label(version)).unwrap(),
            modified: SystemTime::UNIX_EPOCH,
            last_modified: HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
            files: Map::default(),
            redirects: Vec::new(),
            header_rules: Vec::new(),
            rules_touch_cookies: false,
            spa_fallback: None,
            clean_urls: false,
            trailing_slash: TrailingSlash::Keep,
            not_found: None,
        }
    }

    /// The file at a manifest key (no leading slash).
    pub fn file(&self, key: &str) -> Option<&File> {
        self.files.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.files.contains_key(key)
    }
}

/// Whether a file name carries a content hash (`app.3f9a1c2b.js`, `chunk-BX3k9aQz.js`), so
/// its bytes can never change under that name. Some segment of the name (split on `.`, `-`
/// and `_`, extension excluded) of 8 to 64 characters must look like a hash: hex with both
/// digits and letters, or letters of both cases with digits (base64-style, as Vite makes).
/// HTML is never fingerprinted: pages are addressed by their names.
pub fn is_fingerprinted(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((stem, ext)) = name.rsplit_once('.') else { return false };
    if ext.eq_ignore_ascii_case("html") || ext.eq_ignore_ascii_case("htm") {
        return false;
    }
    stem.split(['.', '-', '_']).any(|seg| {
        let has = |f: fn(&u8) -> bool| seg.as_bytes().iter().any(f);
        (8..=64).contains(&seg.len())
            && seg.bytes().all(|b| b.is_ascii_alphanumeric())
            && has(u8::is_ascii_digit)
            && ((seg.bytes().all(|b| b.is_ascii_hexdigit()) && has(u8::is_ascii_alphabetic))
                || (has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase)))
    })
}

fn load_manifest(
    cache: &LocalBlobStore,
    digest: &Digest,
) -> Result<Manifest, Box<dyn std::error::Error + Send + Sync>> {
    let bytes = cache.read_verified(digest).inspect_err(|e| {
        if matches!(e, switchyard_blob::Error::Corrupt { .. }) {
            // Never use it; drop it from the cache so the next sync fetches it again.
            let _ = cache.remove(digest);
        }
    })?;
    Ok(Manifest::from_json(&bytes)?)
}

#[cfg(test)]
mod tests {
    use super::{COMMON_TYPES, content_type_value, is_fingerprinted};

    #[test]
    fn content_types_keep_their_bytes() {
        for common in COMMON_TYPES {
            assert_eq!(content_type_value(common).as_bytes(), common.as_bytes());
        }
        assert_eq!(content_type_value("model/gltf+json").as_bytes(), b"model/gltf+json", "any other valid type");
        assert_eq!(
            content_type_value("text/html\r\nset-cookie: x=1").as_bytes(),
            b"application/octet-stream",
            "a type no header may carry"
        );
    }

    #[test]
    fn fingerprinted_names() {
        for yes in [
            "app.3f9a1c2b.js",
            "assets/chunk-BX3k9aQz.js",
            "main.0123abcd.css",
            "x/logo_1a2b3c4d5e.svg",
            "index-Dk3Lx9Qa.mjs",
            "3f9a1c2b.js",
        ] {
            assert!(is_fingerprinted(yes), "{yes}");
        }
        for no in [
            "index.html",
            "app.js",
            "jquery-3.6.0.min.js",
            "bootstrap.bundle.js",
            "about-us.html",
            "README",
            "v2.html",
            "chapter10.html",
            "page-3f9a1c2b.html",
            "20240101.pdf",
            "bootstrap4.min.css",
            "styles2024.css",
        ] {
            assert!(!is_fingerprinted(no), "{no}");
        }
    }
}
