//! Per-version statistics end to end: page views and visitors counted at the edge, conversion
//! events attributed by the `sy_v` cookie, bad events refused and not counted, the rate
//! limit, reports reaching `switchyard stats`, and both Prometheus endpoints.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_testkit::archive::{file, tar_gz};
use switchyard_testkit::{ADMIN_TOKEN, BASE, Platform, run_cli, wait_for};

const HOST: &str = "cart.test.example";

/// A loopback port free right now (the edge binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn visitor(n: u32) -> String {
    format!("sy_id={n:032x}")
}

/// Waits until the edge reports (heartbeat) that it serves `revision`, without sending it a
/// request (every request to the edge is counted, and the counts are asserted exactly).
async fn wait_edge_at(p: &Platform, revision: u64) {
    wait_for(&format!("the edge at revision {revision}"), Duration::from_secs(15), || async {
        let (_, body) = p.api("GET", "edges", ADMIN_TOKEN, None).await;
        (body["edges"][0]["revision"].as_u64()? >= revision).then_some(())
    })
    .await
}

async fn page(p: &Platform, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = p.http.get(format!("{}{path}", p.edge().url())).header("host", HOST);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    req.send().await.unwrap()
}

async fn event(p: &Platform, cookie: Option<&str>, content_type: Option<&str>, body: &str) -> (u16, String) {
    let mut req = p.http.post(format!("{}/__switchyard/events", p.edge().url())).header("host", HOST);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let r = req.body(body.to_owned()).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// `switchyard stats --json` once its figures satisfy `done`.
async fn stats_when(p: &Platform, token: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    wait_for(what, Duration::from_secs(30), || async {
        let out = run_cli(p.control().url(), token, &["--json", "stats", "--app", "cart", "--since", "1d"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
        done(&stats).then_some(stats)
    })
    .await
}

fn version<'a>(stats: &'a Value, v: &str) -> &'a Value {
    stats["versions"].as_array().unwrap().iter().find(|x| x["version"] == v).unwrap_or(&Value::Null)
}

async fn metrics(p: &Platform, url: &str) -> String {
    let r = p.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    r.text().await.unwrap()
}

fn has_line(text: &str, line: &str) {
    assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
}

#[tokio::test]
async fn page_views_and_conversions_are_counted_per_version_and_reported() {
    let admin = format!("127.0.0.1:{}", free_port());
    let p = Platform::start_with_edge(&[], &["--admin-addr", &admin]).await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let files = |v: &str| tar_gz(&[file("index.html", format!("<p>{v}</p>")), file("app.js", "1")]);
    let (s, _) = p.deploy(&token, "cart", "promote=true", files("one")).await;
    assert_eq!(s, 201);
    let (s, v2) = p.deploy(&token, "cart", "", files("two")).await;
    assert_eq!(s, 201);
    wait_edge_at(&p, v2["revision"].as_u64().unwrap()).await;

    // v1 is live: 6 page views by 5 visitors (one comes back), an asset, a missing asset.
    for n in [1, 2, 3, 4, 5, 1] {
        let r = page(&p, "/", Some(&visitor(n))).await;
        assert_eq!((r.status().as_u16(), r.headers()["x-switchyard-version"].to_str().unwrap()), (200, "v1"));
    }
    assert_eq!(page(&p, "/app.js", Some(&visitor(1))).await.status(), 200);
    assert_eq!(page(&p, "/missing.js", None).await.status(), 404);

    // Events: attributed to the version of the visitor's sy_v cookie when this host serves
    // it, else to the live version (v1). v2 is held by the edge (its version host serves it)
    // but was never served by the live host: a forged `sy_v=cart.v2` counts for v1.
    let conversion =
        |value: &str, currency: &str| format!(r#"{{"type":"conversion","value":{value},"currency":"{currency}"}}"#);
    let ok = [
        (Some("sy_v=cart.v1"), Some("application/json"), conversion("49.90", "EUR")),
        (
            Some("sy_v=cart.v1; sy_id=00000000000000000000000000000001"),
            Some("text/plain;charset=UTF-8"),
            conversion("10.10", "EUR"),
        ),
        (Some("sy_v=cart.v2"), None, conversion("5", "USD")), // held, not served here: live (v1)
        (Some("sy_v=cart.v99"), Some("application/json"), conversion("1", "EUR")), // not held: live (v1)
        (Some("sy_v=other.v2"), Some("application/json"), r#"{"type":"conversion"}"#.to_owned()), // another app: live
    ];
    for (cookie, ct, body) in &ok {
        let (s, text) = event(&p, *cookie, *ct, body).await;
        assert_eq!((s, text.as_str()), (204, ""), "{body}");
    }
    // Bad events: refused with a reason, nothing counted.
    let bad: &[(Option<&str>, &str, u16, &str)] = &[
        (Some("application/json"), "{\"type\":", 400, "bad event JSON"),
        (Some("application/json"), r#"{"type":"click"}"#, 400, "unknown event type \"click\""),
        (Some("application/json"), r#"{"type":"conversion","value":-5,"currency":"EUR"}"#, 400, "out of range"),
        (Some("application/json"), r#"{"type":"conversion","value":1e999,"currency":"EUR"}"#, 400, "bad event JSON"),
        (Some("application/json"), r#"{"type":"conversion","value":1,"currency":"euro"}"#, 400, "not a currency code"),
        (Some("application/json"), r#"{"type":"conversion","price":1}"#, 400, "unknown field `price`"),
        (Some("application/x-www-form-urlencoded"), "type=conversion", 415, "not accepted"),
    ];
    for (ct, body, status, reason) in bad {
        let (s, text) = event(&p, Some("sy_v=cart.v1"), *ct, body).await;
        assert_eq!(s, *status, "{body}: {text}");
        assert!(text.contains(reason), "{body}: {text:?} should say {reason:?}");
    }
    let huge = format!(r#"{{"type":"conversion","pad":"{}"}}"#, "x".repeat(5000));
    let (s, text) = event(&p, Some("sy_v=cart.v1"), Some("application/json"), &huge).await;
    assert_eq!(s, 413, "{text}");
    // Unknown host: 404, nothing to count on.
    let r = p.http.post(format!("{}/__switchyard/events", p.edge().url())).header("host", "nope.test.example");
    assert_eq!(r.body(conversion("1", "EUR")).send().await.unwrap().status(), 404);

    // Promote v2: 3 more page views by 3 new visitors, now on v2.
    let (s, promoted) = p.api("POST", "apps/cart/promote", &token, Some(json!({ "version": "v2" }))).await;
    assert_eq!(s, 200, "{promoted}");
    wait_edge_at(&p, promoted["revision"].as_u64().unwrap()).await;
    for n in [10, 11, 12] {
        let r = page(&p, "/", Some(&visitor(n))).await;
        assert_eq!(r.headers()["x-switchyard-version"], "v2");
    }
    // Now v2 is live and v1 retained (skew protection): each gets its visitors' conversions.
    for (cookie, body) in [("sy_v=cart.v2", conversion("5", "USD")), ("sy_v=cart.v1", conversion("1", "EUR"))] {
        let (s, text) = event(&p, Some(cookie), Some("application/json"), &body).await;
        assert_eq!((s, text.as_str()), (204, ""), "{cookie}");
    }

    // The counts reach the control plane, exactly.
    let stats = stats_when(&p, &token, "stats with every count", |s| {
        version(s, "v1")["page_views"] == 6
            && version(s, "v2")["page_views"] == 3
            && version(s, "v1")["conversions"] == 6
    })
    .await;
    let (v1, v2) = (version(&stats, "v1"), version(&stats, "v2"));
    assert_eq!(v1["unique_visitors"], 5, "{stats}");
    assert_eq!(
        v1["conversions"], 6,
        "49.90 + 10.10 EUR, 5 USD (v2 forged → live), 1 EUR (v99 → live), 1 without value (other app → live), \
         1 EUR once retained"
    );
    assert_eq!(v1["revenue"], json!({ "EUR": "62.00", "USD": "5.00" }));
    assert_eq!(v1["conversion_rate"].as_f64().unwrap(), 6.0 / 5.0);
    assert_eq!(v2["unique_visitors"], 3);
    assert_eq!(v2["conversions"], 1);
    assert_eq!(v2["revenue"], json!({ "USD": "5.00" }));
    assert!(v1["live"][0]["until"].is_string() && v2["live"][0]["until"].is_null(), "{stats}");
    assert!(stats["visitors_method"].as_str().unwrap().contains("HyperLogLog"));
    // A later report carries only what is new: one more page view by a known visitor moves
    // v2's page views to 4 and nothing else (no count is reported twice).
    assert_eq!(page(&p, "/", Some(&visitor(10))).await.status(), 200);
    let again = stats_when(&p, &token, "the next report", |s| version(s, "v2")["page_views"] == 4).await;
    let mut want = stats["versions"].clone();
    want[0]["page_views"] = json!(4);
    assert_eq!(again["versions"], want);

    // The table names the same figures.
    let out = run_cli(p.control().url(), &token, &["stats", "--app", "cart", "--since", "1d"]);
    let table = String::from_utf8_lossy(&out.stdout);
    let row = table.lines().find(|l| l.starts_with("v1 ")).expect(&table);
    for cell in ["6", "5", "120.0 %", "62.00 EUR", "5.00 USD"] {
        assert!(row.contains(cell), "{cell} in {row}");
    }
    assert!(table.contains("now"), "{table}");
    // Another tenant sees no such app.
    let other = p.tenant("globex").await;
    let (s, _) = p.api("GET", "apps/cart/stats", &other, None).await;
    assert_eq!(s, 404);
    let (s, body) = p.api("GET", "apps/cart/stats?since=0", &token, None).await;
    assert_eq!((s, body["error"]["code"].as_str()), (400, Some("invalid_since")));

    // The edge's Prometheus counters, exact for this fresh edge.
    let text = metrics(&p, &format!("http://{admin}/metrics")).await;
    for line in [
        "switchyard_edge_requests_total{app=\"cart\",version=\"v1\",status=\"2xx\",cache=\"hit\"} 7",
        "switchyard_edge_requests_total{app=\"cart\",version=\"v1\",status=\"4xx\",cache=\"hit\"} 1",
        "switchyard_edge_requests_total{app=\"cart\",version=\"v2\",status=\"2xx\",cache=\"hit\"} 4",
        "switchyard_edge_request_duration_seconds_count{app=\"cart\",version=\"v1\"} 8",
        "switchyard_edge_events_total{app=\"cart\",version=\"v1\",outcome=\"accepted\"} 6",
        "switchyard_edge_events_total{app=\"cart\",version=\"v2\",outcome=\"accepted\"} 1",
        "switchyard_edge_events_total{app=\"cart\",version=\"v1\",outcome=\"invalid\"} 7",
        "switchyard_edge_events_total{app=\"cart\",version=\"v1\",outcome=\"too_large\"} 1",
        &format!("switchyard_edge_revision {}", promoted["revision"]),
    ] {
        has_line(&text, line);
    }
    // 6 pages of 10 bytes, a 1-byte asset, a 10-byte 404 text.
    has_line(&text, "switchyard_edge_response_bytes_total{app=\"cart\",version=\"v1\"} 71");

    // The control plane's own metrics.
    let text = metrics(&p, &format!("{}/metrics", p.control().url())).await;
    has_line(&text, &format!("switchyard_control_revision {}", promoted["revision"]));
    has_line(&text, "switchyard_control_edges_connected 1");
    has_line(&text, "switchyard_control_deploys_total 2");
    has_line(&text, "switchyard_control_promotions_total 1");
    has_line(&text, "switchyard_control_rollbacks_total 0");
    let _ = BASE;
}

#[tokio::test]
async fn events_past_the_rate_limit_get_429_and_are_not_counted() {
    let p = Platform::start().await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let (s, v1) = p.deploy(&token, "cart", "promote=true", tar_gz(&[file("index.html", "one")])).await;
    assert_eq!(s, 201);
    wait_edge_at(&p, v1["revision"].as_u64().unwrap()).await;
    let body = r#"{"type":"conversion","value":1,"currency":"EUR"}"#;
    let (mut accepted, mut limited) = (0u64, 0u64);
    for _ in 0..40 {
        let mut req = p.http.post(format!("{}/__switchyard/events", p.edge().url())).header("host", HOST);
        req = req.header("content-type", "application/json");
        let r = req.body(body).send().await.unwrap();
        match r.status().as_u16() {
            204 => accepted += 1,
            429 => {
                let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=2).contains(&wait), "retry-after {wait}");
                limited += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // A burst of 20, plus what refills at 2/s while the loop runs.
    assert!((20..=25).contains(&accepted), "{accepted} accepted");
    assert_eq!(accepted + limited, 40);
    let stats =
        stats_when(&p, &token, "the accepted events in stats", |s| version(s, "v1")["conversions"] == accepted).await;
    assert_eq!(version(&stats, "v1")["revenue"], json!({ "EUR": format!("{accepted}.00") }));
}

/// An event still arriving when the edge is told to stop is counted and reported: the last
/// report waits until every connection has drained.
#[tokio::test]
async fn an_event_finished_during_the_drain_is_reported() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let p = Platform::start().await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let (s, v1) = p.deploy(&token, "cart", "promote=true", tar_gz(&[file("index.html", "one")])).await;
    assert_eq!(s, 201);
    wait_edge_at(&p, v1["revision"].as_u64().unwrap()).await;
    let body = r#"{"type":"conversion","value":7,"currency":"EUR"}"#;
    let (first, rest) = body.split_at(10);
    let mut conn = tokio::net::TcpStream::connect(p.edge().addr()).await.unwrap();
    let head = format!(
        "POST /__switchyard/events HTTP/1.1\r\nhost: {HOST}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{first}",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // SIGTERM while the edge waits for the rest of the body: it starts draining.
    let pid = p.edge().pid().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    conn.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    let stats =
        stats_when(&p, &token, "the event finished during the drain", |s| version(s, "v1")["conversions"] == 1).await;
    assert_eq!(version(&stats, "v1")["revenue"], json!({ "EUR": "7.00" }));
}
