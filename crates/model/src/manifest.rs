use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Digest;
use crate::rules::SiteRules;

/// One immutable version's content: every file's path, digest, size and content type.
///
/// The manifest is stored as a blob itself (its canonical JSON, see [`Manifest::to_canonical_json`]),
/// so its digest identifies the version's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version of this document.
    pub format: u32,
    /// Keyed by the file's path relative to the bundle root, `/`-separated, no leading slash
    /// (`index.html`, `assets/app.js`). Every key passes [`Manifest::check_path`].
    pub files: BTreeMap<String, FileEntry>,
    /// Serving rules from the bundle's `_redirects`, `_headers` and `switchyard.toml`.
    #[serde(default, skip_serializing_if = "SiteRules::is_empty")]
    pub site: SiteRules,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub sha256: Digest,
    pub size: u64,
    pub content_type: String,
    /// Precompressed variants, stored only when smaller than the file itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub encodings: Vec<Encoded>,
}

/// A precompressed copy of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encoded {
    pub encoding: Encoding,
    pub sha256: Digest,
    pub size: u64,
}

/// A `content-encoding` Switchyard precompresses to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Br,
    Gzip,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Br => "br",
            Encoding::Gzip => "gzip",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("path is empty")]
    EmptyPath,
    #[error("path {0:?} is absolute")]
    Absolute(String),
    #[error("path {0:?} contains a backslash")]
    Backslash(String),
    #[error("path {0:?} contains a NUL or control character")]
    ControlChar(String),
    #[error("path {0:?} contains a '..' segment")]
    DotDot(String),
    #[error("path {0:?} has an empty segment")]
    EmptySegment(String),
    #[error("path {0:?} is longer than 1024 bytes")]
    TooLong(String),
    #[error("manifest is not valid: {0}")]
    Json(String),
}

impl Manifest {
    pub const FORMAT: u32 = 1;

    pub fn new(files: BTreeMap<String, FileEntry>) -> Self {
        Manifest { format: Self::FORMAT, files, site: SiteRules::default() }
    }

    /// The serialized form whose SHA-256 identifies this manifest. Keys are sorted (BTreeMap),
    /// so equal manifests serialize to equal bytes.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest always serializes")
    }

    /// Parses a manifest and checks every path in it.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ManifestError> {
        let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
        if manifest.format != Self::FORMAT {
            return Err(ManifestError::Json(format!("unsupported format {}", manifest.format)));
        }
        for path in manifest.files.keys() {
            Self::check_path(path)?;
        }
        Ok(manifest)
    }

    /// Every blob this manifest names: files and their precompressed variants.
    pub fn blobs(&self) -> impl Iterator<Item = Digest> + '_ {
        self.files.values().flat_map(|f| std::iter::once(f.sha256).chain(f.encodings.iter().map(|e| e.sha256)))
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.values().map(|f| f.size).sum()
    }

    /// Checks that `path` is a clean relative path: no leading `/`, no `.`-only or `..`
    /// segments, no empty segments, no backslashes, no NUL or control characters.
    pub fn check_path(path: &str) -> Result<(), ManifestError> {
        if path.is_empty() {
            return Err(ManifestError::EmptyPath);
        }
        if path.len() > 1024 {
            return Err(ManifestError::TooLong(path.chars().take(64).collect()));
        }
        if path.chars().any(char::is_control) {
            return Err(ManifestError::ControlChar(path.escape_debug().to_string()));
        }
        if path.contains('\\') {
            return Err(ManifestError::Backslash(path.to_owned()));
        }
        if path.starts_with('/') {
            return Err(ManifestError::Absolute(path.to_owned()));
        }
        for segment in path.split('/') {
            match segment {
                ".." => return Err(ManifestError::DotDot(path.to_owned())),
                "" | "." => return Err(ManifestError::EmptySegment(path.to_owned())),
                _ => {}
            }
        }
        Ok(())
    }
}
