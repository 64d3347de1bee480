//! JSON shapes of the control-plane API that both sides build or read: the control plane
//! serializes them, the client deserializes them. One definition, so the two cannot drift.

use serde::{Deserialize, Serialize};

/// One version of an app, as `GET /v1/apps/{app}/versions` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// `v3`
    pub version: String,
    pub number: u64,
    /// Digest of the version's manifest.
    pub manifest: String,
    pub files: u64,
    pub bytes: u64,
    pub message: Option<String>,
    pub created_by: String,
    pub created_at: String,
    /// Channels pointing at this version now.
    pub channels: Vec<String>,
}

/// One pointer move (a release record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub id: i64,
    pub channel: String,
    pub from: Option<String>,
    pub to: String,
    /// `deploy`, `promote` or `rollback`.
    pub kind: String,
    pub actor: String,
    pub at: String,
    pub revision: u64,
    /// Set in the answer to a promote or rollback; absent in listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The URL of the channel that moved; set like `app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The traffic split this move of `live` ended, if one was on; set like `app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_split: Option<Vec<SplitWeight>>,
}

/// A merchant's own domain, as `GET /v1/domains` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainInfo {
    pub name: String,
    pub app: String,
    pub channel: String,
    pub tenant: String,
    pub https_redirect: bool,
    /// HSTS `max-age` in seconds, if HSTS is on.
    pub hsts_max_age: Option<u64>,
    pub hsts_include_subdomains: bool,
    /// Fingerprint of the certificate uploaded for this name, if any.
    pub cert: Option<String>,
    pub created_at: String,
}

/// An uploaded certificate, as `GET /v1/certs` lists it. Never carries the private key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    pub id: String,
    pub domain: String,
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    /// DNS names of the leaf's subjectAltName extension.
    pub sans: Vec<String>,
    /// SHA-256 of the leaf certificate's DER, lowercase hex.
    pub fingerprint: String,
    /// Certificates in the uploaded chain, leaf included.
    pub chain_len: usize,
    pub created_at: String,
}

/// One version's weight in a traffic split, as the API takes and shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitWeight {
    /// `v12` (or `12`).
    pub version: String,
    /// Percent of new visitors. Taken as any integer so that out-of-range weights are refused
    /// by name (1 to 99) rather than as a JSON type error.
    pub weight: i64,
}

/// `PUT /v1/apps/{app}/split`: the live channel's new split, 2 to 4 versions whose weights
/// (1 to 99 each) sum to 100.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitRequest {
    pub weights: Vec<SplitWeight>,
}

/// A traffic split: the one in force (`PUT` answer, `GET /v1/apps/{app}`), or one of its
/// history (`GET /v1/apps/{app}/split`, `ended_at` set once it ended).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitInfo {
    pub weights: Vec<SplitWeight>,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    pub actor: String,
    /// The revision that started it.
    pub revision: u64,
}

/// `GET /v1/apps/{app}/split`: the split in force (if any) and every split the app had,
/// oldest first, so the time each version got traffic can be shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitState {
    pub app: String,
    pub split: Option<SplitInfo>,
    pub history: Vec<SplitInfo>,
}
