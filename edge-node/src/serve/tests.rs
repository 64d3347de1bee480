use std::sync::Arc;

use http::Uri;
use http::header::{self, HeaderMap, HeaderValue};

use super::{LastHost, RequestHeaders};
use crate::sites::{Host, Routes, Site};

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

fn host_of(app: &str) -> Host {
    Host {
        site: Arc::new(Site::empty(app, 1)),
        noindex: false,
        https_redirect: false,
        hsts: None,
        access: None,
        channel: None,
    }
}

fn app_of(host: Option<&Host>) -> Option<&str> {
    host.map(|h| &*h.site.tag.app)
}

/// What the connection keeps: the generation and the bytes.
fn kept(last: &LastHost) -> Option<(u64, &[u8])> {
    last.0.as_ref().map(|found| (found.generation, &*found.named))
}

/// A connection's last host is taken again only for the same bytes in the same table; any
/// other name, or routes swapped since, is looked up afresh (and a swap that dropped the host
/// answers unknown, not from what was kept).
#[test]
fn the_last_host_is_kept_only_for_the_same_name_in_the_same_routes() {
    let origin: Uri = "/".parse().unwrap();
    let first = Routes::with_hosts([("cart.example.com", host_of("cart")), ("shop.example.com", host_of("shop"))]);
    let mut last = LastHost::default();
    assert_eq!(kept(&last), None);
    assert_eq!(app_of(last.find(&first, Some(&v("Cart.Example.com:8080")), &origin)), Some("cart"));
    assert_eq!(kept(&last), Some((first.generation(), &b"Cart.Example.com:8080"[..])));
    // The same bytes again: the same host of the same table.
    let again = last.find(&first, Some(&v("Cart.Example.com:8080")), &origin).map(|h| h as *const Host);
    assert_eq!(again, first.host("cart.example.com").map(|h| h as *const Host));
    // Another name on the same connection: looked up, and kept instead.
    assert_eq!(app_of(last.find(&first, Some(&v("shop.example.com")), &origin)), Some("shop"));
    assert_eq!(app_of(last.find(&first, Some(&v("cart.example.com")), &origin)), Some("cart"));
    // An unknown name: none, and the last host stays.
    assert_eq!(app_of(last.find(&first, Some(&v("evil.example")), &origin)), None);
    assert_eq!(kept(&last), Some((first.generation(), &b"cart.example.com"[..])));
    // Routes swapped: the same bytes are looked up in the new table, where the host's place
    // differs; a table without it answers none.
    let second =
        Routes::with_hosts([("shop.example.com", host_of("shop-next")), ("cart.example.com", host_of("cart-next"))]);
    assert_ne!(second.generation(), first.generation());
    assert_eq!(app_of(last.find(&second, Some(&v("cart.example.com")), &origin)), Some("cart-next"));
    assert_eq!(app_of(last.find(&second, Some(&v("cart.example.com")), &origin)), Some("cart-next"));
    let third = Routes::with_hosts([]);
    assert_eq!(app_of(last.find(&third, Some(&v("cart.example.com")), &origin)), None);
    // Generations are never reused, even once a table is dropped.
    let generation = third.generation();
    drop((first, second, third));
    assert!(Routes::default().generation() > generation);
}

/// Without `Host` (HTTP/2), the URI's authority names the host; a `Host` that is not text
/// falls back to it too, and is not kept: the next request with those bytes and another
/// authority finds that authority's host.
#[test]
fn the_last_host_follows_the_uri_without_a_usable_host_header() {
    let routes = Routes::with_hosts([("cart.example.com", host_of("cart")), ("shop.example.com", host_of("shop"))]);
    let cart: Uri = "https://cart.example.com/".parse().unwrap();
    let shop: Uri = "https://shop.example.com/".parse().unwrap();
    let mut last = LastHost::default();
    assert_eq!(app_of(last.find(&routes, None, &cart)), Some("cart"));
    assert_eq!(app_of(last.find(&routes, None, &cart)), Some("cart"));
    assert_eq!(app_of(last.find(&routes, None, &shop)), Some("shop"));
    let not_text = HeaderValue::from_bytes(b"caf\xc3\xa9.example").unwrap();
    assert_eq!(app_of(last.find(&routes, Some(&not_text), &cart)), Some("cart"));
    assert_eq!(app_of(last.find(&routes, Some(&not_text), &shop)), Some("shop"));
    assert_eq!(kept(&last), Some((routes.generation(), &b"shop.example.com"[..])));
    // A name padded past any real host and port is found, and not kept.
    let padded = HeaderValue::try_from(format!("cart.example.com:{}", "0".repeat(300))).unwrap();
    assert_eq!(app_of(last.find(&routes, Some(&padded), &cart)), Some("cart"));
    assert_eq!(kept(&last), Some((routes.generation(), &b"shop.example.com"[..])));
}
