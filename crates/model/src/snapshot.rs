use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::Digest;

/// Everything an edge needs to route requests, as of one global revision.
///
/// The control plane publishes a new snapshot whenever anything an edge serves changes
/// (a version is created, a pointer moves). Revisions only grow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub revision: u64,
    /// Keyed by app name.
    pub apps: BTreeMap<String, AppState>,
    /// Merchants' own domains (`shop.example.com`, `*.example.com`) → what they serve.
    /// Absent in snapshots persisted before custom domains existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub domains: BTreeMap<String, DomainRoute>,
    /// Certificates edges serve, by reference only: an edge fetches the chain and key of an
    /// id it does not hold with its edge token. Never carries key material.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certs: Vec<CertRef>,
    /// How edges check preview share links. `None` (the operator made every preview public,
    /// or a snapshot persisted before shared previews existed): every host is public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previews: Option<PreviewAccess>,
}

/// Verification material for preview share links. The signing key never leaves the control
/// plane; edges get the public half.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewAccess {
    /// Ed25519 public key that verifies share tokens, base64url without padding.
    pub key: String,
    /// Ids of share links revoked before they expired (kept until their expiry).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<String>,
}

/// What a custom domain serves and how it treats plain HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRoute {
    pub app: String,
    pub channel: String,
    /// Answer plain HTTP with a 308 to HTTPS when a certificate covers the domain.
    #[serde(default = "yes")]
    pub https_redirect: bool,
    /// `Strict-Transport-Security` sent on HTTPS responses, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsts: Option<Hsts>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hsts {
    pub max_age: u64,
    #[serde(default)]
    pub include_subdomains: bool,
}

impl Hsts {
    /// The header value, e.g. `max-age=31536000; includeSubDomains`.
    pub fn header_value(&self) -> String {
        if self.include_subdomains {
            format!("max-age={}; includeSubDomains", self.max_age)
        } else {
            format!("max-age={}", self.max_age)
        }
    }
}

/// A certificate uploaded for `domain` (the name edges select it by, exact or wildcard).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRef {
    pub id: String,
    pub domain: String,
    /// SHA-256 of the leaf certificate's DER, lowercase hex.
    pub fingerprint: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppState {
    /// Channel name → version number.
    pub channels: BTreeMap<String, u64>,
    /// Version number → that version's manifest.
    pub versions: BTreeMap<u64, VersionRef>,
    /// The live channel's traffic split while one is on: 2 to 4 versions whose weights (in
    /// percent) sum to 100. Empty: live traffic goes to `channels["live"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<SplitShare>,
    /// Skew protection, per channel: versions the channel served recently, each with the time
    /// until which a visitor who loaded a page from it keeps getting its assets from it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub recent: BTreeMap<String, Vec<Retained>>,
    /// Channels other than `live` that anyone may open without a share link.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub public: BTreeSet<String>,
}

/// One version's share of new visitors in a traffic split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitShare {
    pub version: u64,
    /// Percent of new visitors, 1 to 99.
    pub weight: u8,
}

/// A version a channel no longer serves to new page loads, kept for its visitors' assets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retained {
    pub version: u64,
    /// Unix seconds after which the edge stops serving it to those visitors.
    pub until: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRef {
    /// Digest of the version's manifest.
    pub manifest: Digest,
    /// When the version was created, in seconds since the Unix epoch (its `last-modified`).
    pub created: u64,
}

impl Snapshot {
    /// Every manifest digest this snapshot references, without repeats.
    pub fn manifest_digests(&self) -> Vec<Digest> {
        let mut all: Vec<Digest> = self.apps.values().flat_map(|a| a.versions.values().map(|v| v.manifest)).collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}
