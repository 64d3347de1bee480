//! Version tagging, traffic splits and skew protection against the real binaries: the `sy_v`
//! and `sy_id` cookies and `x-switchyard-version` on pages and assets,
//! `/__switchyard/version.json`, a 90/10 split over 10,000 visitors on two edges, an asset
//! only another split version has, `promote` ending a split, bad splits refused, and a visitor's assets staying on the version of its
//! page across a promotion until the next page load or the end of the skew window.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use switchyard_testkit::archive::{file, tar_gz};
use switchyard_testkit::{BASE, Platform, run_cli, wait_for, wait_serving_on};

fn bundle(v: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut entries = vec![
        file("index.html", format!("<!doctype html><h1>{v}</h1>")),
        file("assets/app.js", format!("console.log('{v}');")),
        file("switchyard.toml", "[site]\nspa_fallback = \"index.html\"\n"),
    ];
    for (path, body) in extra {
        entries.push(file(path, body.to_string()));
    }
    tar_gz(&entries)
}

fn live() -> String {
    format!("cart.{BASE}")
}

/// A platform with app `cart`: v1 live, v2 (with a file v1 lacks) on preview. Returns the
/// tenant token.
async fn shop(control_args: &[&str]) -> (Platform, String) {
    let p = Platform::start_with(control_args).await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let (s, body) = p.deploy(&token, "cart", "promote=true", bundle("v1", &[])).await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = p.deploy(&token, "cart", "", bundle("v2", &[("assets/new.js", "only in v2")])).await;
    assert_eq!(s, 201, "{body}");
    p.wait_serving(&format!("preview--cart.{BASE}"), "v2").await;
    p.wait_serving(&live(), "v1").await;
    (p, token)
}

async fn get(p: &Platform, edge: &str, host: &str, path: &str, cookie: Option<&str>) -> (u16, HeaderMap, String) {
    let mut req = p.http.get(format!("{edge}{path}")).header("host", host);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.headers().clone(), r.text().await.unwrap())
}

fn set_cookies(h: &HeaderMap) -> Vec<String> {
    h.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

fn version(h: &HeaderMap) -> &str {
    h.get("x-switchyard-version").map_or("", |v| v.to_str().unwrap())
}

const V1_COOKIE: &str = "sy_v=cart.v1; Path=/; Max-Age=2592000; SameSite=Lax";
const V2_COOKIE: &str = "sy_v=cart.v2; Path=/; Max-Age=2592000; SameSite=Lax";
const ID: &str = "sy_id=00000000000000000000000000000001";

#[tokio::test]
async fn pages_and_assets_carry_the_version_cookie_and_header_and_version_json_answers() {
    let (p, _token) = shop(&[]).await;
    let edge = p.edge().url();

    // A page without cookies: version header, sy_v, and a minted sy_id (HttpOnly).
    let (s, h, body) = get(&p, edge, &live(), "/", None).await;
    assert_eq!((s, version(&h), body.as_str()), (200, "v1", "<!doctype html><h1>v1</h1>"));
    let cookies = set_cookies(&h);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert_eq!(cookies[0], V1_COOKIE);
    let id = cookies[1].strip_prefix("sy_id=").unwrap().split(';').next().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{id}");
    assert_eq!(cookies[1], format!("sy_id={id}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"));

    // An asset without cookies: sy_v and the header, no id (ids are minted on pages only).
    let (s, h, body) = get(&p, edge, &live(), "/assets/app.js", None).await;
    assert_eq!((s, version(&h), body.as_str()), (200, "v1", "console.log('v1');"));
    assert_eq!(set_cookies(&h), [V1_COOKIE]);

    // With both cookies already right, nothing is set; on 304 and 404 pages too.
    let both = format!("sy_v=cart.v1; sy_id={id}");
    let (_, h, _) = get(&p, edge, &live(), "/", Some(&both)).await;
    assert!(set_cookies(&h).is_empty(), "{:?}", set_cookies(&h));
    let etag = h["etag"].to_str().unwrap().to_owned();
    let r = p
        .http
        .get(format!("{edge}/"))
        .header("host", live())
        .header("if-none-match", &etag)
        .header("cookie", format!("sy_id={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(set_cookies(r.headers()), [V1_COOKIE], "a 304 of the site tags the visitor too");
    let (s, h, _) = get(&p, edge, &live(), "/missing.js", Some(&format!("sy_id={id}"))).await;
    assert_eq!((s, version(&h)), (404, "v1"));
    assert_eq!(set_cookies(&h), [V1_COOKIE]);

    // A version host: its version, always; sy_v names it.
    let (s, h, body) = get(&p, edge, &format!("v2--cart.{BASE}"), "/assets/app.js", Some("sy_v=cart.v1")).await;
    assert_eq!((s, version(&h), body.as_str()), (200, "v2", "console.log('v2');"));
    assert_eq!(set_cookies(&h), [V2_COOKIE]);

    // version.json on the live, preview and version hosts.
    let (s, h, body) = get(&p, edge, &live(), "/__switchyard/version.json", Some(&both)).await;
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "app": "cart", "version": "v1", "channel": "live" })
    );
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["cache-control"], "no-store");
    assert!(set_cookies(&h).is_empty());
    let (_, h, body) = get(&p, edge, &format!("preview--cart.{BASE}"), "/__switchyard/version.json", None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "app": "cart", "version": "v2", "channel": "preview" })
    );
    assert_eq!(set_cookies(&h), [V2_COOKIE]);
    let (_, _, body) = get(&p, edge, &format!("v1--cart.{BASE}"), "/__switchyard/version.json", None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "app": "cart", "version": "v1", "channel": null })
    );
    let head = p.http.head(format!("{edge}/__switchyard/version.json")).header("host", live()).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let len: usize = head.headers()["content-length"].to_str().unwrap().parse().unwrap();
    assert!(len > 20);
    assert!(head.bytes().await.unwrap().is_empty());
    let post = p.http.post(format!("{edge}/__switchyard/version.json")).header("host", live()).send().await.unwrap();
    assert_eq!(post.status(), 405);
}

/// `GET /` for each visitor id on `edge`, 16 at a time over keep-alive connections; the
/// version each got.
async fn versions_for(p: &Platform, edge: &str, ids: &[String]) -> Vec<String> {
    let http = &p.http;
    let answers: Vec<(usize, String)> = futures_util::stream::iter(ids.iter().enumerate())
        .map(|(i, id)| async move {
            let r = http
                .get(format!("{edge}/"))
                .header("host", live())
                .header("cookie", format!("sy_id={id}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert!(
                r.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().starts_with("sy_id=")),
                "a valid id is kept"
            );
            let v = version(r.headers()).to_owned();
            let _ = r.bytes().await;
            (i, v)
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut out = vec![String::new(); ids.len()];
    for (i, v) in answers {
        out[i] = v;
    }
    out
}

#[tokio::test]
async fn a_90_10_split_over_10000_visitors_is_within_2_points_and_sticky_across_edges() {
    let (p, token) = shop(&[]).await;
    let second = p.add_edge("edge-b", "eu-west", &[]);
    wait_serving_on(&p.http, second.url(), &live(), "v1").await;

    let out = run_cli(p.control().url(), &token, &["split", "--app", "cart", "v1=90", "v2=10"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cart: live traffic split since"), "{text}");
    assert!(text.contains("v1       90%") && text.contains("v2       10%"), "{text}");
    let revision: u64 = p.api("GET", "apps/cart/split", &token, None).await.1["split"]["revision"].as_u64().unwrap();
    // Both edges applied the split.
    wait_for("both edges at the split's revision", Duration::from_secs(10), || async {
        let (s, body) = p.api("GET", "edges", switchyard_testkit::ADMIN_TOKEN, None).await;
        let edges = body["edges"].as_array()?;
        (s == 200 && edges.len() == 2 && edges.iter().all(|e| e["revision"].as_u64() >= Some(revision))).then_some(())
    })
    .await;

    let ids: Vec<String> = (0..10_000).map(|_| random_id()).collect();
    let started = Instant::now();
    let on_a = versions_for(&p, p.edge().url(), &ids).await;
    let on_b = versions_for(&p, second.url(), &ids).await;
    for (i, (a, b)) in on_a.iter().zip(&on_b).enumerate() {
        assert!(a == "v1" || a == "v2", "{a}");
        assert_eq!(a, b, "visitor {} got {a} on edge A and {b} on edge B", ids[i]);
    }
    let v2 = on_a.iter().filter(|v| *v == "v2").count();
    let share = v2 as f64 / ids.len() as f64 * 100.0;
    assert!((8.0..=12.0).contains(&share), "v2 got {share:.2}% of 10,000 visitors");
    eprintln!("split: v2 {share:.2}% of 10,000 visitors, 20,000 requests in {:?}", started.elapsed());

    // A visitor without an id gets one, and keeps its version on the next requests.
    let (_, h, _) = get(&p, p.edge().url(), &live(), "/", None).await;
    let first = version(&h).to_owned();
    let minted = set_cookies(&h).into_iter().find(|c| c.starts_with("sy_id=")).expect("an id is minted");
    let id = minted.split(';').next().unwrap().to_owned();
    for edge in [p.edge().url(), second.url(), p.edge().url()] {
        let (_, h, _) = get(&p, edge, &live(), "/", Some(&id)).await;
        assert_eq!(version(&h), first, "the minted id {id} keeps its version");
        assert!(set_cookies(&h).iter().all(|c| !c.starts_with("sy_id=")));
    }

    // An asset request without cookies gets the live pointer's version, unless only another
    // version of the split has it (the page that referenced it was that version's): then from
    // there, leaving the visitor's cookies alone. A path no version has stays a 404.
    let (s, h, body) = get(&p, p.edge().url(), &live(), "/assets/new.js", None).await;
    assert_eq!((s, version(&h), body.as_str()), (200, "v2", "only in v2"));
    assert!(set_cookies(&h).is_empty(), "{:?}", set_cookies(&h));
    let (s, h, body) = get(&p, second.url(), &live(), "/assets/new.js", Some("sy_v=cart.v1")).await;
    assert_eq!((s, version(&h), body.as_str()), (200, "v2", "only in v2"));
    assert!(set_cookies(&h).is_empty(), "{:?}", set_cookies(&h));
    let (s, h, body) = get(&p, p.edge().url(), &live(), "/assets/app.js", None).await;
    assert_eq!((s, version(&h), body.as_str()), (200, "v1", "console.log('v1');"));
    let (s, h, _) = get(&p, p.edge().url(), &live(), "/assets/nowhere.js", None).await;
    assert_eq!((s, version(&h)), (404, "v1"));

    // promote ends the split: everyone gets v2, and the CLI says the split ended.
    let out = run_cli(p.control().url(), &token, &["promote", "--app", "cart", "v2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Ended the traffic split (v1 90%, v2 10%)."), "{text}");
    let (_, app) = p.api("GET", "apps/cart", &token, None).await;
    assert_eq!(app["split"], Value::Null);
    p.wait_serving(&live(), "v2").await;
    let after = versions_for(&p, p.edge().url(), &ids[..500]).await;
    assert!(after.iter().all(|v| v == "v2"), "no split after promote");

    // stats shows each version's time in the split with its share beside its time as live.
    let out = run_cli(p.control().url(), &token, &["stats", "--app", "cart", "--json"]);
    let stats: Value = serde_json::from_slice(&out.stdout).expect("stats --json");
    let shares = |v: &str| -> Vec<Value> {
        let version = stats["versions"].as_array().unwrap().iter().find(|x| x["version"] == v).unwrap();
        version["live"].as_array().unwrap().iter().map(|p| p["share"].clone()).collect()
    };
    assert_eq!(shares("v1"), [Value::Null, json!(90)], "{stats}");
    assert_eq!(shares("v2"), [json!(10), Value::Null], "{stats}");
    let out = run_cli(p.control().url(), &token, &["stats", "--app", "cart"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" (90 % in a split)") && text.contains(" (10 % in a split); "), "{text}");
    drop(second);
}

#[tokio::test]
async fn bad_splits_are_refused_by_name_and_leave_the_split_in_force() {
    let (p, token) = shop(&[]).await;
    let out = run_cli(p.control().url(), &token, &["--json", "split", "--app", "cart", "v1=50", "v2=50"]);
    assert!(out.status.success());
    let split: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(split["weights"], json!([{ "version": "v1", "weight": 50 }, { "version": "v2", "weight": 50 }]));
    let before = p.api("GET", "apps/cart/split", &token, None).await.1;

    for (args, expected) in [
        (&["v1=90", "v2=9"][..], "weights sum to 99"),
        (&["v1=90", "v2=11"], "weights sum to 101"),
        (&["v1=100"], "2 to 4 versions, got 1"),
        (&["v1=20", "v2=20", "v3=20", "v4=20", "v5=20"], "2 to 4 versions, got 5"),
        (&["v1=0", "v2=100"], "weight 0 of v1"),
        (&["v1=100", "v2=0"], "weight 100 of v1"),
        (&["v1=50", "v1=50"], "v1 is listed twice"),
        (&["v1=50", "v7=50"], "version v7 does not exist"),
        (&["latest=50", "v2=50"], "version \"latest\": expected v<N>"),
    ] {
        let mut cli = vec!["split", "--app", "cart"];
        cli.extend_from_slice(args);
        let out = run_cli(p.control().url(), &token, &cli);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected) && err.contains("422"), "{args:?}: {err}");
    }
    let out = run_cli(p.control().url(), &token, &["split", "--app", "cart", "v1=ninety", "v2=10"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"v1=ninety\""));
    let (s, body) = p.api("PUT", "apps/nope/split", &token, Some(json!({ "weights": [] }))).await;
    assert_eq!(s, 404, "{body}");
    let other = p.tenant("other").await;
    let (s, _) = p.api("PUT", "apps/cart/split", &other, Some(json!({ "weights": [] }))).await;
    assert_eq!(s, 404, "another tenant's app is not found");

    assert_eq!(p.api("GET", "apps/cart/split", &token, None).await.1, before, "nothing changed");
    let out = run_cli(p.control().url(), &token, &["split", "--app", "cart"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("v1       50%") && text.contains("History:"), "{text}");
}

#[tokio::test]
async fn assets_stay_on_the_version_of_the_page_across_a_promotion_until_the_next_page_load() {
    let (p, token) = shop(&[]).await;
    let edge = p.edge().url();
    let (_, h, body) = get(&p, edge, &live(), "/", Some(ID)).await;
    assert_eq!((version(&h), body.as_str()), ("v1", "<!doctype html><h1>v1</h1>"));
    assert_eq!(set_cookies(&h), [V1_COOKIE]);
    let page_cookie = format!("{ID}; sy_v=cart.v1");

    let (s, _) = p.api("POST", "apps/cart/promote", &token, Some(json!({ "version": "v2" }))).await;
    assert_eq!(s, 200);
    p.wait_serving(&live(), "v2").await;

    // The old page's assets still come from v1, and its cookie stays.
    let (s, h, body) = get(&p, edge, &live(), "/assets/app.js", Some(&page_cookie)).await;
    assert_eq!((s, version(&h), body.as_str()), (200, "v1", "console.log('v1');"));
    assert!(set_cookies(&h).is_empty(), "{:?}", set_cookies(&h));
    let (_, _, body) = get(&p, edge, &live(), "/__switchyard/version.json", Some(&page_cookie)).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["version"], "v1");
    // A file v1 lacks comes from the current version.
    let (s, h, body) = get(&p, edge, &live(), "/assets/new.js", Some(&page_cookie)).await;
    assert_eq!((s, version(&h), body.as_str()), (200, "v2", "only in v2"));
    // Without the cookie: v2.
    let (_, h, body) = get(&p, edge, &live(), "/assets/app.js", Some(ID)).await;
    assert_eq!((version(&h), body.as_str()), ("v2", "console.log('v2');"));

    // The next page load moves the visitor to v2, and its assets follow.
    let (_, h, body) = get(&p, edge, &live(), "/", Some(&page_cookie)).await;
    assert_eq!((version(&h), body.as_str()), ("v2", "<!doctype html><h1>v2</h1>"));
    assert_eq!(set_cookies(&h), [V2_COOKIE]);
    let (_, h, body) = get(&p, edge, &live(), "/assets/app.js", Some(&format!("{ID}; sy_v=cart.v2"))).await;
    assert_eq!((version(&h), body.as_str()), ("v2", "console.log('v2');"));

    // Rollback retains v2 for its visitors the same way.
    let (s, _) = p.api("POST", "apps/cart/rollback", &token, None).await;
    assert_eq!(s, 200);
    p.wait_serving(&live(), "v1").await;
    let (_, h, _) = get(&p, edge, &live(), "/assets/app.js", Some(&format!("{ID}; sy_v=cart.v2"))).await;
    assert_eq!(version(&h), "v2");
}

#[tokio::test]
async fn after_the_skew_window_old_cookies_get_the_current_version() {
    let (p, token) = shop(&["--skew-window", "2s"]).await;
    let edge = p.edge().url();
    let page_cookie = format!("{ID}; sy_v=cart.v1");
    let (s, _) = p.api("POST", "apps/cart/promote", &token, Some(json!({ "version": "v2" }))).await;
    assert_eq!(s, 200);
    let promoted = Instant::now();
    p.wait_serving(&live(), "v2").await;
    let (_, h, _) = get(&p, edge, &live(), "/assets/app.js", Some(&page_cookie)).await;
    if promoted.elapsed() < Duration::from_millis(900) {
        assert_eq!(version(&h), "v1", "retained within the window");
    }
    wait_for("the skew window to end on the edge", Duration::from_secs(10), || {
        let page_cookie = page_cookie.clone();
        let p = &p;
        async move {
            let (_, h, body) = get(p, edge, &live(), "/assets/app.js", Some(&page_cookie)).await;
            (version(&h) == "v2" && body == "console.log('v2');").then_some(())
        }
    })
    .await;
    assert!(promoted.elapsed() >= Duration::from_millis(900), "the window lasted {:?}", promoted.elapsed());
    let (_, h, _) = get(&p, edge, &live(), "/assets/app.js", Some(&page_cookie)).await;
    assert_eq!(set_cookies(&h), [V2_COOKIE], "an expired pin is replaced");
}

fn random_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[tokio::test]
async fn over_https_both_cookies_are_secure() {
    use switchyard_testkit::tls;
    let ca = tls::Ca::new("split test CA");
    let platform = ca.leaf(&[&format!("*.{BASE}")]);
    let files = tempfile::tempdir().unwrap();
    let (cert, key) = (files.path().join("platform.pem"), files.path().join("platform.key"));
    std::fs::write(&cert, &platform.chain_pem).unwrap();
    std::fs::write(&key, &platform.key_pem).unwrap();
    let edge_args =
        ["--https-addr", "127.0.0.1:0", "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];
    let p = Platform::start_with_edge(&[], &edge_args).await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let (s, _) = p.deploy(&token, "cart", "promote=true", bundle("v1", &[])).await;
    assert_eq!(s, 201);
    p.wait_serving(&live(), "v1").await;

    let connector = tls::connector(&ca.pem(), &["http/1.1"]);
    let mut stream = tls::handshake(&connector, p.edge().https_addr(), &live()).await.expect("handshake");
    let page = tls::get(&mut stream, &live(), "/").await.unwrap();
    assert_eq!(page.status, 200);
    let cookies: Vec<&str> = page.headers.iter().filter(|(n, _)| n == "set-cookie").map(|(_, v)| v.as_str()).collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert_eq!(cookies[0], format!("{V1_COOKIE}; Secure"));
    assert!(cookies[1].starts_with("sy_id=") && cookies[1].ends_with("; HttpOnly; SameSite=Lax; Secure"));
    let asset = tls::get(&mut stream, &live(), "/assets/app.js").await.unwrap();
    assert_eq!(asset.header("set-cookie"), Some(format!("{V1_COOKIE}; Secure").as_str()));
}
