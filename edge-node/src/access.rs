//! The previews gate: private preview and version hosts answer only to a valid share link
//! (`?sy_share=<token>`, then its cookie).
//!
//! Which hosts are private is decided once per snapshot in `sites::Routes::build` (a
//! [`Gate`] on the `Host`): with `Snapshot.previews` set, every version host (`v3--cart`), every
//! channel host other than `live` and the app's public channels (`AppState.public`), and
//! custom domains mapped to such a channel. Without `previews`, no host has a gate.
//!
//! Security invariants:
//! - A request to a gated host is served only with a token whose Ed25519 signature verifies
//!   with the snapshot's key, whose app and scope are the host's, that has not expired (edge
//!   clock) and whose id is not in the snapshot's revoked list. Anything else (no token,
//!   malformed, forged, tampered, expired, revoked, another app's or another preview's) gets
//!   the 401 page, `cache-control: no-store`, and reveals nothing of the preview.
//! - A key the edge cannot read refuses every token (fails closed).
//! - The token moves from the URL to an `HttpOnly`, `SameSite=Lax` host-only cookie with a 302
//!   to the same path, so it leaves the address bar and `Referer`; the cookie lives no longer
//!   than the link. That `Location` is always a path on the same host: a leading run of `/`
//!   and `\` is one `/` (`same_origin`), so `//evil.example/?sy_share=…` is no open redirect.
//! - Responses of gated hosts carry a `cache-control` no shared cache stores (`private` first,
//!   or `no-store`), whatever the site's `_headers` set or removed (`keep_private`).
//!
//! Hot path: a public host pays one `Option` check; everything else here runs for gated
//! hosts only.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use ring::signature::{ED25519, UnparsedPublicKey};
use switchyard_model::hosts::Selector;
use switchyard_model::share::{self, SHARE_COOKIE, ShareError};
use switchyard_model::{AppState, LIVE, Snapshot};

use crate::serve::Body;
use crate::sites::Host;

static NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
static NOINDEX: HeaderValue = HeaderValue::from_static("noindex");
static NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
static HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
static CHALLENGE: HeaderValue = HeaderValue::from_static("Switchyard-Share realm=\"preview\"");
static NO_REFERRER: HeaderValue = HeaderValue::from_static("no-referrer");
static CLEAR_COOKIE: HeaderValue = HeaderValue::from_static("sy_share=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
static PRIVATE_REVALIDATE: HeaderValue = HeaderValue::from_static("private, max-age=0, must-revalidate");
static PRIVATE_IMMUTABLE: HeaderValue = HeaderValue::from_static("private, max-age=31536000, immutable");
/// The edge's own policies (`sites`), which `keep_private` knows without parsing.
static PUBLIC_REVALIDATE: HeaderValue = HeaderValue::from_static("public, max-age=0, must-revalidate");
static PUBLIC_IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const X_ROBOTS_TAG: HeaderName = HeaderName::from_static("x-robots-tag");

const PRIVATE_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"robots\" content=\"noindex\"><title>Private preview</title></head>\n<body>\
<h1>This preview is private</h1>\n<p>Ask the shop's team for a share link to open it.</p>\
</body></html>\n";
const REFUSED_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"robots\" content=\"noindex\"><title>Private preview</title></head>\n<body>\
<h1>This preview is private</h1>\n<p>The share link has expired, was revoked, or is not for this \
preview. Ask the shop's team for a new share link.</p></body></html>\n";

/// One snapshot's verification material: the key and the revoked link ids.
pub struct Verifier {
    /// `None`: the snapshot's key could not be read; every token is refused.
    key: Option<UnparsedPublicKey<[u8; 32]>>,
    revoked: HashSet<String, foldhash::fast::RandomState>,
}

/// The gate of one private host: which app and scope its tokens must name.
pub struct Gate {
    verifier: Arc<Verifier>,
    app: Box<str>,
    scope: Box<str>,
}

impl Verifier {
    /// The verifier for `snapshot`, or `None` when every host is public.
    pub fn from_snapshot(snapshot: &Snapshot) -> Option<Arc<Verifier>> {
        let previews = snapshot.previews.as_ref()?;
        let key = share::parse_public_key(&previews.key).map(|k| UnparsedPublicKey::new(&ED25519, k));
        if key.is_none() {
            tracing::warn!("the snapshot's preview key is unreadable: every share link is refused");
        }
        Some(Arc::new(Verifier { key, revoked: previews.revoked.iter().cloned().collect() }))
    }

    /// Checks `token` for `app`'s `scope` at `now`; on success, the link's expiry.
    pub fn verify(&self, token: &str, app: &str, scope: &str, now: u64) -> Result<u64, ShareError> {
        let parsed = share::parse(token)?;
        let key = self.key.as_ref().ok_or(ShareError::Signature)?;
        key.verify(&parsed.payload, &parsed.signature).map_err(|_| ShareError::Signature)?;
        parsed.claims.check(app, scope, now)?;
        if self.revoked.contains(&parsed.claims.id) {
            return Err(ShareError::Revoked);
        }
        Ok(parsed.claims.exp)
    }
}

/// The gate for `app`'s host of `selector`, or `None` if that host is public.
pub fn gate(verifier: Option<&Arc<Verifier>>, app: &str, selector: &Selector, state: &AppState) -> Option<Arc<Gate>> {
    let verifier = verifier?;
    if let Selector::Channel(c) = selector
        && (c == LIVE || state.public.contains(c))
    {
        return None;
    }
    Some(Arc::new(Gate { verifier: verifier.clone(), app: app.into(), scope: share::scope_of(selector).into() }))
}

/// The gate's answer for a request to `host`, or `None` to serve it.
#[inline]
pub fn check<B>(host: &Host, req: &Request<B>, secure: bool) -> Option<Response<Body>> {
    let gate = host.access.as_deref()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    gate.check(req, now, secure)
}

impl Gate {
    /// See [`check`]; `now` in Unix seconds.
    #[cold]
    pub fn check<B>(&self, req: &Request<B>, now: u64, secure: bool) -> Option<Response<Body>> {
        let query = req.uri().query().unwrap_or("");
        if let Some(token) = share::query_token(query) {
            return Some(match self.verify(token, now) {
                Ok(exp) => self.admit(req.uri().path(), query, token, exp - now, secure),
                Err(error) => refused(error),
            });
        }
        let mut offered = false;
        for value in req.headers().get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for pair in value.split(';') {
                let Some((name, token)) = pair.split_once('=') else { continue };
                if name.trim() != SHARE_COOKIE {
                    continue;
                }
                offered = true;
                if self.verify(token.trim(), now).is_ok() {
                    return None;
                }
            }
        }
        let mut res = page(if offered { REFUSED_PAGE } else { PRIVATE_PAGE });
        if offered {
            res.headers_mut().insert(header::SET_COOKIE, CLEAR_COOKIE.clone());
        }
        Some(res)
    }

    fn verify(&self, token: &str, now: u64) -> Result<u64, ShareError> {
        self.verifier.verify(token, &self.app, &self.scope, now)
    }

    /// `302` to the same path (on this host: see [`same_origin`]) and query without the
    /// token, setting the cookie.
    fn admit(&self, path: &str, query: &str, token: &str, max_age: u64, secure: bool) -> Response<Body> {
        let location = HeaderValue::try_from(share::without_token(&same_origin(path), query))
            .unwrap_or(HeaderValue::from_static("/"));
        let secure = if secure { "; Secure" } else { "" };
        let cookie = format!("{SHARE_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
        let mut res = Response::new(Body::Empty);
        *res.status_mut() = StatusCode::FOUND;
        let h = res.headers_mut();
        h.insert(header::LOCATION, location);
        // The token is base64url and `.`: always a valid header value.
        h.insert(header::SET_COOKIE, HeaderValue::try_from(cookie).expect("a share token is header-safe"));
        h.insert(header::CACHE_CONTROL, NO_STORE.clone());
        h.insert(header::REFERRER_POLICY, NO_REFERRER.clone());
        h.insert(X_ROBOTS_TAG, NOINDEX.clone());
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
        res
    }
}

fn refused(error: ShareError) -> Response<Body> {
    tracing::debug!(%error, "share link refused");
    page(REFUSED_PAGE)
}

/// The 401 page.
fn page(html: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::Bytes(Some(bytes::Bytes::from_static(html.as_bytes()))));
    *res.status_mut() = StatusCode::UNAUTHORIZED;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HTML.clone());
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(html.len()));
    h.insert(header::CACHE_CONTROL, NO_STORE.clone());
    h.insert(header::WWW_AUTHENTICATE, CHALLENGE.clone());
    h.insert(X_ROBOTS_TAG, NOINDEX.clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF.clone());
    res
}

/// On a gated host's response: a cache policy no shared cache between the edge and the
/// visitor stores, whatever the site's `_headers` rules made of it. `no-store` and a plain
/// `private` stay as they are; otherwise `public`, `s-maxage` and a field-qualified
/// `private="…"` (which leaves the rest of the response storable) are dropped and `private`
/// goes first. A missing or unreadable `cache-control` becomes
/// `private, max-age=0, must-revalidate`. The edge's two prebuilt policies are swapped for
/// their prebuilt private twins without parsing.
pub fn keep_private(h: &mut HeaderMap) {
    let mut values = h.get_all(header::CACHE_CONTROL).iter();
    let private = match (values.next(), values.next()) {
        (None, _) => PRIVATE_REVALIDATE.clone(),
        (Some(v), None) if *v == PUBLIC_REVALIDATE => PRIVATE_REVALIDATE.clone(),
        (Some(v), None) if *v == PUBLIC_IMMUTABLE => PRIVATE_IMMUTABLE.clone(),
        (Some(v), None) if *v == PRIVATE_REVALIDATE || *v == PRIVATE_IMMUTABLE || *v == NO_STORE => return,
        _ => match private_policy(h) {
            Some(v) => v,
            None => return,
        },
    };
    h.insert(header::CACHE_CONTROL, private);
}

/// See [`keep_private`]: the private form of any other policy, or `None` if it is already
/// private or `no-store`. Every `cache-control` line counts, as a cache would combine them.
#[cold]
fn private_policy(h: &HeaderMap) -> Option<HeaderValue> {
    let mut kept = String::from("private");
    for value in h.get_all(header::CACHE_CONTROL) {
        let Ok(text) = value.to_str() else { return Some(PRIVATE_REVALIDATE.clone()) };
        for directive in directives(text) {
            if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("private") {
                return None;
            }
            let name = directive.split_once('=').map_or(directive, |(name, _)| name).trim_end();
            if ["public", "s-maxage", "private"].iter().any(|d| name.eq_ignore_ascii_case(d)) {
                continue;
            }
            kept.push_str(", ");
            kept.push_str(directive);
        }
    }
    Some(HeaderValue::try_from(kept).unwrap_or_else(|_| PRIVATE_REVALIDATE.clone()))
}

/// The non-empty, trimmed directives of one `cache-control` line: split on commas outside
/// quoted strings (`private="a, b"` is one directive).
fn directives(text: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    text.split(move |c| {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => return true,
            _ => {}
        }
        false
    })
    .map(str::trim)
    .filter(|d| !d.is_empty())
}

/// `path` as a same-origin redirect target: a leading run of `/` and `\` becomes one `/`, so
/// that `//evil.example/` or `/\evil.example` cannot name another host (browsers read `\` as
/// `/` and drop tabs and newlines from URLs, so those count as part of the run too).
fn same_origin(path: &str) -> String {
    format!("/{}", path.trim_start_matches(['/', '\\', '\t', '\n', '\r']))
}

#[cfg(test)]
mod tests;
