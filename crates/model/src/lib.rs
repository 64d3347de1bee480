//! Switchyard's shared vocabulary: the types that the control plane, the edge and the CLI
//! exchange. Pure data and validation; this crate does no I/O and knows nothing of HTTP,
//! SQLite or the filesystem.
//!
//! - [`Digest`]: a SHA-256, the identity of every stored blob.
//! - [`Name`]: a validated DNS label (tenant, app and channel names).
//! - [`Manifest`]: one immutable version's files (path → digest, size, content type).
//! - [`Snapshot`]: everything an edge needs to route, published under a global revision.
//! - [`hosts`]: how platform host names map to (app, channel or version).
//! - [`tagging`]: the `sy_v` and `sy_id` cookies and the stable traffic-split bucket.
//! - [`share`]: preview share tokens (encoding and checks; signing and verifying are the
//!   control plane's and the edge's).
//! - [`stats`]: per-version counts (visitor sketch, fixed-point revenue), edge reports and
//!   the `stats` answer.

pub mod api;
mod digest;
pub mod domain;
pub mod fleet;
pub mod hosts;
mod manifest;
mod name;
pub mod rules;
pub mod share;
mod snapshot;
pub mod stats;
pub mod tagging;

pub use digest::{Digest, DigestError, Sha256Writer};
pub use domain::{DomainError, DomainName};
pub use hosts::Selector;
pub use manifest::{Encoded, Encoding, FileEntry, Manifest, ManifestError};
pub use name::{Name, NameError};
pub use rules::SiteRules;
pub use snapshot::{AppState, CertRef, DomainRoute, Hsts, PreviewAccess, Retained, Snapshot, SplitShare, VersionRef};

/// The channel that live traffic follows.
pub const LIVE: &str = "live";
/// The channel a deploy goes to when neither `--promote` nor `--channel` is given.
pub const PREVIEW: &str = "preview";

/// Formats a version number the way users see it: `v12`.
pub fn version_label(n: u64) -> String {
    format!("v{n}")
}

/// Parses `v12` (or `12`) into 12. Returns `None` for anything else, including `v0`.
pub fn parse_version_label(s: &str) -> Option<u64> {
    let digits = s.strip_prefix('v').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests;
