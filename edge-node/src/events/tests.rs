use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use http::StatusCode;
use http::header::HeaderValue;

use super::*;

fn json() -> Option<HeaderValue> {
    Some(HeaderValue::from_static("application/json"))
}

fn bad(ct: Option<HeaderValue>, body: &str) -> Rejection {
    parse(ct.as_ref(), body.as_bytes()).expect_err(body)
}

#[test]
fn conversions_are_accepted_in_every_content_type_sendbeacon_uses() {
    let body = r#"{"type": "conversion", "value": 49.90, "currency": "EUR"}"#;
    let want = Conversion { revenue: Some((*b"EUR", 4990)) };
    for ct in [json(), Some(HeaderValue::from_static("text/plain;charset=UTF-8")), None] {
        assert_eq!(parse(ct.as_ref(), body.as_bytes()), Ok(want));
    }
    assert_eq!(parse(json().as_ref(), br#"{"type":"conversion"}"#), Ok(Conversion { revenue: None }));
    assert_eq!(
        parse(None, br#"{"type":"conversion","value":0,"currency":"JPY"}"#),
        Ok(Conversion { revenue: Some((*b"JPY", 0)) })
    );
    assert_eq!(
        parse(None, br#"{"type":"conversion","value":10000000,"currency":"EUR"}"#),
        Ok(Conversion { revenue: Some((*b"EUR", 1_000_000_000)) }),
        "the largest value"
    );
}

#[test]
fn every_bad_event_is_a_4xx_naming_the_problem() {
    let cases: &[(&str, &str)] = &[
        ("{", "bad event JSON"),
        ("", "bad event JSON"),
        ("[]", "bad event JSON"),
        ("null", "bad event JSON"),
        (r#"{"value": 1, "currency": "EUR"}"#, "missing field `type`"),
        (r#"{"type": "click"}"#, "unknown event type \"click\""),
        (r#"{"type": 5}"#, "invalid type"),
        (r#"{"type": "conversion", "value": -1, "currency": "EUR"}"#, "value -1 is out of range"),
        (r#"{"type": "conversion", "value": 1e10, "currency": "EUR"}"#, "out of range"),
        (r#"{"type": "conversion", "value": 10000000.01, "currency": "EUR"}"#, "a number from 0 to 10000000"),
        (r#"{"type": "conversion", "value": 1e400, "currency": "EUR"}"#, "bad event JSON"),
        (r#"{"type": "conversion", "value": NaN, "currency": "EUR"}"#, "bad event JSON"),
        (r#"{"type": "conversion", "value": "49.90", "currency": "EUR"}"#, "invalid type: string"),
        (r#"{"type": "conversion", "value": 1, "currency": "eur"}"#, "currency \"eur\" is not a currency code"),
        (r#"{"type": "conversion", "value": 1, "currency": "EURO"}"#, "not a currency code"),
        (r#"{"type": "conversion", "value": 1, "currency": "€€€"}"#, "not a currency code"),
        (r#"{"type": "conversion", "value": 1}"#, "needs a \"currency\""),
        (r#"{"type": "conversion", "currency": "EUR"}"#, "needs a \"value\""),
        (r#"{"type": "conversion", "amount": 1}"#, "unknown field `amount`"),
        (r#"{"type": "conversion", "type": "conversion"}"#, "duplicate field `type`"),
    ];
    for (body, want) in cases {
        let r = bad(json(), body);
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(r.message.contains(want), "{body}: {:?} should name {want:?}", r.message);
    }
    let r = bad(Some(HeaderValue::from_static("application/x-www-form-urlencoded")), r#"{"type":"conversion"}"#);
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(r.message.contains("application/x-www-form-urlencoded"), "{}", r.message);
    let huge = format!(r#"{{"type":"conversion","pad":"{}"}}"#, "x".repeat(MAX_BODY));
    assert_eq!(bad(json(), &huge).status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn the_rate_limit_allows_a_burst_then_the_refill_rate() {
    let limiter = RateLimiter::new(BURST, PER_SECOND, 1000);
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let t0 = Instant::now();
    for i in 0..BURST {
        assert!(limiter.check(ip, t0).is_ok(), "event {i} of the burst");
    }
    let wait = limiter.check(ip, t0).unwrap_err();
    assert_eq!(wait, Duration::from_secs(1));
    // Another client has its own budget.
    assert!(limiter.check(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), t0).is_ok());
    // Half a second refills one event at 2/s; then it is spent again.
    let t1 = t0 + Duration::from_millis(500);
    assert!(limiter.check(ip, t1).is_ok());
    assert!(limiter.check(ip, t1).is_err());
    // An IPv6 client is limited by its /64.
    let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
    for _ in 0..BURST {
        limiter.check(a, t0).unwrap();
    }
    assert!(limiter.check(b, t0).is_err(), "same /64");
    assert!(limiter.check("2001:db8:1:3::1".parse().unwrap(), t0).is_ok(), "another /64");
    // IPv4-mapped IPv6 is the IPv4 client.
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
    assert!(limiter.check(mapped, t1).is_err());
    let _ = Ipv6Addr::LOCALHOST;
}

#[test]
fn the_limiter_has_a_memory_bound() {
    let limiter = RateLimiter::new(BURST, PER_SECOND, 10);
    let t0 = Instant::now();
    for i in 0..10u8 {
        limiter.check(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)), t0).unwrap();
    }
    // Full, and no bucket has refilled yet: a new client is refused, the map does not grow.
    assert!(limiter.check(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)), t0).is_err());
    assert_eq!(limiter.clients(), 10);
    // Known clients still get their budget.
    assert!(limiter.check(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)), t0).is_ok());
    // Once buckets refilled completely, they are dropped to make room.
    let later = t0 + Duration::from_secs(60);
    assert!(limiter.check(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)), later).is_ok());
    assert_eq!(limiter.clients(), 1);
}

/// `sy_v` is the visitor's to write: it moves an event only to a version this host serves.
#[test]
fn sy_v_attributes_only_to_versions_this_host_serves() {
    use std::collections::HashMap;

    use switchyard_model::{AppState, LIVE, Retained, SplitShare};

    use crate::sites::Site;
    use crate::tagging::Channel;

    let sites: HashMap<u64, Arc<Site>> = (1..=5).map(|v| (v, Arc::new(Site::empty("cart", v)))).collect();
    // Live v3 split 90/10 with v4, v1 retained; v2 and v5 held for other hosts (a preview, a
    // private version never released).
    let state = AppState {
        channels: [(LIVE.to_owned(), 3)].into(),
        split: [(3, 90), (4, 10)].iter().map(|&(version, weight)| SplitShare { version, weight }).collect(),
        recent: [(LIVE.to_owned(), vec![Retained { version: 1, until: u64::MAX - 1 }])].into(),
        ..AppState::default()
    };
    let host = |site: u64, channel: Option<Channel>| Host {
        site: sites[&site].clone(),
        noindex: false,
        https_redirect: false,
        hsts: None,
        access: None,
        channel: channel.map(Arc::new),
    };
    let live = host(3, Some(Channel::build(LIVE, &state, &sites, 0)));
    let on = |host: &Host, cookie: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        attributed(host, &headers).version
    };
    for (cookie, want) in [
        ("sy_v=cart.v1", 1),
        ("a=b; sy_v=cart.v4", 4),
        ("sy_v=cart.v3", 3),
        ("sy_v=cart.v2", 3),
        ("sy_v=cart.v5", 3),
        ("sy_v=cart.v99", 3),
        ("sy_v=shop.v4", 3),
        ("sy_v=cart.4", 3),
        ("sy_id=1", 3),
    ] {
        assert_eq!(on(&live, cookie), want, "{cookie}");
    }
    // A version host counts on its own version, whatever the cookie names.
    let version_host = host(5, None);
    assert_eq!(on(&version_host, "sy_v=cart.v3"), 5);
}
