//! How a shopper's requests are tied to the app and version that served them: the cookies the
//! edge sets and reads, the visitor id, and the stable bucket a visitor falls into for a
//! traffic split. Shared by the edge (sets and reads them), the control plane and the CLI.
//!
//! - `sy_v=<app>.v<N>`: the version that served the visitor's last page (readable by the
//!   app's JavaScript, `SameSite=Lax`, `Secure` over HTTPS). Events are attributed to it;
//!   skew protection keeps asset requests on it.
//! - `sy_id=<32 hex digits>`: a random visitor id (128 bits). A traffic split assigns by
//!   [`split_bucket`] of it, so every edge puts the same visitor on the same version.

use sha2::{Digest as _, Sha256};

/// Cookie naming the version that served the visitor's last page.
pub const VERSION_COOKIE: &str = "sy_v";
/// Cookie carrying the visitor id.
pub const VISITOR_COOKIE: &str = "sy_id";

/// The value of cookie `name` in one `Cookie` request header (`a=1; b=2`), if present.
/// Surrounding double quotes are kept: none of Switchyard's cookie values use them.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name).then(|| v.trim())
    })
}

/// `cart.v12` for app `cart`, version 12.
pub fn version_tag(app: &str, version: u64) -> String {
    format!("{app}.v{version}")
}

/// Parses a `sy_v` value (`cart.v12`) into (`cart`, 12). `None` for anything else.
pub fn parse_version_tag(tag: &str) -> Option<(&str, u64)> {
    let (app, version) = tag.rsplit_once('.')?;
    if app.is_empty() {
        return None;
    }
    Some((app, crate::parse_version_label(version.strip_prefix('v')?)?))
}

/// A visitor id: 128 random bits, shown as 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VisitorId(pub u128);

impl VisitorId {
    /// Parses exactly 32 hex digits (either case). Anything else is not a visitor id.
    pub fn parse(s: &str) -> Option<VisitorId> {
        // Read on every request that carries the cookie: one pass, no radix parser.
        let bytes = s.as_bytes();
        if bytes.len() != 32 {
            return None;
        }
        let mut n: u128 = 0;
        for &b in bytes {
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => return None,
            };
            n = (n << 4) | u128::from(digit);
        }
        Some(VisitorId(n))
    }

    /// The cookie value: 32 lowercase hex digits.
    pub fn to_hex(self) -> String {
        format!("{:032x}", self.0)
    }
}

/// The visitor's bucket in `0..100` for `app`'s traffic split. The same on every edge and
/// every build (SHA-256 of the app name and the id), independent between apps.
pub fn split_bucket(app: &str, visitor: VisitorId) -> u8 {
    let mut h = Sha256::new();
    h.update(app.as_bytes());
    h.update([0]);
    h.update(visitor.0.to_be_bytes());
    let d = h.finalize();
    let n = u64::from_be_bytes(d[..8].try_into().expect("8 bytes"));
    (n % 100) as u8
}

#[cfg(test)]
mod tests;
