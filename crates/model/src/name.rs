use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A tenant, app or channel name: a DNS label (`[a-z0-9-]`, 1–63 characters, no leading or
/// trailing hyphen) that also contains no `--`, because `--` separates the channel or version
/// from the app in platform host names (`preview--cart.example.net`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Name(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("name is empty")]
    Empty,
    #[error("name {0:?} is longer than 63 characters")]
    TooLong(String),
    #[error("name {name:?} has {ch:?}: use lowercase letters, digits and single hyphens")]
    BadChar { name: String, ch: char },
    #[error("name {0:?} starts or ends with a hyphen")]
    EdgeHyphen(String),
    #[error("name {0:?} contains \"--\", which separates channel and app in host names")]
    DoubleHyphen(String),
    #[error("channel name {0:?} looks like a version number; versions are addressed as v<N> already")]
    LooksLikeVersion(String),
}

impl Name {
    pub fn new(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.len() > 63 {
            return Err(NameError::TooLong(s.chars().take(80).collect()));
        }
        if let Some(ch) = s.chars().find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-')) {
            return Err(NameError::BadChar { name: s.to_owned(), ch });
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(NameError::EdgeHyphen(s.to_owned()));
        }
        if s.contains("--") {
            return Err(NameError::DoubleHyphen(s.to_owned()));
        }
        Ok(Name(s.to_owned()))
    }

    /// A channel name: a [`Name`] that cannot be confused with a version (`v12`).
    pub fn channel(s: &str) -> Result<Self, NameError> {
        let name = Name::new(s)?;
        if crate::parse_version_label(s).is_some() && s.starts_with('v') {
            return Err(NameError::LooksLikeVersion(s.to_owned()));
        }
        Ok(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Name::new(&s).map_err(serde::de::Error::custom)
    }
}
