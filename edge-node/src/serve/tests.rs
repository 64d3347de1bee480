use http::header::{self, HeaderMap, HeaderValue};

use super::RequestHeaders;

fn v(s: &'static str) -> HeaderValue {
    HeaderValue::from_static(s)
}

/// The one-pass scan finds what `HeaderMap::get` would: the first value of each name, in
/// any order and case of insertion, and ignores everything else.
#[test]
fn the_scan_finds_the_first_value_of_each_header_it_reads() {
    let mut map = HeaderMap::new();
    map.append("x-other", v("1"));
    map.append(header::RANGE, v("bytes=0-1"));
    map.append(header::ACCEPT_ENCODING, v("br"));
    map.append(header::ACCEPT_ENCODING, v("gzip"));
    map.append(header::HOST, v("cart.example.com"));
    map.append(header::HOST, v("evil.example"));
    map.append(header::ACCEPT, v("text/html"));
    map.append(header::IF_NONE_MATCH, v("\"a\""));
    map.append(header::IF_MODIFIED_SINCE, v("Thu, 01 Jan 1970 00:00:00 GMT"));
    map.append(header::IF_RANGE, v("\"b\""));
    map.append(header::COOKIE, v("sy_v=cart.v1"));
    let h = RequestHeaders::scan(&map);
    for (name, found) in [
        (header::HOST, h.host),
        (header::ACCEPT, h.accept),
        (header::ACCEPT_ENCODING, h.accept_encoding),
        (header::RANGE, h.range),
        (header::IF_NONE_MATCH, h.if_none_match),
        (header::IF_MODIFIED_SINCE, h.if_modified_since),
        (header::IF_RANGE, h.if_range),
    ] {
        assert_eq!(found, map.get(&name), "{name}");
    }
    assert_eq!(h.host.unwrap(), "cart.example.com");
    assert_eq!(h.accept_encoding.unwrap(), "br");
    assert!(h.cookie);

    let mut map = HeaderMap::new();
    map.append(header::USER_AGENT, v("wrk"));
    let h = RequestHeaders::scan(&map);
    assert!(h.host.is_none() && h.accept.is_none() && h.range.is_none() && !h.cookie);
}
