//! The fleet's JSON shapes: what an edge reports in its heartbeat, how the control plane lists
//! edges (`GET /v1/edges`) and what a propagation wait answers (`GET /v1/edges/wait`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /v1/edge/heartbeat`: an edge's report of what it serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub name: String,
    pub region: String,
    /// The revision of the snapshot the edge has applied (0: nothing yet).
    pub revision: u64,
    /// App → the version numbers the edge holds and serves.
    #[serde(default)]
    pub versions: BTreeMap<String, Vec<u64>>,
    /// The last sync failure, if the last attempt failed (control plane unreachable, …).
    #[serde(default)]
    pub error: Option<String>,
    /// Apps held back on an earlier revision because their manifest or blobs could not be
    /// fetched: app → why.
    #[serde(default)]
    pub app_errors: BTreeMap<String, String>,
}

/// How the control plane sees one edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeState {
    /// Reported recently, at the current revision, with no held-back app.
    InSync,
    /// Reported recently, behind the current revision or with an app held back.
    Syncing,
    /// No report for longer than the stale threshold.
    Stale,
    /// No report for longer than the unreachable threshold.
    Unreachable,
}

impl EdgeState {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeState::InSync => "in sync",
            EdgeState::Syncing => "syncing",
            EdgeState::Stale => "stale",
            EdgeState::Unreachable => "unreachable",
        }
    }

    /// In sync or syncing: the edge is reporting, so a propagation wait counts on it.
    pub fn is_healthy(self) -> bool {
        matches!(self, EdgeState::InSync | EdgeState::Syncing)
    }
}

/// One row of `GET /v1/edges`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeInfo {
    pub name: String,
    pub region: String,
    pub revision: u64,
    /// Revisions behind the control plane's current one.
    pub lag: u64,
    /// RFC 3339 time of the last heartbeat.
    pub last_seen: String,
    /// Milliseconds since the last heartbeat.
    pub last_seen_ms_ago: u64,
    pub state: EdgeState,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub app_errors: BTreeMap<String, String>,
    #[serde(default)]
    pub versions: BTreeMap<String, Vec<u64>>,
}

/// `GET /v1/edges`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fleet {
    /// The control plane's current revision.
    pub revision: u64,
    pub edges: Vec<EdgeInfo>,
}

/// One edge in the answer to a propagation wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeProgress {
    pub name: String,
    pub region: String,
    pub revision: u64,
    /// Milliseconds from the control plane publishing the awaited revision to this edge's
    /// first report at or above it; `None` while it lags.
    pub took_ms: Option<u64>,
    #[serde(default)]
    pub error: Option<String>,
}

/// `GET /v1/edges/wait?revision=N`: answers once every healthy edge reports a revision ≥ N
/// (`done`), or when the timeout runs out (`done: false`, `lagging` names the edges).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitResult {
    pub revision: u64,
    pub done: bool,
    /// Healthy edges that reached the revision.
    pub reached: Vec<EdgeProgress>,
    /// Healthy edges still behind (or holding the awaited app back).
    pub lagging: Vec<EdgeProgress>,
    /// Edges not counted because they are stale or unreachable.
    pub unhealthy: Vec<EdgeProgress>,
}
