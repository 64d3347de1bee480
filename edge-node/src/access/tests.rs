//! The gate against every kind of bad token, with real Ed25519 keys from `ring`.

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use switchyard_model::PreviewAccess;
use switchyard_model::share::ShareClaims;

use super::*;

const NOW: u64 = 1_800_000_000;
const ID: &str = "0123456789abcdef0123456789abcdef";

fn keypair() -> Ed25519KeyPair {
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap()
}

fn snapshot(key: &Ed25519KeyPair, revoked: &[&str]) -> Snapshot {
    Snapshot {
        previews: Some(PreviewAccess {
            key: share::public_key_text(key.public_key().as_ref()),
            revoked: revoked.iter().map(|s| s.to_string()).collect(),
        }),
        ..Snapshot::default()
    }
}

fn claims(app: &str, scope: &str, exp: u64) -> ShareClaims {
    ShareClaims { id: ID.into(), app: app.into(), scope: scope.into(), exp }
}

fn token(key: &Ed25519KeyPair, c: &ShareClaims) -> String {
    share::encode(c, |p| key.sign(p))
}

fn preview_gate(verifier: &Arc<Verifier>) -> Arc<Gate> {
    gate(Some(verifier), "cart", &Selector::Channel("preview".into()), &AppState::default()).unwrap()
}

fn get(uri: &str, cookie: Option<&str>) -> Request<()> {
    let mut b = Request::get(uri);
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    b.body(()).unwrap()
}

fn body(res: &Response<Body>) -> String {
    match res.body() {
        Body::Bytes(Some(b)) => String::from_utf8(b.to_vec()).unwrap(),
        _ => String::new(),
    }
}

#[test]
fn which_hosts_are_gated() {
    let key = keypair();
    let snap = snapshot(&key, &[]);
    let v = Verifier::from_snapshot(&snap).unwrap();
    let mut state = AppState::default();
    state.public.insert("holiday".into());
    let channel = |c: &str| Selector::Channel(c.into());
    assert!(gate(Some(&v), "cart", &channel("live"), &state).is_none(), "live is always public");
    assert!(gate(Some(&v), "cart", &channel("holiday"), &state).is_none(), "a public channel");
    assert!(gate(Some(&v), "cart", &channel("preview"), &state).is_some());
    let version = gate(Some(&v), "cart", &Selector::Version(3), &state).unwrap();
    assert_eq!(&*version.scope, "v3");
    assert!(Verifier::from_snapshot(&Snapshot::default()).is_none(), "no previews: every host public");
    assert!(gate(None, "cart", &Selector::Version(3), &state).is_none());
}

#[test]
fn no_token_gets_the_private_page() {
    let key = keypair();
    let g = preview_gate(&Verifier::from_snapshot(&snapshot(&key, &[])).unwrap());
    let res = g.check(&get("/cart?x=1", None), NOW, false).unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let h = res.headers();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-robots-tag"], "noindex");
    assert_eq!(h["www-authenticate"], "Switchyard-Share realm=\"preview\"");
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["content-length"], PRIVATE_PAGE.len().to_string().as_str());
    assert!(h.get("set-cookie").is_none());
    assert!(h.get("x-switchyard-version").is_none(), "nothing about the preview");
    assert!(body(&res).contains("This preview is private"));
    // Other cookies are not a share link.
    let res = g.check(&get("/", Some("sy_v=cart.v2; sy_id=abc")), NOW, false).unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn a_valid_link_sets_the_cookie_and_the_cookie_opens_the_host() {
    let key = keypair();
    let g = preview_gate(&Verifier::from_snapshot(&snapshot(&key, &[])).unwrap());
    let t = token(&key, &claims("cart", "preview", NOW + 3600));
    let res = g.check(&get(&format!("/cart/items?a=1&sy_share={t}&b=2"), None), NOW, false).unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let h = res.headers();
    assert_eq!(h["location"], "/cart/items?a=1&b=2");
    assert_eq!(h["set-cookie"], format!("sy_share={t}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax").as_str());
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let res = g.check(&get(&format!("/?sy_share={t}"), None), NOW + 600, true).unwrap();
    assert_eq!(res.headers()["location"], "/");
    assert_eq!(
        res.headers()["set-cookie"],
        format!("sy_share={t}; Path=/; Max-Age=3000; HttpOnly; SameSite=Lax; Secure").as_str()
    );

    assert!(g.check(&get("/cart", Some(&format!("sy_share={t}"))), NOW, false).is_none());
    assert!(g.check(&get("/", Some(&format!("sy_v=cart.v2; sy_share={t}; sy_id=1"))), NOW, false).is_none());
    // An old cookie beside a good one (another link) does not spoil it.
    let old = token(&key, &claims("cart", "preview", NOW - 1));
    assert!(g.check(&get("/", Some(&format!("sy_share={old}; sy_share={t}"))), NOW, false).is_none());
    // Cookies split over several headers (HTTP/2).
    let req = Request::get("/").header("cookie", "a=1").header("cookie", format!("sy_share={t}")).body(()).unwrap();
    assert!(g.check(&req, NOW, false).is_none());
}

#[test]
fn every_bad_token_is_refused_in_the_query_and_in_the_cookie() {
    let key = keypair();
    let other_key = keypair();
    let revoked_id = "ffffffffffffffffffffffffffffffff";
    let g = preview_gate(&Verifier::from_snapshot(&snapshot(&key, &[revoked_id])).unwrap());
    let good = token(&key, &claims("cart", "preview", NOW + 60));
    let (good_payload, good_sig) = good.split_once('.').unwrap();
    // Same signature, claims rewritten to another scope.
    let tampered_payload = share::encode(&claims("cart", "holiday", NOW + 60), |_| [0u8; 64]);
    let tampered = format!("{}.{good_sig}", tampered_payload.split_once('.').unwrap().0);
    let mut revoked = claims("cart", "preview", NOW + 60);
    revoked.id = revoked_id.into();
    let mut flipped = good_sig.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let bad: Vec<(&str, String)> = vec![
        ("expired", token(&key, &claims("cart", "preview", NOW))),
        ("long expired", token(&key, &claims("cart", "preview", 1))),
        ("revoked", token(&key, &revoked)),
        ("forged with another key", token(&other_key, &claims("cart", "preview", NOW + 60))),
        ("tampered claims", tampered),
        ("flipped signature", format!("{good_payload}.{}", String::from_utf8(flipped).unwrap())),
        ("another app", token(&key, &claims("shop", "preview", NOW + 60))),
        ("another scope", token(&key, &claims("cart", "v3", NOW + 60))),
        ("malformed", "garbage".into()),
        ("empty", String::new()),
        ("signature only", format!(".{good_sig}")),
        ("huge", "A".repeat(10_000)),
    ];
    for (what, t) in &bad {
        let res = g.check(&get(&format!("/?sy_share={t}"), None), NOW, false).expect(what);
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what} in the query");
        assert!(res.headers().get("set-cookie").is_none(), "{what}");
        assert!(body(&res).contains("expired, was revoked, or is not for this preview"), "{what}");
        let res = g.check(&get("/", Some(&format!("sy_share={t}"))), NOW, false).expect(what);
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what} in the cookie");
        assert_eq!(res.headers()["set-cookie"], "sy_share=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax", "{what}");
    }
    // A bad token in the query is refused even with a good cookie: the link is what was asked.
    let res = g.check(&get("/?sy_share=garbage", Some(&format!("sy_share={good}"))), NOW, false).unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn a_version_token_opens_only_that_version_and_an_unreadable_key_opens_nothing() {
    let key = keypair();
    let v = Verifier::from_snapshot(&snapshot(&key, &[])).unwrap();
    let v3 = gate(Some(&v), "cart", &Selector::Version(3), &AppState::default()).unwrap();
    let v4 = gate(Some(&v), "cart", &Selector::Version(4), &AppState::default()).unwrap();
    let t = token(&key, &claims("cart", "v3", NOW + 60));
    let cookie = format!("sy_share={t}");
    assert!(v3.check(&get("/", Some(&cookie)), NOW, false).is_none());
    assert_eq!(v4.check(&get("/", Some(&cookie)), NOW, false).unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(preview_gate(&v).check(&get("/", Some(&cookie)), NOW, false).unwrap().status(), 401);

    let mut snap = snapshot(&key, &[]);
    snap.previews.as_mut().unwrap().key = "not a key".into();
    let broken = Verifier::from_snapshot(&snap).expect("previews are on: hosts stay private");
    let g = preview_gate(&broken);
    let t = token(&key, &claims("cart", "preview", NOW + 60));
    assert_eq!(g.check(&get("/", Some(&format!("sy_share={t}"))), NOW, false).unwrap().status(), 401);
}

#[test]
fn gated_responses_are_never_storable_by_shared_caches() {
    for (before, after) in [
        // The edge's own policies, without parsing.
        ("public, max-age=0, must-revalidate", "private, max-age=0, must-revalidate"),
        ("public, max-age=31536000, immutable", "private, max-age=31536000, immutable"),
        ("private, max-age=0, must-revalidate", "private, max-age=0, must-revalidate"),
        // `_headers` rules: `public` anywhere, `s-maxage`, no `public` at all.
        ("public, max-age=60", "private, max-age=60"),
        ("max-age=31536000, public", "private, max-age=31536000"),
        ("max-age=31536000, Public, immutable", "private, max-age=31536000, immutable"),
        ("s-maxage=600", "private"),
        ("max-age=60, s-maxage=600, stale-while-revalidate=30", "private, max-age=60, stale-while-revalidate=30"),
        ("public", "private"),
        ("max-age=60", "private, max-age=60"),
        ("public, no-cache", "private, no-cache"),
        ("must-revalidate,max-age=0", "private, must-revalidate, max-age=0"),
        // A field-qualified `private` leaves the rest storable; quoted commas stay in it.
        ("private=\"set-cookie, x-a\", max-age=60", "private, max-age=60"),
        ("ext=\"a, no-store, private\", max-age=5", "private, ext=\"a, no-store, private\", max-age=5"),
        // Already not for shared caches: left as they are.
        ("no-store", "no-store"),
        ("public, no-store", "public, no-store"),
        ("private, max-age=5", "private, max-age=5"),
        ("max-age=5, PRIVATE", "max-age=5, PRIVATE"),
    ] {
        let mut h = HeaderMap::new();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(before));
        keep_private(&mut h);
        assert_eq!(h.get_all(header::CACHE_CONTROL).iter().collect::<Vec<_>>(), [after], "{before}");
    }
    // A rule that removed the header: shared caches may not keep the response either.
    let mut h = HeaderMap::new();
    keep_private(&mut h);
    assert_eq!(h[header::CACHE_CONTROL], "private, max-age=0, must-revalidate");
    // Several lines count together and become one.
    let mut h = HeaderMap::new();
    h.append(header::CACHE_CONTROL, HeaderValue::from_static("max-age=60"));
    h.append(header::CACHE_CONTROL, HeaderValue::from_static("public, s-maxage=600"));
    keep_private(&mut h);
    assert_eq!(h.get_all(header::CACHE_CONTROL).iter().collect::<Vec<_>>(), ["private, max-age=60"]);
    let mut h = HeaderMap::new();
    h.append(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    h.append(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    keep_private(&mut h);
    assert_eq!(h.get_all(header::CACHE_CONTROL).iter().count(), 2, "no-store in any line: kept");
    // A value that is not text.
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_bytes(b"public, max-age=\xff").unwrap());
    keep_private(&mut h);
    assert_eq!(h[header::CACHE_CONTROL], "private, max-age=0, must-revalidate");
}

#[test]
fn a_share_link_redirects_only_to_a_path_on_the_same_host() {
    for (path, expected) in [
        ("//evil.example/x", "/evil.example/x"),
        ("/\\evil.example", "/evil.example"),
        ("///a", "/a"),
        ("/\\/\\\t//evil.example", "/evil.example"),
        ("/cart/items", "/cart/items"),
        ("/a//b", "/a//b"),
        ("/", "/"),
        ("", "/"),
        ("*", "/*"),
    ] {
        assert_eq!(same_origin(path), expected, "{path:?}");
    }
    let key = keypair();
    let g = preview_gate(&Verifier::from_snapshot(&snapshot(&key, &[])).unwrap());
    let t = token(&key, &claims("cart", "preview", NOW + 60));
    for (uri, expected) in [
        (format!("//evil.example/?sy_share={t}"), "/evil.example/"),
        (format!("//evil.example/x?a=1&sy_share={t}"), "/evil.example/x?a=1"),
        (format!("///a?sy_share={t}"), "/a"),
    ] {
        let res = g.check(&get(&uri, None), NOW, false).unwrap();
        assert_eq!(res.status(), StatusCode::FOUND, "{uri}");
        assert_eq!(res.headers()["location"], expected, "{uri}");
    }
}
