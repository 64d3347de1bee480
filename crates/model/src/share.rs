//! Preview share links: the signed token that opens a private preview or version host, how it
//! is written and read, the rules a token must pass, and the API shapes of share links. Shared
//! by the control plane (which signs tokens), the edge (which verifies them) and the CLI.
//!
//! A token is `base64url(payload) "." base64url(signature)`, both without padding, where the
//! payload is the JSON of [`ShareClaims`] and the signature is Ed25519 over the payload bytes
//! exactly as sent. This module only encodes and parses: signing and verifying need the key
//! (the control plane signs with `ring`, edges verify with the public half from
//! `Snapshot.previews`), and this crate does no cryptography beyond hashing.
//!
//! Invariants:
//! - [`parse`] refuses anything longer than [`MAX_TOKEN_LEN`] before decoding it, any byte
//!   outside base64url, padding, non-canonical base64, a signature that is not 64 bytes and a
//!   payload that is not exactly the claims (unknown fields are refused).
//! - A parsed token is only a claim: the caller must verify [`SignedToken::signature`] over
//!   [`SignedToken::payload`], then [`ShareClaims::check`] it against the host's app, scope and
//!   the time, and look its id up in the revoked list.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::hosts::Selector;
use crate::version_label;

/// The query parameter a share link carries its token in.
pub const SHARE_PARAM: &str = "sy_share";
/// The cookie the edge sets from a share link, for the host that served it.
pub const SHARE_COOKIE: &str = "sy_share";
/// Longest token accepted; real ones are about 200 bytes.
pub const MAX_TOKEN_LEN: usize = 512;
/// Longest a share link may live: 30 days.
pub const MAX_EXPIRY_SECS: u64 = 30 * 24 * 60 * 60;
/// Bytes of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// What a share link grants: `app`'s host for `scope` (a channel name like `preview`, or a
/// version label like `v3`) until `exp` (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareClaims {
    /// 128 random bits, 32 lowercase hex digits: what revocation names.
    pub id: String,
    pub app: String,
    pub scope: String,
    pub exp: u64,
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("the token is longer than 512 bytes")]
    TooLong,
    #[error("the token is not base64url <payload>.<signature>")]
    Encoding,
    #[error("the token's payload is not a share link's claims")]
    Payload,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the share link expired")]
    Expired,
    #[error("the share link was revoked")]
    Revoked,
    #[error("the share link is for another app")]
    OtherApp,
    #[error("the share link is for another preview")]
    OtherScope,
}

/// A token split into its parts; not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedToken {
    pub claims: ShareClaims,
    /// The payload bytes the signature covers.
    pub payload: Vec<u8>,
    pub signature: [u8; SIGNATURE_LEN],
}

/// The scope string of a host: the channel name, or `v<N>` for a version host.
pub fn scope_of(selector: &Selector) -> String {
    match selector {
        Selector::Channel(c) => c.clone(),
        Selector::Version(n) => version_label(*n),
    }
}

/// Whether `s` is a share id: 32 lowercase hex digits.
pub fn is_share_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The text form of an Ed25519 public key in `Snapshot.previews.key`: base64url, no padding.
pub fn public_key_text(key: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// Reads `Snapshot.previews.key` back into the 32 bytes of an Ed25519 public key.
pub fn parse_public_key(text: &str) -> Option<[u8; 32]> {
    if text.len() > 64 {
        return None;
    }
    URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()
}

/// Writes the token for `claims`, signing the payload bytes with `sign`.
pub fn encode<S: AsRef<[u8]>>(claims: &ShareClaims, sign: impl FnOnce(&[u8]) -> S) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    let signature = sign(&payload);
    format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

/// Splits and decodes a token (see the module's invariants). Does not verify it.
pub fn parse(token: &str) -> Result<SignedToken, ShareError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(ShareError::TooLong);
    }
    let (payload, signature) = token.split_once('.').ok_or(ShareError::Encoding)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| ShareError::Encoding)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| ShareError::Encoding)?;
    let signature: [u8; SIGNATURE_LEN] = signature.try_into().map_err(|_| ShareError::Encoding)?;
    let claims: ShareClaims = serde_json::from_slice(&payload).map_err(|_| ShareError::Payload)?;
    let name_like = |s: &str| !s.is_empty() && s.len() <= 63;
    if !is_share_id(&claims.id) || !name_like(&claims.app) || !name_like(&claims.scope) {
        return Err(ShareError::Payload);
    }
    Ok(SignedToken { claims, payload, signature })
}

impl ShareClaims {
    /// Whether these (verified) claims open `app`'s host for `scope` at `now` (Unix seconds).
    pub fn check(&self, app: &str, scope: &str, now: u64) -> Result<(), ShareError> {
        if self.app != app {
            return Err(ShareError::OtherApp);
        }
        if self.scope != scope {
            return Err(ShareError::OtherScope);
        }
        if self.exp <= now {
            return Err(ShareError::Expired);
        }
        Ok(())
    }
}

/// The value of the first `sy_share` parameter in a query string, as sent.
pub fn query_token(query: &str) -> Option<&str> {
    query.split('&').find_map(|pair| pair.strip_prefix(SHARE_PARAM)?.strip_prefix('='))
}

/// `path` and what remains of `query` without any `sy_share` parameter: where the edge sends
/// a share link's visitor once the cookie is set.
pub fn without_token(path: &str, query: &str) -> String {
    let rest: Vec<&str> =
        query.split('&').filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(SHARE_PARAM)).collect();
    if rest.is_empty() { path.to_owned() } else { format!("{path}?{}", rest.join("&")) }
}

/// A share link as `POST /v1/apps/{app}/shares` answers it: the only answer that carries the
/// link (its token is a bearer secret; the control plane keeps only the id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareCreated {
    pub id: String,
    pub app: String,
    /// A channel name or a version label (`v3`).
    pub scope: String,
    pub url: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// A share link as `GET /v1/apps/{app}/shares` lists it (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareInfo {
    pub id: String,
    pub scope: String,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub state: String,
}

/// `GET /v1/apps/{app}/shares`: the app's public channels and its share links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previews {
    pub app: String,
    /// Channels other than `live` that anyone may open.
    pub public: Vec<String>,
    pub shares: Vec<ShareInfo>,
}

/// `PUT /v1/apps/{app}/channels/{channel}/visibility`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visibility {
    pub app: String,
    pub channel: String,
    pub public: bool,
    /// The channel's URL.
    pub url: String,
}

#[cfg(test)]
mod tests;
