//! What the request asks for: an encoding (`Accept-Encoding` with q-values), a freshness check
//! (`If-None-Match`, `If-Modified-Since`), a byte range (`Range`, `If-Range`).

use std::time::SystemTime;

use http::header::HeaderValue;
use switchyard_model::Encoding;

/// Index into `encodings` of the encoding to send, or `None` for the identity bytes.
/// Highest q-value wins; on a tie the earlier entry (brotli) wins; q=0 refuses. `last` is the
/// connection's (see [`LastAccepted`]).
pub(super) fn encoding<T>(
    accept: Option<&HeaderValue>,
    encodings: &[(Encoding, T)],
    last: &mut LastAccepted,
) -> Option<usize> {
    if encodings.is_empty() {
        return None;
    }
    let accepted = last.read(accept?);
    let mut best: Option<(usize, u16)> = None;
    for (i, (encoding, _)) in encodings.iter().enumerate() {
        let q = accepted.q(*encoding);
        if q > 0 && best.is_none_or(|(_, bq)| q > bq) {
            best = Some((i, q));
        }
    }
    best.map(|(i, _)| i)
}

/// The `Accept-Encoding` value of a connection's last request for a compressible file, and
/// what it grants: a client sends the same value on every request of a connection, and
/// comparing its bytes costs a sixth of reading them (`benches/README.md`). Starts as the
/// empty value, which grants nothing, as it should.
#[derive(Default)]
pub(super) struct LastAccepted {
    value: Vec<u8>,
    accepted: Accepted,
}

/// Longer values are read each time rather than kept for the connection's life (browsers
/// send under 40 bytes).
const KEPT_AT_MOST: usize = 256;

impl LastAccepted {
    /// What `value` grants; a value that is not visible ASCII grants nothing.
    fn read(&mut self, value: &HeaderValue) -> Accepted {
        let bytes = value.as_bytes();
        if bytes == self.value {
            return self.accepted;
        }
        let accepted = match value.to_str() {
            Ok(text) => Accepted::parse(text.as_bytes()),
            Err(_) => Accepted::default(),
        };
        if bytes.len() <= KEPT_AT_MOST {
            self.value.clear();
            self.value.extend_from_slice(bytes);
            self.accepted = accepted;
        }
        accepted
    }
}

/// What an `Accept-Encoding` value grants the codings the edge stores, read in one pass over
/// its bytes (this runs on every request for a compressible file). q-values in thousandths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Accepted {
    /// The first `br` item's q-value.
    br: Option<u16>,
    /// The first `gzip` item's q-value.
    gzip: Option<u16>,
    /// The last `*` item's q-value: what a coding not named gets.
    star: Option<u16>,
}

impl Accepted {
    fn parse(value: &[u8]) -> Accepted {
        let mut accepted = Accepted::default();
        for item in value.split(|&b| b == b',') {
            let mut parts = item.split(|&b| b == b';');
            let name = parts.next().unwrap_or_default().trim_ascii();
            let q = parts
                .map(<[u8]>::trim_ascii)
                .find_map(|p| p.strip_prefix(b"q=").or_else(|| p.strip_prefix(b"Q=")))
                .map_or(1000, parse_q);
            if name.eq_ignore_ascii_case(b"br") {
                accepted.br.get_or_insert(q);
            } else if name.eq_ignore_ascii_case(b"gzip") {
                accepted.gzip.get_or_insert(q);
            } else if name == b"*" {
                accepted.star = Some(q);
            }
        }
        accepted
    }

    /// The q-value for `encoding`: its own item, else `*`, else 0 (refused).
    fn q(&self, encoding: Encoding) -> u16 {
        let named = match encoding {
            Encoding::Br => self.br,
            Encoding::Gzip => self.gzip,
        };
        named.or(self.star).unwrap_or(0)
    }
}

/// `0.8` → 800, `1` → 1000. Malformed values (more than three decimals, anything above 1,
/// stray characters) count as 0.
fn parse_q(s: &[u8]) -> u16 {
    let s = s.trim_ascii();
    let (int, frac) = match s.iter().position(|&b| b == b'.') {
        Some(dot) => (&s[..dot], &s[dot + 1..]),
        None => (s, &[][..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return 0;
    }
    match int {
        b"1" if frac.iter().all(|&b| b == b'0') => 1000,
        b"0" => frac.iter().chain(std::iter::repeat(&b'0')).take(3).fold(0, |q, &d| q * 10 + u16::from(d - b'0')),
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

    fn q(accept: &str, encoding: Encoding) -> u16 {
        Accepted::parse(accept.as_bytes()).q(encoding)
    }

    #[test]
    fn q_values() {
        use Encoding::{Br, Gzip};
        assert_eq!(q("br, gzip", Br), 1000);
        assert_eq!(q("gzip;q=0.8, br;q=0.9", Gzip), 800);
        assert_eq!(q("gzip;q=0.8, *;q=0.1", Br), 100, "a coding not named gets *");
        assert_eq!(q("gzip", Br), 0);
        assert_eq!(q("br;q=0", Br), 0);
        assert_eq!(q("br;q=1.5", Br), 0, "malformed q refuses");
        assert_eq!(q("BR;Q=0.5", Br), 500, "names and q are case-insensitive");
        assert_eq!(q(" br ; level=4 ;q=0.25 , gzip", Br), 250, "spaces and other parameters");
        assert_eq!(q("\tgzip\t;q=0.3", Gzip), 300);
        assert_eq!(q("br;q=0.9, br;q=0.1", Br), 900, "the first item for a coding counts");
        assert_eq!(q("*;q=0.2, *;q=0.7", Gzip), 700, "the last * counts");
        assert_eq!(q("*;q=0, gzip", Br), 0, "*;q=0 refuses what is not named");
        assert_eq!(q("*;q=0, gzip", Gzip), 1000);
        assert_eq!(q(",, ,br,", Br), 1000, "empty items are skipped");
        assert_eq!(q("brotli, xgzip, gzipx, identity", Br), 0, "whole names only");
        assert_eq!(q("brotli, xgzip, gzipx, identity", Gzip), 0);
        assert_eq!(q("", Br), 0);
        for (value, thousandths) in [
            ("0.05", 50),
            ("0.5", 500),
            ("0.123", 123),
            ("0.", 0),
            ("0", 0),
            ("1", 1000),
            ("1.", 1000),
            ("1.000", 1000),
            (" 0.7 ", 700),
            ("1.001", 0),
            ("0.1234", 0),
            ("0.5x", 0),
            ("2", 0),
            ("-1", 0),
            ("", 0),
            (".5", 0),
            ("00.5", 0),
        ] {
            assert_eq!(parse_q(value.as_bytes()), thousandths, "q={value:?}");
        }
    }

    #[test]
    fn encoding_picks_the_highest_q_and_brotli_on_a_tie() {
        let both = [(Encoding::Br, ()), (Encoding::Gzip, ())];
        let pick = |accept: Option<&str>| encoding(accept.map(v).as_ref(), &both, &mut LastAccepted::default());
        assert_eq!(pick(Some("gzip, deflate, br, zstd")), Some(0));
        assert_eq!(pick(Some("gzip;q=1, br;q=0.5")), Some(1));
        assert_eq!(pick(Some("br;q=0, gzip;q=0")), None);
        assert_eq!(pick(Some("identity")), None);
        assert_eq!(pick(None), None);
        let obs_text = HeaderValue::from_bytes(b"br\xff").unwrap();
        let last = &mut LastAccepted::default();
        assert_eq!(encoding(Some(&obs_text), &both, last), None, "a value that is not visible ASCII is ignored");
        assert_eq!(encoding(Some(&v("br")), &both[1..], last), None, "only the stored variants count");
        assert_eq!(encoding::<()>(Some(&v("br")), &[], last), None);
    }

    /// A connection's requests may change their `Accept-Encoding` at any point: each pick is
    /// the one the value alone gives, whatever the connection remembered from before.
    #[test]
    fn a_connection_remembers_only_what_its_last_value_grants() {
        let both = [(Encoding::Br, ()), (Encoding::Gzip, ())];
        let long = format!("gzip;q=0.5, {}br", "x, ".repeat(100));
        assert!(long.len() > KEPT_AT_MOST);
        let obs_text = HeaderValue::from_bytes(b"br\xff").unwrap();
        let values = [
            v("br, gzip"),
            v("br, gzip"),
            v("gzip"),
            v("br;q=0, gzip;q=0"),
            v(&long),
            v("br, gzip"),
            v(&long),
            v("gzip"),
            obs_text.clone(),
            v("br"),
            obs_text,
            v(""),
            v("*"),
        ];
        let expected =
            [Some(0), Some(0), Some(1), None, Some(0), Some(0), Some(0), Some(1), None, Some(0), None, None, Some(0)];
        let last = &mut LastAccepted::default();
        for (value, expected) in values.iter().zip(expected) {
            assert_eq!(encoding(Some(value), &both, last), expected, "{value:?}");
            assert_eq!(encoding(Some(value), &both, &mut LastAccepted::default()), expected, "{value:?} alone");
        }
        assert_eq!(last.value, b"*", "the last value short enough is kept");
        assert_eq!(encoding(None, &both, last), None, "no header: the identity bytes");
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
