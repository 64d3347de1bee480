//! Certificate validation: what `POST /v1/certs` checks before anything is stored, and the
//! private-key file store.
//!
//! Security invariants:
//! - A private key is held in a [`KeyPem`], whose `Debug` is redacted; it is written only to
//!   `<data>/keys/<id>.pem` (mode 0600, temp file + fsync + rename + directory fsync) and read
//!   back only for `GET /v1/edge/certs/{id}`, which needs an edge token. No error message built
//!   here quotes key or certificate bytes.
//! - A certificate is accepted only if every check passes, in this order: the chain parses as
//!   PEM (and holds no private key), every certificate parses as X.509, the key parses and
//!   matches the leaf, the leaf covers the domain (subjectAltName DNS names, wildcards one
//!   label deep), the leaf is within its validity period, and each certificate is issued
//!   (name and signature) by the next one in the file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};
use switchyard_model::DomainName;
use switchyard_model::domain::name_covers;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// A private key in PEM form. Never printed.
#[derive(Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct KeyPem(String);

impl KeyPem {
    pub fn new(pem: String) -> KeyPem {
        KeyPem(pem)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for KeyPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPem(<redacted>)")
    }
}

/// Why a certificate upload is refused. Each variant is one check; messages name it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertError {
    #[error("certificate PEM: {0}")]
    Pem(String),
    #[error(
        "certificate PEM: the file holds a private key; pass the key separately (--key) and the certificates only in --cert"
    )]
    KeyInChain,
    #[error("certificate #{index} in the chain is not valid X.509: {reason}")]
    X509 { index: usize, reason: String },
    #[error("private key PEM: {0}")]
    KeyPem(String),
    #[error("private key: {0}")]
    Key(String),
    #[error("private key does not match the leaf certificate (the first in the chain)")]
    KeyMismatch,
    #[error("the leaf certificate does not cover {domain}: its DNS names are [{names}]")]
    NameMismatch { domain: String, names: String },
    #[error("the leaf certificate expired at {not_after}")]
    Expired { not_after: String },
    #[error("the leaf certificate is not valid until {not_before}")]
    NotYetValid { not_before: String },
    #[error("chain order: the key's certificate is #{index} in the file; list the leaf first, then each issuer")]
    LeafNotFirst { index: usize },
    #[error(
        "chain order: certificate #{index} ({subject}) is not issued by certificate #{next} ({next_subject}); list the leaf first, then each issuer"
    )]
    ChainOrder { index: usize, subject: String, next: usize, next_subject: String },
}

impl CertError {
    /// The stable API error code of this failure.
    pub fn code(&self) -> &'static str {
        match self {
            CertError::Pem(_) | CertError::KeyInChain | CertError::X509 { .. } => "invalid_certificate",
            CertError::KeyPem(_) | CertError::Key(_) => "invalid_key",
            CertError::KeyMismatch => "key_mismatch",
            CertError::NameMismatch { .. } => "name_mismatch",
            CertError::Expired { .. } => "certificate_expired",
            CertError::NotYetValid { .. } => "certificate_not_yet_valid",
            CertError::ChainOrder { .. } | CertError::LeafNotFirst { .. } => "chain_order",
        }
    }
}

/// What a valid upload is stored as (the key goes to its own file).
#[derive(Debug, Clone)]
pub struct Validated {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    pub sans: Vec<String>,
    /// SHA-256 of the leaf's DER, lowercase hex.
    pub fingerprint: String,
    pub chain_len: usize,
    /// The certificates, re-encoded as PEM (nothing else from the uploaded file).
    pub chain_pem: String,
}

/// Runs every check on an upload for `domain` at time `now`.
pub fn validate(domain: &DomainName, chain_pem: &str, key: &KeyPem, now: SystemTime) -> Result<Validated, CertError> {
    if chain_pem.contains("PRIVATE KEY-----") {
        return Err(CertError::KeyInChain);
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| CertError::Pem(pem_error(&e)))?;
    if chain.is_empty() {
        return Err(CertError::Pem("no CERTIFICATE block found".into()));
    }
    let parsed: Vec<X509Certificate<'_>> = chain
        .iter()
        .enumerate()
        .map(|(index, der)| match X509Certificate::from_der(der) {
            Ok(([], cert)) => Ok(cert),
            Ok(_) => Err(CertError::X509 { index: index + 1, reason: "trailing bytes after the certificate".into() }),
            Err(e) => Err(CertError::X509 { index: index + 1, reason: e.to_string() }),
        })
        .collect::<Result<_, _>>()?;

    let key_der =
        PrivateKeyDer::from_pem_slice(key.expose().as_bytes()).map_err(|e| CertError::KeyPem(pem_error(&e)))?;
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key_der)
        .map_err(|_| CertError::Key("not an RSA, ECDSA (P-256, P-384) or Ed25519 key this server can use".into()))?;
    let certified = rustls::sign::CertifiedKey::new(chain.clone(), signing_key.clone());
    match certified.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            // The key's certificate further down the file: the chain is out of order.
            let matches = |der: &CertificateDer<'static>| {
                rustls::sign::CertifiedKey::new(vec![der.clone()], signing_key.clone()).keys_match().is_ok()
            };
            if let Some(index) = chain.iter().skip(1).position(matches) {
                return Err(CertError::LeafNotFirst { index: index + 2 });
            }
            return Err(CertError::KeyMismatch);
        }
        Err(e) => return Err(CertError::Key(e.to_string())),
    }

    let leaf = &parsed[0];
    let sans = dns_names(leaf);
    if !sans.iter().any(|name| name_covers(name, domain.as_str())) {
        return Err(CertError::NameMismatch { domain: domain.to_string(), names: sans.join(", ") });
    }
    let validity = leaf.validity();
    let not_before = rfc3339(validity.not_before.timestamp());
    let not_after = rfc3339(validity.not_after.timestamp());
    let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    if now_secs > validity.not_after.timestamp() {
        return Err(CertError::Expired { not_after });
    }
    if now_secs < validity.not_before.timestamp() {
        return Err(CertError::NotYetValid { not_before });
    }
    for (i, pair) in parsed.windows(2).enumerate() {
        let (cert, issuer) = (&pair[0], &pair[1]);
        let issued = cert.issuer().as_raw() == issuer.subject().as_raw()
            && cert.verify_signature(Some(issuer.public_key())).is_ok();
        if !issued {
            return Err(CertError::ChainOrder {
                index: i + 1,
                subject: cert.subject().to_string(),
                next: i + 2,
                next_subject: issuer.subject().to_string(),
            });
        }
    }
    Ok(Validated {
        subject: leaf.subject().to_string(),
        issuer: leaf.issuer().to_string(),
        not_before,
        not_after,
        sans,
        fingerprint: hex::encode(Sha256::digest(&chain[0])),
        chain_len: chain.len(),
        chain_pem: chain.iter().map(|der| pem_encode("CERTIFICATE", der)).collect(),
    })
}

fn dns_names(cert: &X509Certificate<'_>) -> Vec<String> {
    match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(name) => Some(name.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn pem_error(e: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match e {
        Error::NoItemsFound => "no PEM block of the expected kind found".into(),
        Error::MissingSectionEnd { .. } => "a PEM block has no END line".into(),
        Error::IllegalSectionStart { .. } => "a BEGIN line is malformed".into(),
        Error::Base64Decode(_) => "a PEM block is not valid base64".into(),
        _ => "not valid PEM".into(),
    }
}

fn rfc3339(secs: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// PEM with 64-column base64 lines.
fn pem_encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ascii"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Private keys on the control plane: `<data>/keys/<id>.pem`, mode 0600, outside the blob
/// store and the database.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    pub fn new(data: &Path) -> KeyStore {
        KeyStore { dir: data.join("keys") }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.pem"))
    }

    /// temp file (created 0600) → fsync → rename → fsync the directory.
    pub fn write(&self, id: &str, key: &KeyPem) -> std::io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        tmp.write_all(key.expose().as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(self.path(id)).map_err(|e| e.error)?;
        std::fs::File::open(&self.dir)?.sync_all()
    }

    pub fn read(&self, id: &str) -> std::io::Result<KeyPem> {
        std::fs::read_to_string(self.path(id)).map(KeyPem)
    }

    /// Removes a key file; a missing one is not an error.
    pub fn remove(&self, id: &str) {
        match std::fs::remove_file(self.path(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(%error, cert = id, "cannot remove a private key file"),
        }
    }
}

/// A new certificate id: 128 random bits, hex.
pub fn new_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests;
