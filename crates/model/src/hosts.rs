//! Platform host names under a base domain:
//!
//! | host                      | serves                      |
//! |---------------------------|-----------------------------|
//! | `<app>.<base>`            | the `live` channel          |
//! | `<channel>--<app>.<base>` | that channel                |
//! | `v<N>--<app>.<base>`      | exactly version N           |

use crate::{LIVE, version_label};

/// What a host name selects within an app.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    Channel(String),
    Version(u64),
}

impl Selector {
    /// The label that stands before `--` in a host name, or `None` for live.
    fn prefix(&self) -> Option<String> {
        match self {
            Selector::Channel(c) if c == LIVE => None,
            Selector::Channel(c) => Some(c.clone()),
            Selector::Version(n) => Some(version_label(*n)),
        }
    }
}

/// The platform host name for `app` and `selector` under `base` (no port).
pub fn platform_host(app: &str, selector: &Selector, base: &str) -> String {
    match selector.prefix() {
        None => format!("{app}.{base}"),
        Some(prefix) => format!("{prefix}--{app}.{base}"),
    }
}

/// Lower-cases a `Host` header value and strips its port and a trailing dot. Borrows when
/// nothing needs changing (the common case on the request path).
pub fn normalize_host(host: &str) -> std::borrow::Cow<'_, str> {
    // One backward pass over the bytes (every request runs this): the port is the digits
    // after the last ':', if nothing else follows it; an IPv6 literal without a port ends in
    // ']'.
    let b = host.as_bytes();
    let mut end = b.len();
    while end > 0 && b[end - 1].is_ascii_digit() {
        end -= 1;
    }
    if end == 0 || b[end - 1] != b':' {
        end = b.len();
    } else {
        end -= 1;
    }
    while end > 0 && b[end - 1] == b'.' {
        end -= 1;
    }
    // `end` is at an ASCII byte or the end, so a char boundary.
    let trimmed = &host[..end];
    // Every byte looked at, without an early exit, so that the check runs in vector strides
    // (`any` stops at the first match and goes a byte at a time).
    if trimmed.bytes().fold(false, |upper, b| upper | b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(trimmed)
    }
}
