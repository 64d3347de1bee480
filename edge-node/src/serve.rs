//! Request handling: host → site, path → file, response with prebuilt headers.
//!
//! Security invariants (DESIGN invariant 7):
//! - The request path is split on `/` before percent-decoding, so `%2F` never acts as a
//!   separator; a decoded segment that holds `/`, a NUL, invalid UTF-8 or is `..` never
//!   reaches the look-up.
//! - Look-up is in the site's manifest map only; no request data becomes a filesystem path.
//! - An unknown host gets a bare 404 that names nothing about what the edge serves.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Frame;
use switchyard_model::hosts::normalize_host;

use crate::sites::{BlobBody, File, Routes, Site};

static NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
static TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
static REVALIDATE: HeaderValue = HeaderValue::from_static("public, max-age=0, must-revalidate");
static ALLOW: HeaderValue = HeaderValue::from_static("GET, HEAD");
const X_APP: &str = "x-switchyard-app";
const X_VERSION: &str = "x-switchyard-version";

/// A response body: nothing, bytes in memory, or a file streamed from the cache.
pub enum Body {
    Empty,
    Bytes(Option<Bytes>),
    File {
        stream: tokio_util::io::ReaderStream<tokio::fs::File>,
        remaining: u64,
    },
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match &mut *self {
            Body::Empty => Poll::Ready(None),
            Body::Bytes(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::File { stream, remaining } => {
                use futures_util::Stream;
                match Pin::new(stream).poll_next(cx) {
                    Poll::Ready(Some(Ok(chunk))) => {
                        *remaining = remaining.saturating_sub(chunk.len() as u64);
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Bytes(b) => b.is_none(),
            Body::File { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Body::Empty => hyper::body::SizeHint::with_exact(0),
            Body::Bytes(b) => {
                hyper::body::SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64))
            }
            Body::File { remaining, .. } => hyper::body::SizeHint::with_exact(*remaining),
        }
    }
}

/// Answers one request from `routes`.
pub fn respond<B>(routes: &Routes, req: &Request<B>) -> Response<Body> {
    let host = req
        .uri()
        .host()
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
        })
        .unwrap_or("");
    let Some(site) = routes.site_for(&normalize_host(host)) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut res = site_plain(site, StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            res.headers_mut().insert(header::ALLOW, ALLOW.clone());
            return res;
        }
    };
    let key = match manifest_key(req.uri().path()) {
        Ok(key) => key,
        Err(reason) => return site_plain(site, StatusCode::BAD_REQUEST, reason),
    };
    let Some(file) = key.as_deref().and_then(|k| site.file(k)) else {
        return site_plain(site, StatusCode::NOT_FOUND, "not found\n");
    };
    if let Some(inm) = req.headers().get(header::IF_NONE_MATCH)
        && etag_matches(inm, &file.etag)
    {
        let mut res = Response::new(Body::Empty);
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        file_headers(res.headers_mut(), site, file);
        res.headers_mut().remove(header::CONTENT_LENGTH);
        return res;
    }
    let body = if head { Body::Empty } else { file_body(file) };
    let mut res = Response::new(body);
    file_headers(res.headers_mut(), site, file);
    res
}

fn file_body(file: &File) -> Body {
    match &*file.body {
        BlobBody::Memory(bytes) => Body::Bytes(Some(bytes.clone())),
        BlobBody::Disk(path) => match std::fs::File::open(path) {
            Ok(f) => Body::File {
                stream: tokio_util::io::ReaderStream::with_capacity(
                    tokio::fs::File::from_std(f),
                    64 * 1024,
                ),
                remaining: file.size,
            },
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "cached blob unreadable");
                Body::Empty
            }
        },
    }
}

fn file_headers(h: &mut http::HeaderMap, site: &Site, file: &File) {
    h.insert(header::CONTENT_TYPE, file.content_type.clone());
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    h.insert(header::ETAG, file.etag.clone());
    h.insert(header::CACHE_CONTROL, REVALIDATE.clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF.clone());
    h.insert(X_APP, site.app_header.clone());
    h.insert(X_VERSION, site.version_header.clone());
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::Bytes(Some(Bytes::from_static(text.as_bytes()))));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, TEXT_PLAIN.clone());
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF.clone());
    res
}

fn site_plain(site: &Site, status: StatusCode, text: &'static str) -> Response<Body> {
    let mut res = plain(status, text);
    res.headers_mut().insert(X_APP, site.app_header.clone());
    res.headers_mut()
        .insert(X_VERSION, site.version_header.clone());
    res
}

/// `If-None-Match` against a strong ETag: `*`, or any listed tag (weak comparison, as
/// RFC 9110 asks for this header).
fn etag_matches(inm: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(inm) = inm.to_str() else { return false };
    let etag = etag.to_str().unwrap_or("");
    inm.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

/// Turns a request path into a manifest key: segments split on `/` and percent-decoded one by
/// one, empty and `.` segments dropped, `index.html` appended to directories. `Ok(None)` is a
/// path that cannot name any file (a decoded segment holding `/`).
pub fn manifest_key(path: &str) -> Result<Option<String>, &'static str> {
    let mut key = String::with_capacity(path.len() + 10);
    let mut is_dir = true;
    let mut impossible = false;
    for raw in path.split('/') {
        is_dir = true;
        if raw.is_empty() || raw == "." {
            continue;
        }
        let segment = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| "bad request: path is not valid UTF-8\n")?;
        if segment.contains('\0') || segment.chars().any(char::is_control) {
            return Err("bad request: path contains a control character\n");
        }
        match &*segment {
            ".." => return Err("bad request: path contains '..'\n"),
            "." | "" => continue,
            s if s.contains('/') || s.contains('\\') => impossible = true,
            _ => {}
        }
        if !key.is_empty() {
            key.push('/');
        }
        key.push_str(&segment);
        is_dir = false;
    }
    if impossible {
        return Ok(None);
    }
    if is_dir {
        if !key.is_empty() {
            key.push('/');
        }
        key.push_str("index.html");
    }
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::manifest_key;

    #[test]
    fn request_paths_become_manifest_keys() {
        assert_eq!(manifest_key("/"), Ok(Some("index.html".into())));
        assert_eq!(manifest_key(""), Ok(Some("index.html".into())));
        assert_eq!(manifest_key("/shop/"), Ok(Some("shop/index.html".into())));
        assert_eq!(manifest_key("/a//b.js"), Ok(Some("a/b.js".into())));
        assert_eq!(manifest_key("/./a/./b.js"), Ok(Some("a/b.js".into())));
        assert_eq!(
            manifest_key("/caf%C3%A9.html"),
            Ok(Some("café.html".into()))
        );
        assert_eq!(manifest_key("/a%20b.txt"), Ok(Some("a b.txt".into())));
        assert_eq!(
            manifest_key("/a%2Fb.txt"),
            Ok(None),
            "%2F is not a separator"
        );
        assert_eq!(manifest_key("/a%5Cb.txt"), Ok(None));
    }

    #[test]
    fn hostile_paths_are_refused() {
        assert!(manifest_key("/../etc/passwd").is_err());
        assert!(manifest_key("/a/%2e%2e/b").is_err());
        assert!(manifest_key("/a%00b").is_err());
        assert!(manifest_key("/a%0Ab").is_err());
        assert!(manifest_key("/%FF").is_err());
    }
}
