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
}
