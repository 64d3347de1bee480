//! Request handling: host → site, path → what to serve (files, rules, fallbacks), then the
//! response with prebuilt headers, content negotiation, conditionals and ranges.
//!
//! Security invariants (DESIGN invariant 7):
//! - The request path is split on `/` before percent-decoding, so `%2F` never acts as a
//!   separator; a decoded segment that holds `/`, a NUL or control character, invalid UTF-8
//!   or is `..` never reaches the look-up.
//! - Look-up is in the site's manifest map only; no request data becomes a filesystem path.
//! - An unknown host gets a bare 404 that names nothing about what the edge serves.

mod body;
mod negotiate;
mod resolve;

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use switchyard_model::hosts::normalize_host;

pub use body::Body;
use resolve::Resolved;

use crate::sites::{File, Host, Representation, Routes, Site, X_APP, X_VERSION};
use crate::tagging::{self, Prebuilt, Wanted};

static NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
static NOINDEX: HeaderValue = HeaderValue::from_static("noindex");
static TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
static REVALIDATE: HeaderValue = HeaderValue::from_static("public, max-age=0, must-revalidate");
static PRIVATE_REVALIDATE: HeaderValue = HeaderValue::from_static("private, max-age=0, must-revalidate");
static ALLOW: HeaderValue = HeaderValue::from_static("GET, HEAD");
const X_ROBOTS_TAG: HeaderName = HeaderName::from_static("x-robots-tag");

/// The request headers `respond` reads, found in one pass over the request's map: a request
/// carries a handful of headers, and a hashed look-up that misses (most of these, on most
/// requests) costs about as much as walking them. Each is the first value of its name, as
/// `HeaderMap::get` gives.
#[derive(Default)]
struct RequestHeaders<'a> {
    host: Option<&'a HeaderValue>,
    accept: Option<&'a HeaderValue>,
    accept_encoding: Option<&'a HeaderValue>,
    range: Option<&'a HeaderValue>,
    if_none_match: Option<&'a HeaderValue>,
    if_modified_since: Option<&'a HeaderValue>,
    if_range: Option<&'a HeaderValue>,
    /// Some `Cookie` header is there (`tagging::Cookies::read` reads them all).
    cookie: bool,
}

impl<'a> RequestHeaders<'a> {
    fn scan(map: &'a HeaderMap) -> RequestHeaders<'a> {
        let mut h = RequestHeaders::default();
        for (name, value) in map {
            let slot = if name == header::HOST {
                &mut h.host
            } else if name == header::ACCEPT_ENCODING {
                &mut h.accept_encoding
            } else if name == header::ACCEPT {
                &mut h.accept
            } else if name == header::COOKIE {
                h.cookie = true;
                continue;
            } else if name == header::IF_NONE_MATCH {
                &mut h.if_none_match
            } else if name == header::IF_MODIFIED_SINCE {
                &mut h.if_modified_since
            } else if name == header::RANGE {
                &mut h.range
            } else if name == header::IF_RANGE {
                &mut h.if_range
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        h
    }
}

/// Answers one request from `routes`; `secure` says whether it came over TLS.
///
/// The common answer (a file of a known host to GET or HEAD) runs straight through; every
/// rarer answer is a `#[cold]` function, so that the code a request walks stays contiguous:
/// the kernel's socket work between two requests evicts it from the instruction cache, and
/// each 64-byte line of it is fetched again per request (`benches/README.md`).
/// `last` is the connection's (see [`Remembered`]).
pub fn respond<B>(routes: &Routes, last: &mut Remembered, req: &Request<B>, secure: bool) -> Response<Body> {
    let started = std::time::Instant::now();
    let headers = RequestHeaders::scan(req.headers());
    let Some(host) = last.host.find(routes, headers.host, req.uri()) else {
        return unknown_host();
    };
    if host.https_redirect
        && !secure
        && let Some(port) = routes.https_port
    {
        return https_redirect(host, req, port);
    }
    if let Some(res) = crate::access::check(host, req, secure) {
        return res;
    }
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => return method_not_allowed(host, started),
    };
    if req.uri().path() == tagging::VERSION_JSON {
        return version_json(host, req.headers(), secure, head);
    }
    let path = match resolve::decode_path(req.uri().path()) {
        Ok(path) => path,
        Err(reason) => return bad_path(host, reason, started),
    };
    // Which version serves this visitor (split, skew protection; see `tagging`).
    let navigation = resolve::is_navigation(&path, headers.accept);
    let cookies = if headers.cookie { tagging::Cookies::read(req.headers()) } else { tagging::Cookies::default() };
    let mut choice = tagging::choose(host, cookies, navigation, tagging::now);
    let mut site = choice.site;
    let mut resolved = resolve::resolve(site, &path, navigation, req.uri().query());
    if resolved.is_not_found() {
        (site, resolved) = look_elsewhere(host, &mut choice, site, resolved, &path, navigation, req.uri().query());
    }
    let wanted = choice.wanted(site);
    // A file's prebuilt headers hold the cookies `wanted` (see `tagging::PrebuiltHeaders`);
    // `_headers` rules that set or remove `Set-Cookie` apply to a response without them, and
    // ours are added after them.
    let start_with = if site.rules_touch_cookies { Wanted::NONE } else { wanted };
    // `page`: an HTML file answered to GET (a page view if its status is 200 or 304).
    // A file's answer is built in place: a `Response` is 150-odd bytes, and each move of one
    // is a `memcpy`.
    let mut res;
    let (prebuilt, page) = match resolved {
        Resolved::File { file, status } => {
            res = Response::new(Body::Empty);
            let prebuilt = serve_file(&mut res, site, file, status, &headers, head, start_with, &mut last.encoding);
            if host.noindex {
                res.headers_mut().insert(X_ROBOTS_TAG, NOINDEX.clone());
            }
            (prebuilt, file.page && !head)
        }
        Resolved::Redirect { status, location } => match redirect(host, site, status, location) {
            Some(redirect) => {
                res = redirect;
                (Prebuilt::None, false)
            }
            None => return unusable_redirect(host, site),
        },
        Resolved::Plain(status) => {
            res = no_file(host, site, status);
            (Prebuilt::None, false)
        }
    };
    apply_header_rules(site, &path.display, res.headers_mut());
    tagging::set_cookies(wanted, site, secure, prebuilt, res.headers_mut());
    add_hsts(host, secure, res.headers_mut());
    if host.access.is_some() {
        crate::access::keep_private(res.headers_mut());
    }
    if head {
        *res.body_mut() = Body::Empty;
    }
    // A few atomic adds on the served version's counters; the visitor is the request's
    // `sy_id` or the one minted for it (see `tagging::choose`).
    crate::metrics::record(&site.stats, page, || choice.visitor, &res, started);
    res
}

/// What a connection remembers from its last request, so that the next one, which most often
/// repeats it, skips a look-up or a parse: the host ([`LastHost`]) and the `Accept-Encoding`
/// value (`negotiate::LastAccepted`). Only that connection's requests use it, one at a time.
#[derive(Default)]
pub struct Remembered {
    host: LastHost,
    encoding: negotiate::LastAccepted,
}

/// The host a connection's last request named: the next request that names it with the same
/// bytes, while the routes are the same table, finds it at the same place in them with no
/// UTF-8 check, normalisation or hashed look-up (about 200 instructions, `benches/README.md`).
/// Most connections name one host (a browser's HTTP/1.1 connections always; an HTTP/2
/// connection may carry several hosts of one certificate). It holds no part of the routes,
/// only their generation (unique to each table the process builds) and a place in them.
#[derive(Default)]
pub struct LastHost(Option<Found>);

/// A DNS name is at most 253 bytes, `:65535` 6 more.
const KEPT_AT_MOST: usize = 259;

struct Found {
    /// `Routes::generation` of the table `index` is in.
    generation: u64,
    /// The bytes the request named the host with: its `Host`, else its URI's host.
    named: Vec<u8>,
    index: usize,
}

impl LastHost {
    /// What the request's host name serves in `routes`. HTTP/1.1 sends `Host`; HTTP/2 sends
    /// `:authority`, which hyper puts in the URI.
    fn find<'a>(&mut self, routes: &'a Routes, header: Option<&HeaderValue>, uri: &Uri) -> Option<&'a Host> {
        let named = match header {
            Some(h) => h.as_bytes(),
            None => uri.host().unwrap_or("").as_bytes(),
        };
        if let Some(found) = &self.0
            && found.generation == routes.generation()
            && found.named == named
        {
            return Some(routes.host_at(found.index));
        }
        let name = header.and_then(|h| h.to_str().ok()).or_else(|| uri.host()).unwrap_or("");
        let index = routes.host_index(&normalize_host(name))?;
        // Kept only when the name is those bytes (not a `Host` that is no text, with the URI's
        // host taken instead), and no longer than a host name and port can be (a `Host` of
        // `cart.example.com:` and 60 KiB of zeros is found too, and would be kept for as long as
        // the connection lasts).
        if name.as_bytes() == named && named.len() <= KEPT_AT_MOST {
            let found = self.0.get_or_insert_with(|| Found { generation: 0, named: Vec::new(), index: 0 });
            found.generation = routes.generation();
            found.named.clear();
            found.named.extend_from_slice(named);
            found.index = index;
        }
        Some(routes.host_at(index))
    }
}

/// A host the edge does not serve: a bare 404 that names nothing about what it serves.
#[cold]
fn unknown_host() -> Response<Body> {
    plain(StatusCode::NOT_FOUND, "not found\n")
}

#[cold]
fn method_not_allowed(host: &Host, started: std::time::Instant) -> Response<Body> {
    let mut res = site_plain(host, StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    res.headers_mut().insert(header::ALLOW, ALLOW.clone());
    crate::metrics::record(&host.site.stats, false, || None, &res, started);
    res
}

/// `/__switchyard/version.json` (see `tagging::version_json`), with HSTS over HTTPS.
#[cold]
fn version_json(host: &Host, headers: &HeaderMap, secure: bool, head: bool) -> Response<Body> {
    let mut res = tagging::version_json(host, headers, secure, head);
    add_hsts(host, secure, res.headers_mut());
    res
}

/// `Strict-Transport-Security` on an answer over HTTPS, for a host that has it configured.
fn add_hsts(host: &Host, secure: bool, h: &mut HeaderMap) {
    if secure && let Some(hsts) = &host.hsts {
        h.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
}

/// A path `resolve::decode_path` refused (`reason` says why): 400.
#[cold]
fn bad_path(host: &Host, reason: &'static str, started: std::time::Instant) -> Response<Body> {
    let res = site_plain(host, StatusCode::BAD_REQUEST, reason);
    crate::metrics::record(&host.site.stats, false, || None, &res, started);
    res
}

/// `site`, the version chosen, has nothing at `path` (`resolved` says so): the visitor's
/// current version may have it if `site` was a retained one, and with a split on, an asset
/// may be another split version's (the one whose page asked for it). What serves the request
/// then, and what it finds: when no version has it, the fallback's 404 if `site` was pinned,
/// else `site`'s own.
#[cold]
fn look_elsewhere<'a>(
    host: &'a Host,
    choice: &mut tagging::Choice<'a>,
    mut site: &'a Site,
    mut resolved: Resolved<'a>,
    path: &resolve::RequestPath<'_>,
    navigation: bool,
    query: Option<&str>,
) -> (&'a Site, Resolved<'a>) {
    if choice.pinned {
        // The retained version lacks the path: the visitor's current version may have it.
        site = choice.fallback;
        resolved = resolve::resolve(site, path, navigation, query);
    }
    if !navigation && resolved.is_not_found() {
        // Only ever after a 404; nothing to try without a split.
        let tried = [choice.site.tag.version, site.tag.version];
        if let Some((other, file)) = tagging::split_others(host, tried)
            .find_map(|other| resolve::exact_file(other, path, navigation, query).map(|file| (other, file)))
        {
            site = other;
            resolved = Resolved::File { file, status: StatusCode::OK };
            choice.elsewhere = true;
        }
    }
    (site, resolved)
}

/// A `_redirects` redirect to `location`; `None` when the target cannot be a header value.
#[cold]
fn redirect(host: &Host, site: &Site, status: StatusCode, location: String) -> Option<Response<Body>> {
    let location = HeaderValue::try_from(location).ok()?;
    let mut res = site_plain_of(host, site, status, "");
    res.headers_mut().insert(header::LOCATION, location);
    Some(res)
}

/// A redirect whose target cannot be a header value: 400, answered as it is.
#[cold]
fn unusable_redirect(host: &Host, site: &Site) -> Response<Body> {
    site_plain_of(host, site, StatusCode::BAD_REQUEST, "bad request: unusable redirect target\n")
}

/// 404 or 410 without a page of the site's to answer it with.
#[cold]
fn no_file(host: &Host, site: &Site, status: StatusCode) -> Response<Body> {
    let text = if status == StatusCode::GONE { "gone\n" } else { "not found\n" };
    site_plain_of(host, site, status, text)
}

/// Fills `res`, a new response, with `file` of `site` as the request asks for it, from the
/// prebuilt headers for the cookies `start_with`; says which cookies those hold.
#[allow(clippy::too_many_arguments)]
fn serve_file(
    res: &mut Response<Body>,
    site: &Site,
    file: &File,
    status: StatusCode,
    req: &RequestHeaders<'_>,
    head: bool,
    start_with: Wanted,
    last: &mut negotiate::LastAccepted,
) -> Prebuilt {
    let ranged = status == StatusCode::OK && !head && req.range.is_some();
    // Ranges are served from the identity bytes; content negotiation picks otherwise.
    let chosen = if ranged { None } else { negotiate::encoding(req.accept_encoding, &file.encodings, last) };
    let repr = match chosen {
        Some(i) => &file.encodings[i].1,
        None => &file.identity,
    };
    *res.status_mut() = status;
    // The prebuilt headers of a full 200 response; the rarer answers adjust a few of them.
    let (headers, prebuilt) = repr.headers.pick(start_with);
    *res.headers_mut() = headers.clone();
    if status != StatusCode::OK {
        // An error page (404/410 with the site's page) is not a resource one can range over.
        res.headers_mut().remove(header::ACCEPT_RANGES);
        *res.body_mut() = full(repr);
        return prebuilt;
    }
    if negotiate::not_modified(req.if_none_match, req.if_modified_since, &repr.etag, site.modified) {
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res.headers_mut().remove(header::CONTENT_LENGTH);
        return prebuilt;
    }
    if ranged && negotiate::if_range_holds(req.if_range, &repr.etag, site.modified) {
        match negotiate::range(req.range, repr.size) {
            negotiate::Range::Full => {}
            negotiate::Range::Part(start, end) => {
                *res.status_mut() = StatusCode::PARTIAL_CONTENT;
                let h = res.headers_mut();
                h.insert(
                    header::CONTENT_RANGE,
                    HeaderValue::try_from(format!("bytes {start}-{end}/{}", repr.size)).expect("ascii"),
                );
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
                *res.body_mut() = body::of(repr, start, end - start + 1);
                return prebuilt;
            }
            negotiate::Range::Unsatisfiable => {
                *res.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                let h = res.headers_mut();
                h.insert(
                    header::CONTENT_RANGE,
                    HeaderValue::try_from(format!("bytes */{}", repr.size)).expect("ascii"),
                );
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
                return prebuilt;
            }
        }
    }
    *res.body_mut() = full(repr);
    prebuilt
}

fn full(repr: &Representation) -> Body {
    body::of(repr, 0, repr.size)
}

/// `_headers` rules for the request path, in order: set, then remove.
fn apply_header_rules(site: &Site, path: &str, h: &mut HeaderMap) {
    for rule in &site.header_rules {
        if !rule.pattern.is_match(path) {
            continue;
        }
        for (name, value) in &rule.set {
            h.insert(name.clone(), value.clone());
        }
        for name in &rule.remove {
            h.remove(name);
        }
    }
}

fn common_headers(h: &mut HeaderMap, host: &Host, site: &Site) {
    h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF.clone());
    h.insert(X_APP, site.app_header.clone());
    h.insert(X_VERSION, site.version_header.clone());
    if host.noindex {
        h.insert(X_ROBOTS_TAG, NOINDEX.clone());
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::Bytes(Some(bytes::Bytes::from_static(text.as_bytes()))));
    *res.status_mut() = status;
    // Room for what `site_plain_of`, a `Location` and the cookies add (an empty map's first
    // insert makes room for 6, and the 7th rehashes).
    *res.headers_mut() = HeaderMap::with_capacity(12);
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, TEXT_PLAIN.clone());
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF.clone());
    res
}

fn site_plain(host: &Host, status: StatusCode, text: &'static str) -> Response<Body> {
    site_plain_of(host, &host.site, status, text)
}

/// A short text answer from `site`, the version chosen for the request; `private` on a gated
/// host (see `access::keep_private`), as some of these return before it runs.
fn site_plain_of(host: &Host, site: &Site, status: StatusCode, text: &'static str) -> Response<Body> {
    let mut res = plain(status, text);
    let policy = if host.access.is_some() { &PRIVATE_REVALIDATE } else { &REVALIDATE };
    res.headers_mut().insert(header::CACHE_CONTROL, policy.clone());
    common_headers(res.headers_mut(), host, site);
    res
}

/// `308` to the same host and path over HTTPS (a custom domain with a certificate).
#[cold]
fn https_redirect<B>(host: &Host, req: &Request<B>, port: u16) -> Response<Body> {
    let name = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).or_else(|| req.uri().host()).unwrap_or("");
    let name = normalize_host(name);
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = if port == 443 { format!("https://{name}{path}") } else { format!("https://{name}:{port}{path}") };
    let mut res = site_plain(host, StatusCode::PERMANENT_REDIRECT, "");
    match HeaderValue::try_from(location) {
        Ok(location) => {
            res.headers_mut().insert(header::LOCATION, location);
            res
        }
        Err(_) => site_plain(host, StatusCode::BAD_REQUEST, "bad request: unusable host\n"),
    }
}

#[cfg(test)]
mod tests;
