//! Merchants' own domain names (`shop.example.com`, `*.example.com`) and the rules by which a
//! certificate name covers a host name.
//!
//! A domain name here is lowercase ASCII (IDNs arrive as punycode `xn--…` labels), at most 253
//! characters, at least two labels of 1–63 characters `[a-z0-9-]` with no leading or trailing
//! hyphen, a top-level label that is not all digits (so no IP addresses), and optionally a
//! leading `*.` wildcard label followed by at least two labels.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A validated, lowercase domain name, possibly a wildcard (`*.example.com`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DomainName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    #[error("domain name is empty")]
    Empty,
    #[error("domain name is longer than 253 characters")]
    TooLong,
    #[error("domain {0:?} needs at least two labels, like shop.example.com")]
    TooFewLabels(String),
    #[error("domain {name:?} has an empty label or a label longer than 63 characters")]
    BadLabelLength { name: String },
    #[error("domain {name:?} has {ch:?}: use letters, digits, hyphens and dots (punycode for IDNs)")]
    BadChar { name: String, ch: char },
    #[error("domain {0:?} has a label that starts or ends with a hyphen")]
    EdgeHyphen(String),
    #[error("domain {0:?}: a wildcard may only be the whole first label, as in *.example.com")]
    BadWildcard(String),
    #[error("domain {0:?} looks like an IP address; use a DNS name")]
    Numeric(String),
}

impl DomainName {
    /// Validates `s`, lowering its case and dropping one trailing dot.
    pub fn new(s: &str) -> Result<Self, DomainError> {
        let s = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
        if s.is_empty() {
            return Err(DomainError::Empty);
        }
        if s.len() > 253 {
            return Err(DomainError::TooLong);
        }
        let (wildcard, rest) = match s.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, s.as_str()),
        };
        if rest.contains('*') {
            return Err(DomainError::BadWildcard(s.clone()));
        }
        let labels: Vec<&str> = rest.split('.').collect();
        if labels.len() < 2 {
            return Err(if wildcard {
                DomainError::BadWildcard(s.clone())
            } else {
                DomainError::TooFewLabels(s.clone())
            });
        }
        for label in &labels {
            if label.is_empty() || label.len() > 63 {
                return Err(DomainError::BadLabelLength { name: s.clone() });
            }
            if let Some(ch) = label.chars().find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-')) {
                return Err(DomainError::BadChar { name: s.clone(), ch });
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(DomainError::EdgeHyphen(s.clone()));
            }
        }
        if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
            return Err(DomainError::Numeric(s.clone()));
        }
        Ok(DomainName(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }

    /// Whether this name is `base` or lies under it (`x.base`, `*.base`).
    pub fn is_under(&self, base: &str) -> bool {
        let name = self.0.strip_prefix("*.").unwrap_or(&self.0);
        name == base || name.strip_suffix(base).is_some_and(|prefix| prefix.ends_with('.'))
    }
}

/// Whether a certificate name (`shop.example.com` or `*.example.com`, any case) covers `host`
/// (which may itself be a wildcard domain). A wildcard covers exactly one label: `*.example.com`
/// covers `a.example.com` and `*.example.com`, not `example.com` or `a.b.example.com`.
pub fn name_covers(cert_name: &str, host: &str) -> bool {
    let cert_name = cert_name.to_ascii_lowercase();
    if cert_name == host {
        return true;
    }
    match (cert_name.strip_prefix("*."), host.split_once('.')) {
        (Some(suffix), Some((first, rest))) => first != "*" && !first.is_empty() && rest == suffix,
        _ => false,
    }
}

/// The wildcard name one label above `host`: `a.example.com` → `*.example.com` (as the part
/// after `*.`, `example.com`), or `None` for a single label.
pub fn parent_of(host: &str) -> Option<&str> {
    host.split_once('.').map(|(_, rest)| rest).filter(|rest| rest.contains('.'))
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for DomainName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DomainName::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
