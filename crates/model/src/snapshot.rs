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
    /// Version number → digest of that version's manifest.
    pub versions: BTreeMap<u64, Digest>,
}

impl Snapshot {
    /// Every manifest digest this snapshot references, without repeats.
    pub fn manifest_digests(&self) -> Vec<Digest> {
        let mut all: Vec<Digest> = self
            .apps
            .values()
            .flat_map(|a| a.versions.values().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}
