use std::collections::HashMap;

use switchyard_model::{Retained, SplitShare};

use super::*;

fn sites(n: u64) -> HashMap<u64, Arc<Site>> {
    (1..=n).map(|v| (v, Arc::new(Site::empty("cart", v)))).collect()
}

fn state(live: u64, split: &[(u64, u8)], recent: &[(u64, u64)]) -> AppState {
    AppState {
        channels: [(LIVE.to_owned(), live)].into(),
        split: split.iter().map(|&(version, weight)| SplitShare { version, weight }).collect(),
        recent: [(LIVE.to_owned(), recent.iter().map(|&(version, until)| Retained { version, until }).collect())]
            .into(),
        ..AppState::default()
    }
}

fn host(sites: &HashMap<u64, Arc<Site>>, state: &AppState, now: u64) -> Host {
    let live = state.channels[LIVE];
    Host {
        site: sites[&live].clone(),
        noindex: false,
        https_redirect: false,
        hsts: None,
        access: None,
        channel: Some(Arc::new(Channel::build(LIVE, state, sites, now))),
    }
}

fn cookie_headers(values: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(header::COOKIE, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn no_clock() -> u64 {
    panic!("the clock is read only for retained versions")
}

const ID: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn cookies_are_read_from_every_cookie_header_and_junk_ignored() {
    let h = cookie_headers(&["a=1; sy_v=cart.v3", "theme=dark;sy_id=0123456789ABCDEF0123456789abcdef ; x"]);
    let c = Cookies::read(&h);
    assert_eq!(c.version, Some(&b"cart.v3"[..]));
    assert_eq!(c.visitor, Some(VisitorId(0x0123456789abcdef0123456789abcdef)));
    for junk in ["sy_id=xyz", "sy_id=0123", "sy_id=0123456789abcdef0123456789abcdef00", "sy_id="] {
        assert_eq!(Cookies::read(&cookie_headers(&[junk])).visitor, None, "{junk}");
    }
    assert_eq!(VERSION_PREFIX, format!("{VERSION_COOKIE}=").as_bytes());
    assert_eq!(VISITOR_PREFIX, format!("{VISITOR_COOKIE}=").as_bytes());
    // Names are whole: `xsy_v` and `sy_version` are other cookies.
    let others = cookie_headers(&["xsy_v=cart.v1; sy_version=2; sy_v=cart.v4"]);
    let c = Cookies::read(&others);
    assert_eq!(c.version, Some(&b"cart.v4"[..]));
    // `sy_v=` inside another cookie's value is that value, not our cookie.
    for inside in ["a=sy_v=cart.v9", "a= sy_v=cart.v9", "a=x sy_v=cart.v9", "a=\"sy_v=cart.v9\""] {
        assert_eq!(Cookies::read(&cookie_headers(&[inside])).version, None, "{inside}");
    }
    // Found after hundreds of bytes of other cookies, with any spacing after `;`.
    let long = format!(
        "{}; \t sy_v=cart.v5;sy_id={ID}",
        (0..40).map(|i| format!("_ga{i}=GA1.2.{i}")).collect::<Vec<_>>().join("; ")
    );
    let long = cookie_headers(&[&long]);
    let c = Cookies::read(&long);
    assert_eq!((c.version, c.visitor), (Some(&b"cart.v5"[..]), VisitorId::parse(ID)));
    let empty = HeaderMap::new();
    let none = Cookies::read(&empty);
    assert!(none.version.is_none() && none.visitor.is_none());
}

#[test]
fn version_hosts_serve_their_version_and_mint_ids_on_navigation_only() {
    let sites = sites(2);
    let host =
        Host { site: sites[&2].clone(), noindex: true, https_redirect: false, hsts: None, access: None, channel: None };
    let h = cookie_headers(&["sy_v=cart.v1"]);
    let c = choose(&host, Cookies::read(&h), false, no_clock);
    assert_eq!((c.site.tag.version, c.pinned, c.minted, c.visitor), (2, false, false, None));
    let c = choose(&host, Cookies::read(&h), true, no_clock);
    assert_eq!((c.site.tag.version, c.minted), (2, true));
    assert!(c.visitor.is_some());
    let other = choose(&host, Cookies::read(&h), true, no_clock);
    assert_ne!(other.visitor, c.visitor, "random ids");
}

#[test]
fn a_split_sends_each_visitor_to_the_version_of_its_bucket() {
    let sites = sites(3);
    let state = state(1, &[(2, 10), (1, 90)], &[]);
    let host = host(&sites, &state, 1_000);
    let mut on_two = 0;
    for i in 0..10_000u128 {
        let id = VisitorId(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835));
        let h = cookie_headers(&[&format!("sy_id={}", id.to_hex())]);
        let c = choose(&host, Cookies::read(&h), true, no_clock);
        let expected = if split_bucket("cart", id) < 90 { 1 } else { 2 };
        assert_eq!(c.site.tag.version, expected, "buckets 0..90 → v1 (lower version first), 90..100 → v2");
        assert!(!c.minted);
        on_two += usize::from(c.site.tag.version == 2);
    }
    assert!((800..=1200).contains(&on_two), "{on_two} of 10000 on v2");
    // Without an id, an asset request gets the live pointer's version; a page gets a new id.
    let c = choose(&host, Cookies::default(), false, no_clock);
    assert_eq!(c.site.tag.version, 1);
    let c = choose(&host, Cookies::default(), true, no_clock);
    assert!(c.minted);
    assert_eq!(c.site.tag.version, if split_bucket("cart", c.visitor.unwrap()) < 90 { 1 } else { 2 });
}

#[test]
fn retained_versions_keep_asset_requests_until_their_time_on_the_edge_clock() {
    let sites = sites(3);
    let state = state(3, &[], &[(1, 2_000), (2, 1_500)]);
    let host = host(&sites, &state, 1_600); // v2 already expired when built: dropped
    let h = cookie_headers(&["sy_v=cart.v1"]);
    let asset = |now: u64| choose(&host, Cookies::read(&h), false, move || now);
    let c = asset(1_999);
    assert_eq!((c.site.tag.version, c.fallback.tag.version, c.pinned), (1, 3, true));
    let c = asset(2_000);
    assert_eq!((c.site.tag.version, c.pinned), (3, false), "expired at `until`");
    // A page load moves the visitor on.
    let c = choose(&host, Cookies::read(&h), true, no_clock);
    assert_eq!((c.site.tag.version, c.pinned), (3, false));
    // v2 was dropped at build time; another app's tag, junk and the current version never pin.
    for cookie in ["sy_v=cart.v2", "sy_v=shop.v1", "sy_v=cart.1", "sy_v=v1", "sy_v=cart.v3", "sy_v=cart.v9"] {
        let h = cookie_headers(&[cookie]);
        let c = choose(&host, Cookies::read(&h), false, || 1_000);
        assert_eq!((c.site.tag.version, c.pinned), (3, false), "{cookie}");
    }
}

#[test]
fn split_versions_pin_assets_without_reading_the_clock() {
    let sites = sites(2);
    let state = state(1, &[(1, 50), (2, 50)], &[]);
    let host = host(&sites, &state, 0);
    let h = cookie_headers(&["sy_v=cart.v2"]);
    let c = choose(&host, Cookies::read(&h), false, no_clock);
    assert_eq!((c.site.tag.version, c.pinned), (2, true));
}

#[test]
fn splits_that_do_not_sum_to_100_or_name_missing_versions_are_ignored() {
    let sites = sites(2);
    for bad in [state(1, &[(1, 50), (2, 40)], &[]), state(1, &[(1, 50), (7, 50)], &[])] {
        let host = host(&sites, &bad, 0);
        for i in 0..100u128 {
            let h = cookie_headers(&[&format!("sy_id={:032x}", i)]);
            assert_eq!(choose(&host, Cookies::read(&h), true, no_clock).site.tag.version, 1);
        }
    }
}

#[test]
fn an_asset_missing_where_it_was_looked_for_may_be_in_the_other_split_versions() {
    let sites = sites(5);
    let others = |host: &Host, tried: [u64; 2]| split_others(host, tried).map(|s| s.tag.version).collect::<Vec<_>>();
    // v4 live in a 3-way split; v5 retained: only the split's versions are tried.
    let three_way = state(4, &[(4, 50), (2, 30), (3, 20)], &[(5, u64::MAX - 1)]);
    let split = host(&sites, &three_way, 0);
    assert_eq!(others(&split, [4, 4]), [2, 3], "lowest first, without what was tried");
    assert_eq!(others(&split, [3, 2]), [4]);
    assert_eq!(others(&split, [5, 2]), [3, 4]);
    assert_eq!(others(&split, [1, 1]), [2, 3, 4]);
    // No split (retained versions only), an invalid split, a version host: nothing to try.
    assert!(others(&host(&sites, &state(4, &[], &[(3, u64::MAX - 1)]), 0), [4, 4]).is_empty());
    assert!(others(&host(&sites, &state(4, &[(4, 50), (3, 40)], &[]), 0), [4, 4]).is_empty());
    let version_host =
        Host { site: sites[&2].clone(), noindex: true, https_redirect: false, hsts: None, access: None, channel: None };
    assert!(others(&version_host, [2, 2]).is_empty());
}

#[test]
fn an_asset_found_in_another_split_version_leaves_the_version_cookie() {
    let sites = sites(2);
    let state = state(1, &[(1, 50), (2, 50)], &[]);
    let host = host(&sites, &state, 0);
    let mut c = choose(&host, Cookies::default(), false, no_clock);
    assert_eq!((c.site.tag.version, c.elsewhere), (1, false));
    c.elsewhere = true;
    let mut out = HeaderMap::new();
    set_cookies(c.wanted(&sites[&2]), &sites[&2], false, Prebuilt::None, &mut out);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_channel_serves_its_split_and_retained_versions_only() {
    // v1..v5 held: live v3 split with v4, v1 retained, v2 retained but expired at build, v5
    // deployed and never served by this channel.
    let sites = sites(5);
    let split = state(3, &[(3, 90), (4, 10)], &[(1, 2_000), (2, 1_500)]);
    let channel = Channel::build(LIVE, &split, &sites, 1_600);
    let served: Vec<u64> = (0..=6).filter(|&v| channel.serves(v).is_some()).collect();
    assert_eq!(served, [1, 3, 4]);
    assert_eq!(channel.serves(4).unwrap().tag.version, 4);
    // Without a split or retained versions, nothing besides the host's current site.
    let plain = Channel::build(LIVE, &state(3, &[], &[]), &sites, 0);
    assert!((0..=6).all(|v| plain.serves(v).is_none()));
}

fn set_cookie(h: &HeaderMap) -> Vec<&str> {
    h.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect()
}

#[test]
fn cookies_are_set_when_they_differ_with_exact_attributes() {
    let sites = sites(3);
    let state = state(3, &[], &[(1, 2_000)]);
    let host = host(&sites, &state, 0);

    let h = cookie_headers(&[&format!("sy_id={ID}")]);
    let c = choose(&host, Cookies::read(&h), true, no_clock);
    let mut out = HeaderMap::new();
    set_cookies(c.wanted(c.site), c.site, false, Prebuilt::None, &mut out);
    assert_eq!(set_cookie(&out), ["sy_v=cart.v3; Path=/; Max-Age=2592000; SameSite=Lax"]);
    let mut out = HeaderMap::new();
    set_cookies(c.wanted(c.site), c.site, true, Prebuilt::None, &mut out);
    assert_eq!(set_cookie(&out), ["sy_v=cart.v3; Path=/; Max-Age=2592000; SameSite=Lax; Secure"]);

    // Same version already: nothing to set.
    let h = cookie_headers(&[&format!("sy_id={ID}; sy_v=cart.v3")]);
    let c = choose(&host, Cookies::read(&h), true, no_clock);
    let mut out = HeaderMap::new();
    set_cookies(c.wanted(c.site), c.site, false, Prebuilt::None, &mut out);
    assert!(out.is_empty());

    // Pinned to a retained version: the cookie stays as it is, even when served from the fallback.
    let h = cookie_headers(&[&format!("sy_id={ID}; sy_v=cart.v1")]);
    let c = choose(&host, Cookies::read(&h), false, || 1_000);
    assert!(c.pinned);
    let mut out = HeaderMap::new();
    set_cookies(c.wanted(c.fallback), c.fallback, false, Prebuilt::None, &mut out);
    assert!(out.is_empty());

    // A new visitor: both cookies; the id is HttpOnly.
    let c = choose(&host, Cookies::default(), true, no_clock);
    let mut out = HeaderMap::new();
    set_cookies(c.wanted(c.site), c.site, true, Prebuilt::None, &mut out);
    let id = c.visitor.unwrap().to_hex();
    assert_eq!(
        set_cookie(&out),
        [
            "sy_v=cart.v3; Path=/; Max-Age=2592000; SameSite=Lax; Secure".to_owned(),
            format!("sy_id={id}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax; Secure"),
        ]
    );
    assert_eq!(id.len(), 32);
    assert_eq!(
        visitor_cookie(VisitorId(0x0123456789abcdef0123456789abcdef), false),
        format!("sy_id={ID}; Path=/; Max-Age={VISITOR_COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax")
    );
}

#[test]
fn cookies_are_found_beside_other_cookies_with_non_ascii_bytes_and_junk_is_refused() {
    let mut h = HeaderMap::new();
    // Another cookie of the site with raw UTF-8 bytes (obs-text) in the same header.
    let raw = format!("theme=caf\u{e9}; sy_v=cart.v3 ;\tsy_id={ID}; x");
    h.append(header::COOKIE, HeaderValue::from_bytes(raw.as_bytes()).unwrap());
    let c = Cookies::read(&h);
    assert_eq!(c.version, Some(&b"cart.v3"[..]));
    assert_eq!(c.visitor, Some(VisitorId(0x0123456789abcdef0123456789abcdef)));
    for bad in ["sy_id=0123456789abcdef0123456789abcdeg", "sy_id=0123", "sy_id=+123456789abcdef0123456789abcdef"] {
        assert_eq!(Cookies::read(&cookie_headers(&[bad])).visitor, None, "{bad}");
    }
    let upper = cookie_headers(&["sy_id=0123456789ABCDEF0123456789ABCDEF"]);
    assert_eq!(Cookies::read(&upper).visitor, Some(VisitorId(0x0123456789abcdef0123456789abcdef)));
}

/// Whatever the request and scheme, the prebuilt headers `PrebuiltHeaders` picks end with the
/// same cookies as a response that starts from no cookie at all, in the same order, and its
/// other headers unchanged.
#[test]
fn the_prebuilt_cookies_end_as_the_appended_ones_would() {
    let sites = sites(3);
    let state = state(3, &[], &[(1, 2_000)]);
    let host = host(&sites, &state, 0);
    let requests: [(&str, bool); 6] = [
        ("", true),                                                      // a new visitor's page
        ("", false),                                                     // an asset, no cookies
        ("sy_id=0123456789abcdef0123456789abcdef", false),               // no sy_v yet
        ("sy_id=0123456789abcdef0123456789abcdef; sy_v=cart.v3", true),  // up to date
        ("sy_id=0123456789abcdef0123456789abcdef; sy_v=cart.v2", true),  // another version
        ("sy_id=0123456789abcdef0123456789abcdef; sy_v=cart.v1", false), // pinned to retained v1
    ];
    let mut base = HeaderMap::new();
    base.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    for page in [false, true] {
        let prebuilt = PrebuiltHeaders::new(&base, &sites[&3].tag, page);
        let mut picked = Vec::new();
        for (cookie, navigation) in requests {
            let h = cookie_headers(&[cookie]);
            for secure in [false, true] {
                let c = choose(&host, Cookies::read(&h), navigation, || 1_000);
                let wanted = c.wanted(c.site);
                let mut appended = base.clone();
                set_cookies(wanted, c.site, secure, Prebuilt::None, &mut appended);
                let (headers, kind) = prebuilt.pick(wanted);
                picked.push(kind);
                let mut completed = headers.clone();
                set_cookies(wanted, c.site, secure, kind, &mut completed);
                // `HeaderMap`'s equality: the same values of each name, in the same order.
                assert_eq!(completed, appended, "cookie {cookie:?}, secure {secure}, page {page}");
                if page || wanted.visitor.is_none() {
                    assert_eq!(completed.len(), headers.len(), "no value added: {cookie:?}, {secure}, {page}");
                }
            }
        }
        assert!(picked.contains(&Prebuilt::Version) && picked.contains(&Prebuilt::None));
        // A new visitor's page takes the map with the placeholder; other files have none.
        assert_eq!(picked.contains(&Prebuilt::VersionAndVisitor), page);
        // Headers with cookies the response does not want lose them.
        for wanted in [Wanted { version: true, visitor: None }, Wanted { version: true, visitor: Some(VisitorId(7)) }] {
            let (picked, kind) = prebuilt.pick(wanted);
            let mut out = picked.clone();
            set_cookies(Wanted::NONE, &sites[&3], false, kind, &mut out);
            assert_eq!(out, base, "{wanted:?}, page {page}");
        }
    }
}

/// The response path edits a page's prebuilt map before `set_cookies` completes it (a 304
/// removes `Content-Length`, a version host adds `X-Robots-Tag`, `_headers` rules set and
/// remove names): the minted id still lands in the placeholder, and `sy_v` turns `Secure`.
#[test]
fn a_new_visitors_cookies_are_completed_after_other_headers_change() {
    let sites = sites(3);
    let mut base = HeaderMap::new();
    base.insert(header::CONTENT_LENGTH, HeaderValue::from_static("10"));
    base.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    base.insert(header::ETAG, HeaderValue::from_static("\"e\""));
    let prebuilt = PrebuiltHeaders::new(&base, &sites[&3].tag, true);
    let wanted = Wanted { version: true, visitor: Some(VisitorId(0xab)) };
    let (headers, kind) = prebuilt.pick(wanted);
    assert_eq!(kind, Prebuilt::VersionAndVisitor);
    // What the response path does between `pick` and `set_cookies`, in this order.
    let edit = |h: &HeaderMap| {
        let mut h = h.clone();
        h.remove(header::CONTENT_LENGTH);
        h.insert(header::HeaderName::from_static("x-robots-tag"), HeaderValue::from_static("noindex"));
        h.remove(header::ETAG);
        h
    };
    for secure in [false, true] {
        let mut out = edit(headers);
        set_cookies(wanted, &sites[&3], secure, kind, &mut out);
        let mut expected = edit(&base);
        set_cookies(wanted, &sites[&3], secure, Prebuilt::None, &mut expected);
        assert_eq!(out, expected, "secure {secure}");
        let cookies: Vec<_> = out.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(cookies.len(), 2);
        assert!(cookies[0].starts_with("sy_v=cart.v3; "), "{cookies:?}");
        assert!(cookies[1].starts_with("sy_id=000000000000000000000000000000ab; "), "{cookies:?}");
        assert!(cookies.iter().all(|c| c.ends_with("; Secure") == secure), "{cookies:?}");
    }
}

/// A map `pick` did not build for a new visitor (its first entry is another name) still gets
/// both cookies, `sy_v` then `sy_id`, and keeps its other headers.
#[test]
fn cookies_are_completed_from_scratch_when_the_map_is_not_the_prebuilt_one() {
    let sites = sites(3);
    let mut h = HeaderMap::new();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.append(header::SET_COOKIE, HeaderValue::from_static("sy_v=cart.v3; stale"));
    h.append(header::SET_COOKIE, HeaderValue::from_static("sy_id=stale"));
    let wanted = Wanted { version: true, visitor: Some(VisitorId(0xcd)) };
    set_cookies(wanted, &sites[&3], true, Prebuilt::VersionAndVisitor, &mut h);
    let cookies: Vec<_> = h.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert_eq!(cookies[0], sites[&3].tag.cookie(true).to_str().unwrap());
    assert_eq!(
        cookies[1],
        "sy_id=000000000000000000000000000000cd; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax; Secure"
    );
    assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
}
