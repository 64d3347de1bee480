//! What the request asks for: an encoding (`Accept-Encoding` with q-values), a freshness check
//! (`If-None-Match`, `If-Modified-Since`), a byte range (`Range`, `If-Range`).

use std::time::SystemTime;

use http::header::HeaderValue;
use switchyard_model::Encoding;

use crate::sites::Representation;

/// Index into `encodings` of the encoding to send, or `None` for the identity bytes.
/// Highest q-value wins; on a tie the earlier entry (brotli) wins; q=0 refuses.
pub(super) fn encoding(accept: Option<&HeaderValue>, encodings: &[(Encoding, Representation)]) -> Option<usize> {
    let accept = accept?.to_str().ok()?;
    let mut best: Option<(usize, u16)> = None;
    for (i, (encoding, _)) in encodings.iter().enumerate() {
        let q = q_for(accept, encoding.as_str());
        if q > 0 && best.is_none_or(|(_, bq)| q > bq) {
            best = Some((i, q));
        }
    }
    best.map(|(i, _)| i)
}

/// The q-value (in thousandths) `accept` gives `coding`, falling back to `*`, else 0.
fn q_for(accept: &str, coding: &str) -> u16 {
    let mut star = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .map_or(1000, parse_q);
        if name.eq_ignore_ascii_case(coding) {
            return q;
        }
        if name == "*" {
            star = Some(q);
        }
    }
    star.unwrap_or(0)
}

/// `0.8` → 800. Malformed values count as 0.
fn parse_q(s: &str) -> u16 {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    match int {
        "1" if frac.bytes().all(|b| b == b'0') => 1000,
        "0" => format!("{frac:0<3}").parse().unwrap_or(0),
        _ => 0,
    }
}

fn etag_list_matches(list: &HeaderValue, etag: &HeaderValue) -> bool {
    let (Ok(list), Ok(etag)) = (list.to_str(), etag.to_str()) else { return false };
    list.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// RFC 9110 §13.2.2: `If-None-Match` decides when present; otherwise `If-Modified-Since`.
pub(super) fn not_modified(
    if_none_match: Option<&HeaderValue>,
    if_modified_since: Option<&HeaderValue>,
    etag: &HeaderValue,
    modified: SystemTime,
) -> bool {
    if let Some(inm) = if_none_match {
        return etag_list_matches(inm, etag);
    }
    let Some(since) = if_modified_since.and_then(|v| v.to_str().ok()) else { return false };
    httpdate::parse_http_date(since).is_ok_and(|since| unix_secs(modified) <= unix_secs(since))
}

/// `If-Range`: serve the range only if the validator still matches (strong comparison).
pub(super) fn if_range_holds(if_range: Option<&HeaderValue>, etag: &HeaderValue, modified: SystemTime) -> bool {
    let Some(value) = if_range.and_then(|v| v.to_str().ok()) else { return true };
    if value.starts_with('"') {
        return value.as_bytes() == etag.as_bytes();
    }
    httpdate::parse_http_date(value).is_ok_and(|date| unix_secs(date) == unix_secs(modified))
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Range {
    /// No usable single range: send everything with 200.
    Full,
    /// Inclusive byte positions.
    Part(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range against a representation of `size` bytes. Several ranges, other units
/// and malformed values are answered with the whole file, as RFC 9110 allows.
pub(super) fn range(value: Option<&HeaderValue>, size: u64) -> Range {
    let Some(spec) = value.and_then(|v| v.to_str().ok()).and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Range::Full;
    };
    if spec.contains(',') {
        return Range::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Range::Full };
    let num =
        |s: &str| if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) { None } else { s.parse::<u64>().ok() };
    match (first.trim(), last.trim()) {
        ("", suffix) => match num(suffix) {
            Some(0) => Range::Unsatisfiable,
            Some(_) if size == 0 => Range::Unsatisfiable,
            Some(n) => Range::Part(size.saturating_sub(n), size - 1),
            None => Range::Full,
        },
        (start, "") => match num(start) {
            Some(s) if s >= size => Range::Unsatisfiable,
            Some(s) => Range::Part(s, size - 1),
            None => Range::Full,
        },
        (start, end) => match (num(start), num(end)) {
            (Some(s), Some(e)) if s > e => Range::Full,
            (Some(s), Some(_)) if s >= size => Range::Unsatisfiable,
            (Some(s), Some(e)) => Range::Part(s, e.min(size - 1)),
            _ => Range::Full,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;
    use http::header;

    fn v(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn q_values() {
        assert_eq!(q_for("br, gzip", "br"), 1000);
        assert_eq!(q_for("gzip;q=0.8, br;q=0.9", "gzip"), 800);
        assert_eq!(q_for("gzip;q=0.8, *;q=0.1", "br"), 100);
        assert_eq!(q_for("gzip", "br"), 0);
        assert_eq!(q_for("br;q=0", "br"), 0);
        assert_eq!(q_for("br;q=1.5", "br"), 0, "malformed q refuses");
        assert_eq!(parse_q("0.05"), 50);
    }

    #[test]
    fn ranges() {
        let r = |s: &str, size| range(Some(&v(s)), size);
        assert_eq!(r("bytes=0-99", 1000), Range::Part(0, 99));
        assert_eq!(r("bytes=900-", 1000), Range::Part(900, 999));
        assert_eq!(r("bytes=-100", 1000), Range::Part(900, 999));
        assert_eq!(r("bytes=-5000", 1000), Range::Part(0, 999));
        assert_eq!(r("bytes=990-2000", 1000), Range::Part(990, 999));
        assert_eq!(r("bytes=1000-", 1000), Range::Unsatisfiable);
        assert_eq!(r("bytes=-0", 1000), Range::Unsatisfiable);
        assert_eq!(r("bytes=0-0", 0), Range::Unsatisfiable);
        assert_eq!(r("bytes=0-1,5-6", 1000), Range::Full);
        assert_eq!(r("bytes=5-1", 1000), Range::Full);
        assert_eq!(r("items=0-1", 1000), Range::Full);
        assert_eq!(r("bytes=x-1", 1000), Range::Full);
        assert_eq!(range(None, 10), Range::Full);
    }

    #[test]
    fn conditionals() {
        let etag = v("\"abc\"");
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let not_modified = |h: &HeaderMap, etag: &HeaderValue, t| {
            not_modified(h.get(header::IF_NONE_MATCH), h.get(header::IF_MODIFIED_SINCE), etag, t)
        };
        let if_range_holds = |h: &HeaderMap, etag: &HeaderValue, t| if_range_holds(h.get(header::IF_RANGE), etag, t);
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, v("\"x\", W/\"abc\""));
        assert!(not_modified(&h, &etag, t));
        h.insert(header::IF_NONE_MATCH, v("\"x\""));
        h.insert(header::IF_MODIFIED_SINCE, v(&httpdate::fmt_http_date(t)));
        assert!(!not_modified(&h, &etag, t), "If-None-Match decides when present");
        h.remove(header::IF_NONE_MATCH);
        assert!(not_modified(&h, &etag, t));
        h.insert(header::IF_MODIFIED_SINCE, v(&httpdate::fmt_http_date(t - std::time::Duration::from_secs(1))));
        assert!(!not_modified(&h, &etag, t));
        h.insert(header::IF_MODIFIED_SINCE, v("garbage"));
        assert!(!not_modified(&h, &etag, t));
        let mut h = HeaderMap::new();
        h.insert(header::IF_RANGE, v("\"abc\""));
        assert!(if_range_holds(&h, &etag, t));
        h.insert(header::IF_RANGE, v("\"old\""));
        assert!(!if_range_holds(&h, &etag, t));
    }
}
