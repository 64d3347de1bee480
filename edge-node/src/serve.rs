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
use http::{HeaderMap, Method, Request, Response, StatusCode};
use switchyard_model::hosts::normalize_host;

pub use body::Body;
use resolve::Resolved;

use crate::sites::{File, Host, Representation, Routes, Site};

static NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
static NOINDEX: HeaderValue = HeaderValue::from_static("noindex");
static TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
static REVALIDATE: HeaderValue = HeaderValue::from_static("public, max-age=0, must-revalidate");
static ALLOW: HeaderValue = HeaderValue::from_static("GET, HEAD");
static BYTES: HeaderValue = HeaderValue::from_static("bytes");
static VARY_AE: HeaderValue = HeaderValue::from_static("accept-encoding");
const X_APP: HeaderName = HeaderName::from_static("x-switchyard-app");
const X_VERSION: HeaderName = HeaderName::from_static("x-switchyard-version");
const X_ROBOTS_TAG: HeaderName = HeaderName::from_static("x-robots-tag");

/// Answers one request from `routes`; `secure` says whether it came over TLS.
pub fn respond<B>(routes: &Routes, req: &Request<B>, secure: bool) -> Response<Body> {
    // HTTP/1.1 sends `Host`; HTTP/2 sends `:authority`, which hyper puts in the URI.
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).or_else(|| req.uri().host()).unwrap_or("");
    let Some(host) = routes.host(&normalize_host(host)) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    if host.https_redirect
        && !secure
        && let Some(port) = routes.https_port
    {
        return https_redirect(host, req, port);
    }
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut res = site_plain(host, StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            res.headers_mut().insert(header::ALLOW, ALLOW.clone());
            return res;
        }
    };
    let path = match resolve::decode_path(req.uri().path()) {
        Ok(path) => path,
        Err(reason) => return site_plain(host, StatusCode::BAD_REQUEST, reason),
    };
    let site = &host.site;
    let mut res = match resolve::resolve(site, &path, req.headers(), req.uri().query()) {
        Resolved::File { file, status } => serve_file(host, file, status, req.headers(), head),
        Resolved::Redirect { status, location } => {
            let mut res = site_plain(host, status, "");
            match HeaderValue::try_from(location) {
                Ok(location) => {
                    res.headers_mut().insert(header::LOCATION, location);
                }
                Err(_) => return site_plain(host, StatusCode::BAD_REQUEST, "bad request: unusable redirect target\n"),
            }
            res
        }
        Resolved::Plain(StatusCode::GONE) => site_plain(host, StatusCode::GONE, "gone\n"),
        Resolved::Plain(status) => site_plain(host, status, "not found\n"),
    };
    apply_header_rules(site, &path.display, res.headers_mut());
    if secure && let Some(hsts) = &host.hsts {
        res.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    if head {
        *res.body_mut() = Body::Empty;
    }
    res
}

fn serve_file(host: &Host, file: &File, status: StatusCode, req: &HeaderMap, head: bool) -> Response<Body> {
    let site = &host.site;
    let ranged = status == StatusCode::OK && !head && req.contains_key(header::RANGE);
    // Ranges are served from the identity bytes; content negotiation picks otherwise.
    let chosen = if ranged { None } else { negotiate::encoding(req.get(header::ACCEPT_ENCODING), &file.encodings) };
    let (repr, encoding) = match chosen {
        Some(i) => (&file.encodings[i].1, Some(file.encodings[i].0)),
        None => (&file.identity, None),
    };
    let mut res = Response::new(Body::Empty);
    *res.status_mut() = status;
    // Room for every header a file response carries, so the map never grows mid-response.
    *res.headers_mut() = HeaderMap::with_capacity(16);
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, file.content_type.clone());
    h.insert(header::ETAG, repr.etag.clone());
    h.insert(header::LAST_MODIFIED, site.last_modified.clone());
    h.insert(header::CACHE_CONTROL, file.cache_control.clone());
    if status == StatusCode::OK {
        h.insert(header::ACCEPT_RANGES, BYTES.clone());
    }
    if !file.encodings.is_empty() {
        h.insert(header::VARY, VARY_AE.clone());
    }
    if let Some(encoding) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding.as_str()));
    }
    common_headers(h, host);

    if status == StatusCode::OK && negotiate::not_modified(req, &repr.etag, site.modified) {
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        return res;
    }
    if ranged && negotiate::if_range_holds(req, &repr.etag, site.modified) {
        match negotiate::range(req.get(header::RANGE), repr.size) {
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
                return res;
            }
            negotiate::Range::Unsatisfiable => {
                *res.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                let h = res.headers_mut();
                h.insert(
                    header::CONTENT_RANGE,
                    HeaderValue::try_from(format!("bytes */{}", repr.size)).expect("ascii"),
                );
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
                return res;
            }
        }
    }
    res.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(repr.size));
    *res.body_mut() = full(repr);
    res
}

fn full(repr: &Representation) -> Body {
    body::of(repr, 0, repr.size)
}

/// `_headers` rules for the request path, in order: set, then remove.
fn apply_header_rules(site: &Site, path: &str, h: &mut HeaderMap) {
    for rule in &site.header_rules {
        if rule.pattern.matches(path).is_none() {
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

fn common_headers(h: &mut HeaderMap, host: &Host) {
    h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF.clone());
    h.insert(X_APP, host.site.app_header.clone());
    h.insert(X_VERSION, host.site.version_header.clone());
    if host.noindex {
        h.insert(X_ROBOTS_TAG, NOINDEX.clone());
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::Bytes(Some(bytes::Bytes::from_static(text.as_bytes()))));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, TEXT_PLAIN.clone());
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF.clone());
    res
}

fn site_plain(host: &Host, status: StatusCode, text: &'static str) -> Response<Body> {
    let mut res = plain(status, text);
    res.headers_mut().insert(header::CACHE_CONTROL, REVALIDATE.clone());
    common_headers(res.headers_mut(), host);
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
