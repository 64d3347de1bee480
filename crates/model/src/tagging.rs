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

const INVALID: u8 = 0xff;
/// Each byte's value as a hex digit, or [`INVALID`].
const HEX_DIGIT: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// A visitor id: 128 random bits, shown as 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VisitorId(pub u128);

impl VisitorId {
    /// Parses exactly 32 hex digits (either case). Anything else is not a visitor id.
    pub fn parse(s: &str) -> Option<VisitorId> {
        VisitorId::parse_bytes(s.as_bytes())
    }

    /// [`VisitorId::parse`] on the cookie's bytes, as the edge reads it on every request that
    /// carries one: a table look-up per digit into two 64-bit halves, no UTF-8 check.
    pub fn parse_bytes(bytes: &[u8]) -> Option<VisitorId> {
        let digits: &[u8; 32] = bytes.try_into().ok()?;
        // No branch per digit: an invalid one sets the high bits of `seen`.
        let mut seen = 0u8;
        let mut id = 0u128;
        for &b in digits {
            let d = HEX_DIGIT[usize::from(b)];
            seen |= d;
            id = (id << 4) | u128::from(d & 0xf);
        }
        (seen & 0xf0 == 0).then_some(VisitorId(id))
    }

    /// The cookie value: 32 lowercase hex digits.
    pub fn to_hex(self) -> String {
        format!("{:032x}", self.0)
    }

    /// [`VisitorId::to_hex`]'s digits, as the edge writes them for every new visitor: eight at
    /// a time in a `u64`, each nibble spread to a byte, then moved to `0`..`9` or `a`..`f`
    /// without a branch (a third of the instructions of a table look-up per byte).
    #[inline]
    pub fn hex_digits(self) -> [u8; 32] {
        let [a, b, c, d] = [96, 64, 32, 0].map(|shift| hex_word((self.0 >> shift) as u32).to_be_bytes());
        let mut out = [0u8; 32];
        out[..8].copy_from_slice(&a);
        out[8..16].copy_from_slice(&b);
        out[16..24].copy_from_slice(&c);
        out[24..].copy_from_slice(&d);
        out
    }
}

/// The eight hex digits of `word` in the bytes of a `u64`, most significant first.
#[inline]
fn hex_word(word: u32) -> u64 {
    // 0x89abcdef → 0x0008_0009_000a_000b... in three steps: halves, bytes, nibbles apart.
    let mut v = u64::from(word);
    v = (v | (v << 16)) & 0x0000_ffff_0000_ffff;
    v = (v | (v << 8)) & 0x00ff_00ff_00ff_00ff;
    v = (v | (v << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    // 1 in each byte whose nibble is 10 or more (nibble + 6 carries into bit 4; no byte
    // overflows into the next).
    let letters = ((v + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    // '0' + nibble, and 'a' - '0' - 10 = 39 more for the letters.
    v + 0x3030_3030_3030_3030 + letters * 39
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
