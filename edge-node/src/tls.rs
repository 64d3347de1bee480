//! HTTPS on the edge: the certificates of one snapshot ([`Certs`]), the rustls resolver that
//! picks one by SNI from the routes in force ([`Resolver`]), the server configuration, and
//! fetching certificates from the control plane into `<cache>/tls/<id>.pem`.
//!
//! Security invariants:
//! - SNI never falls back to another merchant's certificate: a name gets the certificate
//!   uploaded for exactly that name, else the one for the wildcard one label above it, else
//!   (only for platform hosts, one label under the base domain) the operator's default
//!   certificate, else no certificate at all, and the handshake fails. No SNI, no certificate.
//! - Certificates live in the same `Routes` value as the hosts they serve, so a snapshot's
//!   certificates and routes are swapped together with one `ArcSwap::store`.
//! - Key files in the cache are written temp file (0600) → fsync → rename → fsync directory,
//!   and are accepted only if they parse, the key matches the leaf, and the leaf's SHA-256
//!   equals the fingerprint the snapshot names. Key material is never logged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use switchyard_model::Snapshot;
use switchyard_model::domain::parent_of;

use crate::sites::Routes;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    Load { path: PathBuf, reason: String },
    #[error("certificate {id}: {reason}")]
    Invalid { id: String, reason: String },
}

/// Parses a PEM chain and key into a rustls key, checking that the key matches the leaf.
pub fn certified_key(chain_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate PEM: {e}"))?;
    if chain.is_empty() {
        return Err("no CERTIFICATE block".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| "no usable private key PEM block".to_owned())?;
    let key = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| format!("private key: {e}"))?;
    let certified = CertifiedKey::new(chain, key);
    certified.keys_match().map_err(|e| format!("key and certificate: {e}"))?;
    Ok(certified)
}

/// The operator's default certificate for platform hosts, from PEM files.
pub fn load_default(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| TlsError::Load { path: p.to_owned(), reason: e.to_string() });
    let (chain, key_pem) = (read(cert)?, read(key)?);
    certified_key(&chain, &key_pem).map(Arc::new).map_err(|reason| TlsError::Load { path: cert.to_owned(), reason })
}

fn leaf_fingerprint(key: &CertifiedKey) -> String {
    use sha2::Digest as _;
    key.cert.first().map(|c| hex::encode(sha2::Sha256::digest(c))).unwrap_or_default()
}

/// The certificates of one snapshot, by the name they are selected for.
#[derive(Default)]
pub struct Certs {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `*.example.com` is kept under `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
    /// `.<base>`, for platform hosts.
    base_suffix: String,
}

impl Certs {
    /// Loads every certificate `snapshot` names from `dir` (all fetched already).
    pub fn load(
        snapshot: &Snapshot,
        dir: &Path,
        default: Option<Arc<CertifiedKey>>,
        base: &str,
    ) -> Result<Certs, TlsError> {
        let mut certs = Certs { default, base_suffix: format!(".{base}"), ..Certs::default() };
        for r in &snapshot.certs {
            let path = dir.join(format!("{}.pem", r.id));
            let pem = std::fs::read(&path).map_err(|e| TlsError::Load { path: path.clone(), reason: e.to_string() })?;
            let key = certified_key(&pem, &pem).map_err(|reason| TlsError::Invalid { id: r.id.clone(), reason })?;
            if leaf_fingerprint(&key) != r.fingerprint {
                return Err(TlsError::Invalid {
                    id: r.id.clone(),
                    reason: "fingerprint differs from the snapshot's".into(),
                });
            }
            let key = Arc::new(key);
            match r.domain.strip_prefix("*.") {
                Some(parent) => certs.wildcard.insert(parent.to_owned(), key),
                None => certs.exact.insert(r.domain.clone(), key),
            };
        }
        Ok(certs)
    }

    /// The certificate for SNI `name` (lowercase), if any.
    pub fn resolve(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        if let Some(key) = self.exact.get(name) {
            return Some(key.clone());
        }
        if let Some(key) = parent_of(name).and_then(|parent| self.wildcard.get(parent)) {
            return Some(key.clone());
        }
        // Platform hosts are exactly one label under the base domain.
        let label = name.strip_suffix(self.base_suffix.as_str())?;
        (!label.is_empty() && !label.contains('.')).then(|| self.default.clone()).flatten()
    }

    /// Whether a merchant certificate covers host `name` (a domain, possibly `*.x`).
    pub fn covers(&self, name: &str) -> bool {
        self.exact.contains_key(name) || parent_of(name).is_some_and(|p| self.wildcard.contains_key(p))
    }

    pub fn len(&self) -> usize {
        self.exact.len() + self.wildcard.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Picks the certificate from the routes in force at each handshake.
pub struct Resolver {
    routes: Arc<ArcSwap<Routes>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").field("revision", &self.routes.load().revision).finish_non_exhaustive()
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name()?;
        let routes = self.routes.load();
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            routes.certs.resolve(&name.to_ascii_lowercase())
        } else {
            routes.certs.resolve(name)
        }
    }
}

/// The cipher suites, in the order the edge picks them: rustls's ring suites (all AEAD with
/// forward secrecy), with the SHA-256 ones first. Browsers ask for AES-128-GCM first anyway;
/// OpenSSL-based clients (curl, wrk) ask for AES-256-GCM-SHA384, whose TLS 1.3 key schedule
/// then runs on SHA-384, which ring computes without SIMD on AMD CPUs (its AVX SHA-512 is
/// Intel-only) while SHA-256 uses the SHA extensions: a quarter of a full handshake's CPU.
fn cipher_suites() -> Vec<rustls::SupportedCipherSuite> {
    use rustls::crypto::ring::cipher_suite::*;
    vec![
        TLS13_AES_128_GCM_SHA256,
        TLS13_CHACHA20_POLY1305_SHA256,
        TLS13_AES_256_GCM_SHA384,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ]
}

/// TLS 1.3 and 1.2 with rustls's ring provider, its suites in [`cipher_suites`]'s order (the
/// server's order, not the client's), session tickets and a session cache for resumption,
/// ALPN `h2` then `http/1.1`, certificates by SNI from `routes`.
pub fn server_config(routes: Arc<ArcSwap<Routes>>) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let provider =
        rustls::crypto::CryptoProvider { cipher_suites: cipher_suites(), ..rustls::crypto::ring::default_provider() };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Resolver { routes }));
    config.ignore_client_order = true;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    Ok(Arc::new(config))
}

/// Where an edge keeps certificate files: `<cache>/tls`.
pub fn dir(cache: &Path) -> PathBuf {
    cache.join("tls")
}

/// Checks `chain` + `key` against `fingerprint` and writes them to `<dir>/<id>.pem` (0600).
pub fn store(dir: &Path, id: &str, fingerprint: &str, chain: &str, key: &str) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let invalid = |reason: String| TlsError::Invalid { id: id.to_owned(), reason };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("the id is not hex".into()));
    }
    let certified = certified_key(chain.as_bytes(), key.as_bytes()).map_err(invalid)?;
    if leaf_fingerprint(&certified) != fingerprint {
        return Err(invalid("fingerprint differs from the snapshot's".into()));
    }
    let path = dir.join(format!("{id}.pem"));
    let io = |e: std::io::Error| TlsError::Load { path: path.clone(), reason: e.to_string() };
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    tmp.write_all(chain.as_bytes()).map_err(io)?;
    tmp.write_all(b"\n").map_err(io)?;
    tmp.write_all(key.as_bytes()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(&path).map_err(|e| io(e.error))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

/// Removes certificate files no longer named by `snapshot`.
pub fn prune(dir: &Path, snapshot: &Snapshot) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".pem")) else { continue };
        if !snapshot.certs.iter().any(|c| c.id == id) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests;
