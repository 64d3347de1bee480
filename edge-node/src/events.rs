//! `POST /__switchyard/events`: conversions an app's page (e.g. `navigator.sendBeacon`) or its
//! back end reports, counted for the version that served the visitor.
//!
//! `{"type": "conversion", "value": 49.90, "currency": "EUR"}` (`value` and `currency` go
//! together and may both be left out) as `application/json`, `text/plain` (what `sendBeacon`
//! sends for a string) or with no content type. Answers `204` with no body.
//!
//! Security invariants:
//! - Bad input changes nothing: the body is read whole (at most [`MAX_BODY`] bytes, within
//!   [`READ_TIMEOUT`]) and validated before anything is counted; every rejection is a 4xx
//!   naming the problem (bad JSON, unknown type or field, a value that is negative, not finite
//!   or above the cap, a currency that is not three capital letters, too large, too fast).
//! - Rate limited per client address (an IPv6 client by its /64) before the body is read:
//!   a burst of [`BURST`] events, refilled at [`PER_SECOND`] a second (`limit`); past it,
//!   `429` with `retry-after`. The peer address is the client: a proxy in front of the edge
//!   would share one budget (headers such as `X-Forwarded-For` are not trusted).
//! - Attribution: the version named by the visitor's `sy_v` cookie when it names this host's
//!   app and a version this host serves (the split or retained versions of its channel, see
//!   `tagging::Channel::serves`); otherwise the version the host serves now. A version the edge
//!   holds for another host (a private preview, a version never released) is never counted on
//!   through a public host. Counting is atomic adds on that version's counters (`metrics`).

mod limit;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use switchyard_model::hosts::normalize_host;
use switchyard_model::stats::{MAX_EVENT_VALUE, is_currency, to_minor_units};
use switchyard_model::tagging::{VERSION_COOKIE, cookie, parse_version_tag};

pub(crate) use limit::{MAX_CLIENTS, RateLimiter};

use crate::metrics::{Outcome, VersionStats};
use crate::serve::Body;
use crate::sites::{Host, Routes};

/// The path events are posted to, on every host the edge serves.
pub const PATH: &str = "/__switchyard/events";
/// The largest event body accepted.
pub const MAX_BODY: usize = 4 * 1024;
/// How long a client may take to send the body.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Events one client may send at once.
pub const BURST: u32 = 20;
/// Events one client may send per second, sustained.
pub const PER_SECOND: u32 = 2;

static TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
static NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
static ALLOW_POST: HeaderValue = HeaderValue::from_static("POST");

/// Whether `req` is for the events endpoint (then [`handle`] answers it, not `respond`).
#[inline]
pub(crate) fn is_event<B>(req: &Request<B>) -> bool {
    req.uri().path() == PATH
}

/// One accepted event, ready to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Conversion {
    /// Currency and hundredths of its unit.
    pub(crate) revenue: Option<([u8; 3], i64)>,
}

/// Why an event was refused: the status and the message sent back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Rejection {
    fn bad(message: impl Into<String>) -> Rejection {
        Rejection { status: StatusCode::BAD_REQUEST, message: message.into() }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    currency: Option<String>,
}

/// Checks the content type and body of an event. Pure: no counting here.
pub(crate) fn parse(content_type: Option<&HeaderValue>, body: &[u8]) -> Result<Conversion, Rejection> {
    if let Some(ct) = content_type {
        let essence = ct.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence != "application/json" && essence != "text/plain" {
            return Err(Rejection {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: format!(
                    "content type {:?} is not accepted: send application/json or text/plain",
                    ct.to_str().unwrap_or("(not text)")
                ),
            });
        }
    }
    if body.len() > MAX_BODY {
        return Err(too_large());
    }
    let event: Event = serde_json::from_slice(body).map_err(|e| Rejection::bad(format!("bad event JSON: {e}")))?;
    if event.kind != "conversion" {
        return Err(Rejection::bad(format!("unknown event type {:?}: the only type is \"conversion\"", event.kind)));
    }
    let revenue = match (event.value, event.currency) {
        (None, None) => None,
        (Some(_), None) => return Err(Rejection::bad("\"value\" needs a \"currency\", e.g. \"EUR\"")),
        (None, Some(_)) => return Err(Rejection::bad("\"currency\" needs a \"value\"")),
        (Some(value), Some(currency)) => {
            if !is_currency(&currency) {
                return Err(Rejection::bad(format!(
                    "currency {currency:?} is not a currency code: three capital letters, like \"EUR\""
                )));
            }
            let minor = to_minor_units(value).ok_or_else(|| {
                Rejection::bad(format!("value {value} is out of range: a number from 0 to {MAX_EVENT_VALUE}"))
            })?;
            let b = currency.as_bytes();
            Some(([b[0], b[1], b[2]], minor))
        }
    };
    Ok(Conversion { revenue })
}

fn too_large() -> Rejection {
    Rejection { status: StatusCode::PAYLOAD_TOO_LARGE, message: format!("an event is at most {MAX_BODY} bytes") }
}

/// The counters an event on `host` counts on: those of the version the visitor's `sy_v`
/// cookie names when this host serves it (its channel's split or retained versions), else
/// those of the host's current version. The cookie is the client's to write: a version the
/// edge holds but this host does not serve (another channel's, a private one's) is never
/// named this way.
pub(crate) fn attributed<'a>(host: &'a Host, headers: &HeaderMap) -> &'a Arc<VersionStats> {
    let current = &host.site;
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .find_map(|h| cookie(h, VERSION_COOKIE))
        .and_then(parse_version_tag)
        .filter(|(app, _)| *app == &*current.tag.app)
        .and_then(|(_, version)| host.channel.as_ref()?.serves(version))
        .map_or(&current.stats, |site| &site.stats)
}

/// Answers one request for [`PATH`]: host → app, rate limit, read and check the body, count.
pub(crate) async fn handle(
    routes: Arc<Routes>,
    limiter: Arc<RateLimiter>,
    req: Request<hyper::body::Incoming>,
    peer: IpAddr,
    secure: bool,
) -> Response<Body> {
    let name = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).or_else(|| req.uri().host()).unwrap_or("");
    let Some(host) = routes.host(&normalize_host(name)) else {
        return answer(StatusCode::NOT_FOUND, "not found\n".into());
    };
    // A private preview takes events only from visitors holding its share link.
    if let Some(refused) = crate::access::check(host, &req, secure) {
        return refused;
    }
    if req.method() != Method::POST {
        let mut res = answer(StatusCode::METHOD_NOT_ALLOWED, "events are sent with POST\n".into());
        res.headers_mut().insert(header::ALLOW, ALLOW_POST.clone());
        return res;
    }
    if let Err(wait) = limiter.check(peer, Instant::now()) {
        host.site.stats.event(Outcome::RateLimited);
        tracing::debug!(client.addr = %peer, "event rate limited");
        let mut res = answer(StatusCode::TOO_MANY_REQUESTS, "too many events from this client: retry later\n".into());
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        return res;
    }
    let stats = attributed(host, req.headers()).clone();
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        stats.event(Outcome::TooLarge);
        return reject(too_large());
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY);
    let body = match tokio::time::timeout(READ_TIMEOUT, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(error)) => {
            if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                stats.event(Outcome::TooLarge);
                return reject(too_large());
            }
            tracing::debug!(%error, client.addr = %peer, "event body unreadable");
            stats.event(Outcome::Invalid);
            return answer(StatusCode::BAD_REQUEST, "the event body could not be read\n".into());
        }
        Err(_) => {
            stats.event(Outcome::Invalid);
            return answer(StatusCode::REQUEST_TIMEOUT, "the event body took too long\n".into());
        }
    };
    match parse(content_type.as_ref(), &body) {
        Ok(conversion) => {
            // Always counted; only the revenue may be dropped (the version's currency table
            // is full for this report window), which `revenue_dropped` in `/metrics` shows.
            if !stats.conversion(conversion.revenue) {
                tracing::debug!(client.addr = %peer, "conversion counted without its revenue: currency table full");
            }
            let mut res = Response::new(Body::Empty);
            *res.status_mut() = StatusCode::NO_CONTENT;
            res.headers_mut().insert(header::CACHE_CONTROL, NO_STORE.clone());
            res
        }
        Err(rejection) => {
            stats.event(if rejection.status == StatusCode::PAYLOAD_TOO_LARGE {
                Outcome::TooLarge
            } else {
                Outcome::Invalid
            });
            tracing::debug!(client.addr = %peer, reason = %rejection.message, "event rejected");
            reject(rejection)
        }
    }
}

fn reject(r: Rejection) -> Response<Body> {
    answer(r.status, format!("{}\n", r.message))
}

fn answer(status: StatusCode, text: String) -> Response<Body> {
    let len = text.len();
    let mut res = Response::new(Body::Bytes(Some(Bytes::from(text))));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, TEXT_PLAIN.clone());
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CACHE_CONTROL, NO_STORE.clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

#[cfg(test)]
mod tests;
