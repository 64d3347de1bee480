use std::collections::BTreeMap;

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
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppState {
    /// Channel name → version number.
    pub channels: BTreeMap<String, u64>,
    /// Version number → that version's manifest.
    pub versions: BTreeMap<u64, VersionRef>,
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
