//! Bearer tokens: generation, hashing and the principals they stand for.
//!
//! Invariants:
//! - A token's plaintext exists only in the response that creates it (and, for the operator
//!   token, in the file or environment the operator chose). The store keeps its SHA-256.
//! - Tokens and their hashes are never logged; `Debug` of a [`TokenHash`] is redacted.

use std::fmt;

use rand::RngCore;
use sha2::{Digest as _, Sha256};

/// Who is calling the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The operator: every tenant, app and edge.
    Admin,
    /// A merchant: only this tenant's apps.
    Tenant { id: i64, name: String },
    /// An edge node: the snapshot and blobs, nothing else.
    Edge { label: String },
}

impl Principal {
    /// How this principal is named in release records.
    pub fn actor(&self) -> String {
        match self {
            Principal::Admin => "operator".to_owned(),
            Principal::Tenant { name, .. } => format!("tenant:{name}"),
            Principal::Edge { label } => format!("edge:{label}"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum TokenKind {
    Admin,
    Tenant,
    Edge,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Admin => "admin",
            TokenKind::Tenant => "tenant",
            TokenKind::Edge => "edge",
        }
    }

    /// A recognisable prefix, so leaked tokens are easy to spot and to scan for.
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::Admin => "sya_",
            TokenKind::Tenant => "syt_",
            TokenKind::Edge => "sye_",
        }
    }
}

/// A new random token: a kind prefix and 256 random bits in hex.
pub fn generate(kind: TokenKind) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{}{}", kind.prefix(), hex::encode(bytes))
}

/// The stored form of a token. Tokens carry 256 bits of entropy, so a plain SHA-256 is enough
/// (no salt or slow hash is needed against guessing).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(token: &str) -> TokenHash {
        TokenHash(hex::encode(Sha256::digest(token.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}
