//! A version's serving rules, as parsed at deploy time from the bundle's `_redirects`,
//! `_headers` and `switchyard.toml` (parsing lives in `switchyard-bundle`), and the path
//! patterns both kinds of rule match with.
//!
//! Patterns follow Netlify and Cloudflare Pages: `/blog/*` (a splat: the rest of the path,
//! `:splat` in the target), `/p/:id` (a placeholder: one segment), literal segments otherwise.
//! A trailing slash on the request path is ignored when matching.

use serde::{Deserialize, Serialize};

/// Serving rules of one version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteRules {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<Redirect>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderRule>,
    /// File served for navigation requests that match nothing (e.g. `index.html`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spa_fallback: Option<String>,
    /// Serve `/about` from `about.html`, and redirect `/about.html` to `/about`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clean_urls: bool,
    #[serde(default, skip_serializing_if = "TrailingSlash::is_keep")]
    pub trailing_slash: TrailingSlash,
    /// File served with status 404 when nothing matches (default `404.html` when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_found: Option<String>,
}

impl SiteRules {
    pub fn is_empty(&self) -> bool {
        self == &SiteRules::default()
    }
}

/// One `_redirects` rule: `from to [status][!]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    pub from: String,
    pub to: String,
    /// 200 (rewrite), 301, 302, 303, 307, 308, 404 or 410.
    pub status: u16,
    /// `!`: applies even when a file exists at `from`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

/// One `_headers` block: a path pattern, headers to set and default headers to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRule {
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<(String, String)>,
    /// Lower-case header names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrailingSlash {
    /// `/dir/` serves `dir/index.html`; `/dir` redirects to `/dir/` (as nginx does).
    #[default]
    Keep,
    /// Paths without a file extension redirect to the same path with a trailing slash.
    Add,
    /// Paths with a trailing slash redirect to the path without it.
    Remove,
}

impl TrailingSlash {
    pub fn is_keep(&self) -> bool {
        *self == TrailingSlash::Keep
    }
}

/// A compiled path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    segments: Vec<Segment>,
    splat: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Placeholder(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatternError {
    #[error("pattern {0:?} must start with '/'")]
    NotAbsolute(String),
    #[error("in {0:?}, '*' may only stand as the last segment")]
    SplatNotLast(String),
    #[error("in {0:?}, placeholder ':{1}' is not a name of letters, digits and '_'")]
    BadPlaceholder(String, String),
}

/// What a pattern captured from a path.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Captures<'p> {
    pub named: Vec<(&'p str, String)>,
    pub splat: Option<String>,
}

impl Pattern {
    pub fn parse(pattern: &str) -> Result<Pattern, PatternError> {
        let Some(rest) = pattern.strip_prefix('/') else {
            return Err(PatternError::NotAbsolute(pattern.to_owned()));
        };
        let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let mut segments = Vec::with_capacity(parts.len());
        let mut splat = false;
        for (i, part) in parts.iter().enumerate() {
            if *part == "*" {
                if i + 1 != parts.len() {
                    return Err(PatternError::SplatNotLast(pattern.to_owned()));
                }
                splat = true;
            } else if let Some(name) = part.strip_prefix(':') {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(PatternError::BadPlaceholder(pattern.to_owned(), name.to_owned()));
                }
                segments.push(Segment::Placeholder(name.to_owned()));
            } else if part.contains('*') {
                return Err(PatternError::SplatNotLast(pattern.to_owned()));
            } else {
                segments.push(Segment::Literal((*part).to_owned()));
            }
        }
        Ok(Pattern { segments, splat })
    }

    /// Placeholder names this pattern defines (`splat` for a trailing `*`).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Placeholder(n) => Some(n.as_str()),
                Segment::Literal(_) => None,
            })
            .chain(self.splat.then_some("splat"))
    }

    /// Whether `path` matches: what [`Pattern::matches`] decides, without capturing (no
    /// allocation; `_headers` rules are checked on every request).
    pub fn is_match(&self, path: &str) -> bool {
        self.walk(path, |_, _| {}).is_some_and(|rest| self.splat || rest.bytes().all(|b| b == b'/'))
    }

    /// Matches `path` segment by segment (empty segments skipped), calling `placeholder`
    /// with each placeholder's name and part; the rest of the path after the last segment.
    fn walk<'p, 's>(&'p self, path: &'s str, mut placeholder: impl FnMut(&'p str, &'s str)) -> Option<&'s str> {
        let mut rest = path;
        for segment in &self.segments {
            rest = rest.trim_start_matches('/');
            let end = rest.bytes().position(|b| b == b'/').unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            let part = &rest[..end];
            match segment {
                Segment::Literal(lit) if lit == part => {}
                Segment::Literal(_) => return None,
                Segment::Placeholder(name) => placeholder(name, part),
            }
            rest = &rest[end..];
        }
        Some(rest)
    }

    /// Matches a decoded request path (leading `/`; a trailing `/` is ignored).
    pub fn matches(&self, path: &str) -> Option<Captures<'_>> {
        let mut named = Vec::new();
        let rest = self.walk(path, |name, part| named.push((name, part.to_owned())))?;
        let splat = if self.splat {
            // The rest's non-empty segments joined by '/': the rest itself, trimmed, unless it
            // holds an empty segment.
            let rest = rest.trim_matches('/');
            Some(if rest.as_bytes().windows(2).any(|w| w == b"//") {
                rest.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/")
            } else {
                rest.to_owned()
            })
        } else if rest.bytes().all(|b| b == b'/') {
            None
        } else {
            return None;
        };
        Some(Captures { named, splat })
    }
}

impl Captures<'_> {
    /// Replaces `:splat` and `:name` in a target with what was captured.
    pub fn expand(&self, target: &str) -> String {
        let mut out = target.to_owned();
        if let Some(splat) = &self.splat {
            out = out.replace(":splat", splat);
        }
        // Longest names first, so `:id` does not eat the start of `:idx`.
        let mut named: Vec<&(&str, String)> = self.named.iter().collect();
        named.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
        for (name, value) in named {
            out = out.replace(&format!(":{name}"), value);
        }
        out
    }
}
