//! Version tagging, traffic splits and skew protection on the request path: which version of
//! a channel a request is served from, and the `sy_v` / `sy_id` cookies of the response.
//!
//! - Navigation requests (pages) get the channel's current version, or with a live split on,
//!   the version of the visitor's bucket (`split_bucket(app, sy_id)`, the same on every edge).
//!   A navigation request without a valid `sy_id` gets one minted (128 random bits).
//! - Asset requests whose `sy_v` names (for this app) a version of the split, or a version the
//!   channel served recently whose `until` has not passed on this edge's clock, are served
//!   from that version (skew protection); if it lacks the path, from the current one. Such a
//!   pinned response leaves `sy_v` as it is, so the next page load is what moves the visitor.
//! - An asset request that still finds nothing while a split is on tries the split's other
//!   versions (`split_others`) before its 404: a fingerprinted asset lives only in the version
//!   whose page referenced it, which a request without cookies does not name. Such a
//!   response leaves `sy_v` as it is too.
//! - Version hosts (`v3--cart.<base>`) always serve their version.
//! - `sy_v=<app>.v<N>` is set on every site response whose version differs from the request's
//!   `sy_v`: readable by JavaScript (no `HttpOnly`), `Path=/`, `SameSite=Lax`, `Max-Age` 30
//!   days (the attribution window for conversions), `Secure` over TLS. The header values are
//!   built once per version, plain and secure.
//!
//! Hot-path invariants: per request at most one scan of the `Cookie` headers, a look-up in a
//! 100-entry table (SHA-256 of the id only while a split is on), a linear scan of a few
//! retained versions, and inserts of prebuilt header values. No lock, no allocation unless
//! an id is minted; the clock is read only when a retained version is asked for.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use switchyard_model::tagging::{VERSION_COOKIE, VISITOR_COOKIE, VisitorId, parse_version_tag, split_bucket};
use switchyard_model::{AppState, LIVE, version_label};

use crate::serve::Body;
use crate::sites::{Host, Site};

/// The path the app asks which version serves it.
pub const VERSION_JSON: &str = "/__switchyard/version.json";
/// How long the browser keeps `sy_v`: the window in which a conversion is attributed to the
/// version of the visitor's last page.
pub const VERSION_COOKIE_MAX_AGE: u64 = 30 * 24 * 3600;
/// How long the browser keeps `sy_id` (one year; spelled out in `visitor_cookie`).
pub const VISITOR_COOKIE_MAX_AGE: u64 = 365 * 24 * 3600;

static APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
static NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// The tag of one version, built once per site.
pub struct SiteTag {
    pub app: Box<str>,
    pub version: u64,
    /// `cart.v12`: the `sy_v` value.
    pub value: Box<str>,
    /// `Set-Cookie` values: plain HTTP, then HTTPS (`Secure`).
    cookies: [HeaderValue; 2],
}

impl SiteTag {
    pub fn new(app: &str, version: u64) -> SiteTag {
        let value = switchyard_model::tagging::version_tag(app, version);
        let cookie = |secure: &str| {
            HeaderValue::try_from(format!(
                "{VERSION_COOKIE}={value}; Path=/; Max-Age={VERSION_COOKIE_MAX_AGE}; SameSite=Lax{secure}"
            ))
            .expect("app names and version numbers are header-safe")
        };
        let cookies = [cookie(""), cookie("; Secure")];
        SiteTag { app: app.into(), version, value: value.into(), cookies }
    }

    pub(crate) fn cookie(&self, secure: bool) -> &HeaderValue {
        &self.cookies[usize::from(secure)]
    }
}

/// A version a `sy_v` cookie may keep a visitor's asset requests on.
struct Pin {
    version: u64,
    /// Unix seconds; `u64::MAX` for versions of the split in force.
    until: u64,
    site: Arc<Site>,
}

/// What a channel host chooses among, built with the routes.
pub struct Channel {
    pub name: Box<str>,
    /// With a split on: the site of each bucket `0..100`; empty otherwise.
    split: Box<[Arc<Site>]>,
    /// The split's versions (`until` = `u64::MAX`), lowest first, then the retained ones.
    pins: Box<[Pin]>,
}

impl Channel {
    /// The choices of `channel` of an app in `state`, with the app's sites by version (those
    /// missing from `sites` are left out). `now` drops retained versions already expired.
    pub fn build(
        channel: &str,
        state: &AppState,
        sites: &std::collections::HashMap<u64, Arc<Site>>,
        now: u64,
    ) -> Channel {
        let mut split = Vec::new();
        let mut pins = Vec::new();
        if channel == LIVE && !state.split.is_empty() && state.split.iter().all(|s| sites.contains_key(&s.version)) {
            let mut shares = state.split.clone();
            shares.sort_by_key(|s| s.version);
            for share in &shares {
                let site = &sites[&share.version];
                split.extend(std::iter::repeat_n(site.clone(), usize::from(share.weight)));
                pins.push(Pin { version: share.version, until: u64::MAX, site: site.clone() });
            }
            if split.len() != 100 {
                // Not a valid split (the control plane never publishes one): no split at all.
                tracing::warn!(channel, "ignoring a traffic split whose weights do not sum to 100");
                split.clear();
                pins.clear();
            }
        }
        for retained in state.recent.get(channel).into_iter().flatten() {
            if retained.until <= now || pins.iter().any(|p| p.version == retained.version) {
                continue;
            }
            if let Some(site) = sites.get(&retained.version) {
                pins.push(Pin { version: retained.version, until: retained.until, site: site.clone() });
            }
        }
        Channel { name: channel.into(), split: split.into(), pins: pins.into() }
    }

    fn pin(&self, version: u64) -> Option<&Pin> {
        self.pins.iter().find(|p| p.version == version)
    }

    /// The site of `version` when this channel may serve it besides its current version: a
    /// version of the split in force, or one it retains (whatever its `until`: a conversion
    /// comes after the page, within `sy_v`'s lifetime). `None` for any other version, even one
    /// the edge holds (another channel's, or one only a private version host serves).
    pub fn serves(&self, version: u64) -> Option<&Arc<Site>> {
        self.pin(version).map(|p| &p.site)
    }
}

/// The two cookies the edge reads, borrowed from the request.
#[derive(Debug, Default, Clone, Copy)]
pub struct Cookies<'a> {
    /// The raw `sy_v` value.
    pub version: Option<&'a [u8]>,
    /// A valid `sy_id`.
    pub visitor: Option<VisitorId>,
}

impl<'a> Cookies<'a> {
    /// One pass over every `Cookie` header (HTTP/2 may split them), on bytes: this runs on
    /// every request, and other cookies of the site need no UTF-8 check or trimming. Pairs
    /// are `name=value` separated by `;` and optional spaces, as browsers send them.
    pub fn read(headers: &'a HeaderMap) -> Cookies<'a> {
        let mut cookies = Cookies::default();
        for value in headers.get_all(header::COOKIE) {
            let bytes = value.as_bytes();
            // Pairs end at `;`, found in SIMD strides (a `Cookie` header of analytics ids runs
            // to hundreds of bytes); only the start of each pair is looked at.
            let mut start = 0;
            for end in memchr::memchr_iter(b';', bytes).chain([bytes.len()]) {
                let pair = bytes[start..end].trim_ascii_start();
                start = end + 1;
                if let Some(v) = pair.strip_prefix(VERSION_PREFIX) {
                    cookies.version = Some(v.trim_ascii_end());
                } else if let Some(v) = pair.strip_prefix(VISITOR_PREFIX) {
                    cookies.visitor = VisitorId::parse_bytes(v.trim_ascii_end());
                }
            }
        }
        cookies
    }
}

/// `sy_v=` and `sy_id=` (a test checks them against the names).
const VERSION_PREFIX: &[u8] = b"sy_v=";
const VISITOR_PREFIX: &[u8] = b"sy_id=";

/// Which version a request is served from, and what its response says about the visitor.
pub struct Choice<'a> {
    pub site: &'a Site,
    /// What to serve instead when a pinned `site` lacks the path: the visitor's version
    /// without the pin.
    pub fallback: &'a Site,
    /// `site` is a retained or split version the request's `sy_v` asked for.
    pub pinned: bool,
    /// Set by `serve` when another version of the split had the asset that `site` and
    /// `fallback` lack (see [`split_others`]); like a pin, the response leaves `sy_v` as it is.
    pub elsewhere: bool,
    /// The visitor id of this request: the request's `sy_id`, or the one minted for it.
    pub visitor: Option<VisitorId>,
    /// `visitor` was minted here and goes out in a `Set-Cookie`.
    pub minted: bool,
    /// The request's `sy_v` value.
    pub version_cookie: Option<&'a [u8]>,
}

/// Chooses the version for one request on `host`. `now` (Unix seconds) is called only when a
/// retained version is asked for.
pub fn choose<'a>(host: &'a Host, cookies: Cookies<'a>, navigation: bool, now: impl FnOnce() -> u64) -> Choice<'a> {
    let current: &Site = &host.site;
    let (visitor, minted) = match cookies.visitor {
        Some(v) => (Some(v), false),
        None if navigation => (Some(VisitorId(rand::random())), true),
        None => (None, false),
    };
    let mut choice = Choice {
        site: current,
        fallback: current,
        pinned: false,
        elsewhere: false,
        visitor,
        minted,
        version_cookie: cookies.version,
    };
    let Some(channel) = &host.channel else { return choice };
    if !channel.split.is_empty()
        && let Some(v) = visitor
    {
        let site = &channel.split[usize::from(split_bucket(&current.tag.app, v))];
        choice.site = site;
        choice.fallback = site;
    }
    if !navigation
        && !channel.pins.is_empty()
        && let Some((app, version)) =
            cookies.version.and_then(|v| std::str::from_utf8(v).ok()).and_then(parse_version_tag)
        && app == &*current.tag.app
        && version != choice.site.tag.version
        && let Some(pin) = channel.pin(version)
        && (pin.until == u64::MAX || pin.until > now())
    {
        choice.site = &pin.site;
        choice.pinned = true;
    }
    choice
}

/// The versions of the split in force on `host` other than `tried`, lowest first; none
/// without a split and on version hosts. `serve` tries them for an asset request that found
/// nothing where [`choose`] sent it: a fingerprinted asset exists only in the version whose
/// page referenced it, and that need not be the one chosen (a request without cookies gets
/// the live pointer's version). Called only after such a 404, never on the common path.
pub fn split_others(host: &Host, tried: [u64; 2]) -> impl Iterator<Item = &Site> {
    host.channel
        .iter()
        .flat_map(|channel| channel.pins.iter())
        .filter(move |pin| pin.until == u64::MAX && !tried.contains(&pin.version))
        .map(|pin| &*pin.site)
}

/// The cookies a response sets: `sy_v` unless the request's names the served version or the
/// version was chosen for the request's `sy_v` (a pin, another split version's asset), and
/// `sy_id` when one was minted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub version: bool,
    pub visitor: Option<VisitorId>,
}

impl Wanted {
    pub const NONE: Wanted = Wanted { version: false, visitor: None };
}

impl Choice<'_> {
    /// The cookies of a response to this choice served from `served`.
    pub fn wanted(&self, served: &Site) -> Wanted {
        Wanted {
            version: !self.pinned && !self.elsewhere && self.version_cookie != Some(served.tag.value.as_bytes()),
            visitor: self.visitor.filter(|_| self.minted),
        }
    }
}

/// Which `Set-Cookie` headers a response's headers already hold (see [`PrebuiltHeaders`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prebuilt {
    None,
    /// The plain-HTTP `sy_v` cookie of the version served.
    Version,
    /// That, then a `sy_id` placeholder that [`set_cookies`] overwrites with the minted id,
    /// both in the map's first entry (see [`PrebuiltHeaders`]).
    VersionAndVisitor,
}

/// A response's headers built once, without and with the version's plain-HTTP cookie (and
/// for a page, with a `sy_id` placeholder too), so that the common responses clone one map
/// and add no entry: an insert into the clone (whose entries have no spare capacity)
/// reallocates. In the page's variant for a new visitor, `Set-Cookie` is the map's first
/// entry, `sy_v` its first value and the placeholder its second: [`set_cookies`] reaches
/// them as the first two values of the map's iterator, without hashing the name. Edits to the
/// map leave that entry first: an insert or append goes after the entries there are, and a
/// removal of another name moves the last entry into the removed one's place.
pub struct PrebuiltHeaders {
    /// No `Set-Cookie`: a response to a visitor whose `sy_v` names the version already.
    plain: HeaderMap,
    /// And the plain-HTTP `sy_v` cookie: a response to a visitor without it.
    with_version: HeaderMap,
    /// The `sy_v` cookie and a `sy_id` placeholder, then the plain headers: a page for a new
    /// visitor (ids are minted on navigation requests, which pages answer). Pages only.
    with_visitor: Option<HeaderMap>,
}

impl PrebuiltHeaders {
    /// The variants of `headers` for a file of the version `tag`; `page`: an HTML file.
    pub fn new(headers: &HeaderMap, tag: &SiteTag, page: bool) -> PrebuiltHeaders {
        let mut with_version = headers.clone();
        with_version.append(header::SET_COOKIE, tag.cookie(false).clone());
        let with_visitor = page.then(|| {
            let mut with_visitor = HeaderMap::with_capacity(headers.len() + 2);
            with_visitor.append(header::SET_COOKIE, tag.cookie(false).clone());
            with_visitor.append(header::SET_COOKIE, visitor_cookie(VisitorId(0), false));
            for (name, value) in headers {
                with_visitor.append(name.clone(), value.clone());
            }
            with_visitor.clone()
        });
        // Each map of the exact size (a clone has no spare capacity).
        PrebuiltHeaders { plain: headers.clone(), with_version: with_version.clone(), with_visitor }
    }

    /// The variant to start a response from for the cookies `wanted`, and which cookies it
    /// holds ([`set_cookies`] completes them).
    pub fn pick(&self, wanted: Wanted) -> (&HeaderMap, Prebuilt) {
        match (wanted.version, wanted.visitor, &self.with_visitor) {
            (true, Some(_), Some(with_visitor)) => (with_visitor, Prebuilt::VersionAndVisitor),
            (true, ..) => (&self.with_version, Prebuilt::Version),
            (false, ..) => (&self.plain, Prebuilt::None),
        }
    }
}

/// Completes the `Set-Cookie` headers of a response served from `served` whose headers
/// already hold `prebuilt`'s, as [`PrebuiltHeaders::pick`] chose them for `wanted`: makes the
/// `sy_v` cookie `Secure` over HTTPS, writes the minted `sy_id`, adds what is missing. A
/// returning visitor's response adds no entry, nor does a new visitor's page.
pub fn set_cookies(wanted: Wanted, served: &Site, secure: bool, prebuilt: Prebuilt, headers: &mut HeaderMap) {
    if prebuilt == Prebuilt::VersionAndVisitor {
        // `sy_v`, then the placeholder: the map's first two values (see [`PrebuiltHeaders`]).
        let mut values = headers.iter_mut();
        if let Some(visitor) = wanted.visitor
            && let (Some((first, version)), Some((second, id))) = (values.next(), values.next())
            && first == header::SET_COOKIE
            && second == header::SET_COOKIE
        {
            if secure {
                *version = served.tag.cookie(true).clone();
            }
            *id = visitor_cookie(visitor, secure);
            return;
        }
        // Not what `pick` chose it for: start from no cookie.
        headers.remove(header::SET_COOKIE);
    }
    match (prebuilt, wanted.version) {
        (Prebuilt::Version, true) if secure => {
            headers.insert(header::SET_COOKIE, served.tag.cookie(true).clone());
        }
        (Prebuilt::Version, true) => {}
        // A cookie the response does not want ([`PrebuiltHeaders::pick`] picks no such
        // headers).
        (Prebuilt::Version, false) => {
            headers.remove(header::SET_COOKIE);
        }
        (Prebuilt::None | Prebuilt::VersionAndVisitor, version) => {
            if version {
                headers.append(header::SET_COOKIE, served.tag.cookie(secure).clone());
            }
        }
    }
    if let Some(visitor) = wanted.visitor {
        headers.append(header::SET_COOKIE, visitor_cookie(visitor, secure));
    }
}

/// `sy_id=<32 hex>; Path=/; Max-Age=…; HttpOnly; SameSite=Lax[; Secure]`, assembled on the
/// stack and copied once into the value: the only allocation a new visitor costs. (Written
/// into a `Vec` that becomes the value's bytes instead, the check of the bytes runs out of
/// line and costs more than the copy saves.)
fn visitor_cookie(visitor: VisitorId, secure: bool) -> HeaderValue {
    const ATTRIBUTES: &[u8] = b"; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax; Secure";
    const ID_AT: usize = VISITOR_COOKIE.len() + 1;
    const LEN: usize = ID_AT + 32 + ATTRIBUTES.len();
    let mut out = [0u8; LEN];
    out[..VISITOR_COOKIE.len()].copy_from_slice(VISITOR_COOKIE.as_bytes());
    out[VISITOR_COOKIE.len()] = b'=';
    out[ID_AT..ID_AT + 32].copy_from_slice(&visitor.hex_digits());
    out[ID_AT + 32..].copy_from_slice(ATTRIBUTES);
    let len = if secure { LEN } else { LEN - b"; Secure".len() };
    HeaderValue::from_bytes(&out[..len]).expect("ASCII without control characters")
}

/// The edge's clock in Unix seconds, read only when a retained version is asked for.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `/__switchyard/version.json`: the app, version and channel this visitor's requests are
/// served from (as an asset request's: the `sy_v` version while retained), `no-store`.
pub fn version_json(host: &Host, headers: &HeaderMap, secure: bool, head: bool) -> Response<Body> {
    let choice = choose(host, Cookies::read(headers), false, now);
    let site = choice.site;
    let channel = match &host.channel {
        Some(c) => serde_json::Value::from(&*c.name),
        None => serde_json::Value::Null,
    };
    let body = serde_json::json!({
        "app": &*site.tag.app,
        "version": version_label(site.tag.version),
        "channel": channel,
    })
    .to_string();
    let mut res = Response::new(Body::Empty);
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, APPLICATION_JSON.clone());
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    h.insert(header::CACHE_CONTROL, NO_STORE.clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(crate::sites::X_APP, site.app_header.clone());
    h.insert(crate::sites::X_VERSION, site.version_header.clone());
    set_cookies(choice.wanted(site), site, secure, Prebuilt::None, h);
    if !head {
        *res.body_mut() = Body::Bytes(Some(Bytes::from(body)));
    }
    res
}

#[cfg(test)]
mod tests;
