//! A fleet of edges: heartbeats, `switchyard edges`, `promote/rollback --wait`, per-app
//! isolation when an app's data cannot be fetched, and the edge cache's size budget.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_model::Digest;
use switchyard_testkit::archive::{file, tar_gz};
use switchyard_testkit::{ADMIN_TOKEN, BASE, Edge, Platform, blob_path, run_cli, wait_for};

/// Waits until `GET /v1/edges` lists `n` edges, all in sync; returns the listing.
async fn wait_in_sync(p: &Platform, n: usize) -> Value {
    wait_for(&format!("{n} edges in sync"), Duration::from_secs(15), || async {
        let (s, body) = p.api("GET", "edges", ADMIN_TOKEN, None).await;
        let edges = body["edges"].as_array()?;
        (s == 200 && edges.len() == n && edges.iter().all(|e| e["state"] == "in_sync")).then_some(body)
    })
    .await
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn edges_report_and_promote_waits_for_every_healthy_edge() {
    let p = Platform::start().await;
    let eu = p.add_edge("edge-eu", "eu-west", &[]);
    let us = p.add_edge("edge-us", "us-east", &[]);
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let (s, _) = p.deploy(&token, "cart", "promote=true", tar_gz(&[file("index.html", "one")])).await;
    assert_eq!(s, 201);
    let (s, deployed) = p.deploy(&token, "cart", "", tar_gz(&[file("index.html", "two")])).await;
    assert_eq!(s, 201);

    let fleet = wait_in_sync(&p, 3).await;
    let revision = deployed["revision"].as_u64().unwrap();
    assert_eq!(fleet["revision"], revision);
    let eu_row = fleet["edges"].as_array().unwrap().iter().find(|e| e["name"] == "edge-eu").unwrap().clone();
    assert_eq!(eu_row["region"], "eu-west");
    assert_eq!(eu_row["revision"], revision);
    assert_eq!(eu_row["lag"], 0);
    assert_eq!(eu_row["versions"], json!({ "cart": [1, 2] }));
    assert_eq!(eu_row["error"], Value::Null);

    // The CLI table and its JSON.
    let out = run_cli(p.control().url(), ADMIN_TOKEN, &["edges"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.lines().next().unwrap().starts_with(&format!("Control plane at revision {revision}; 3 edges")));
    assert!(table.contains("NAME") && table.contains("LAG") && table.contains("STATE"), "{table}");
    let row = table.lines().find(|l| l.starts_with("edge-us")).expect(&table);
    assert!(row.contains("us-east") && row.contains("in sync"), "{row}");
    let out = run_cli(p.control().url(), ADMIN_TOKEN, &["--json", "edges"]);
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed["edges"].as_array().unwrap().len(), 3);
    // Only the operator lists the fleet.
    let (s, _) = p.api("GET", "edges", &token, None).await;
    assert_eq!(s, 403);

    // promote --wait (as the merchant): when it returns, every edge already serves v2.
    let out = run_cli(p.control().url(), &token, &["promote", "--app", "cart", "v2", "--wait", "--timeout", "10s"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    for name in ["test-edge", "edge-eu", "edge-us"] {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in {text}"));
        assert!(line.trim_end().ends_with(" ms"), "{line}");
    }
    assert!(text.contains("All 3 healthy edges reached revision"), "{text}");
    for edge in [p.edge(), &eu, &us] {
        let r = p.http.get(format!("{}/", edge.url())).header("host", format!("cart.{BASE}")).send().await.unwrap();
        assert_eq!(r.headers()["x-switchyard-version"], "v2", "{} right after --wait", edge.url());
        assert_eq!(r.text().await.unwrap(), "two");
    }

    // rollback --wait --json carries the release and the per-edge times.
    let out = run_cli(p.control().url(), &token, &["--json", "rollback", "--app", "cart", "--wait"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["release"]["to"], "v1");
    assert_eq!(answer["wait"]["done"], true);
    assert_eq!(answer["wait"]["revision"], answer["release"]["revision"]);
    assert_eq!(answer["wait"]["reached"].as_array().unwrap().len(), 3);
    assert!(answer["wait"]["reached"].as_array().unwrap().iter().all(|e| e["took_ms"].is_u64()));
    for edge in [p.edge(), &eu, &us] {
        let r = p.http.get(format!("{}/", edge.url())).header("host", format!("cart.{BASE}")).send().await.unwrap();
        assert_eq!(r.text().await.unwrap(), "one", "{} right after rollback --wait", edge.url());
    }

    // An edge killed just now still counts as healthy (seen within the stale threshold), so the
    // wait times out naming it, and the command fails.
    us.kill();
    let out = run_cli(p.control().url(), &token, &["promote", "--app", "cart", "v2", "--wait", "--timeout", "1s"]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("LAGGING  edge-us (us-east)"), "{}", stdout(&out));
    assert!(stderr(&out).contains("1 of 3 healthy edges did not reach revision"), "{}", stderr(&out));
    drop(eu);
}

#[tokio::test]
async fn bad_heartbeats_and_waits_are_refused() {
    let p = Platform::start().await;
    let token = p.tenant("acme").await;
    let beat = |name: &str| json!({ "name": name, "region": "eu", "revision": 0 });
    let (s, body) = p.api("POST", "edge/heartbeat", &token, Some(beat("x"))).await;
    assert_eq!((s, body["error"]["code"].as_str()), (403, Some("forbidden")), "tenants cannot report as edges");
    let (s, body) = p.api("POST", "edge/heartbeat", &p.edge_token, Some(beat("bad\nname"))).await;
    assert_eq!((s, body["error"]["code"].as_str()), (400, Some("invalid_heartbeat")));
    assert!(body["error"]["message"].as_str().unwrap().contains("name"), "{body}");
    let (s, body) = p.api("POST", "edge/heartbeat", &p.edge_token, Some(json!({ "name": "x", "oops": 1 }))).await;
    assert_eq!((s, body["error"]["code"].as_str()), (422, Some("invalid_json")), "{body}");
    let (s, fleet) = p.api("GET", "edges", ADMIN_TOKEN, None).await;
    assert_eq!(s, 200);
    assert!(fleet["edges"].as_array().unwrap().iter().all(|e| e["name"] == "test-edge"), "{fleet}");
    let (s, body) = p.api("GET", "edges/wait?revision=999", &token, None).await;
    assert_eq!((s, body["error"]["code"].as_str()), (400, Some("invalid_revision")));
    let (s, body) = p.api("GET", "edges/wait?revision=abc", &token, None).await;
    assert_eq!((s, body["error"]["code"].as_str()), (400, Some("invalid_query")));
}

#[tokio::test]
async fn an_app_whose_blob_cannot_be_fetched_stays_behind_while_others_move() {
    let mut p = Platform::start().await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    p.app(&token, "shop").await;
    for app in ["cart", "shop"] {
        let (s, _) = p.deploy(&token, app, "promote=true", tar_gz(&[file("index.html", format!("{app} one"))])).await;
        assert_eq!(s, 201);
    }
    p.wait_serving(&format!("cart.{BASE}"), "v1").await;
    p.wait_serving(&format!("shop.{BASE}"), "v1").await;
    let cache = p.edge().cache.clone();
    p.edge.take().unwrap().stop();

    // While the edge is away both apps get v2, and one blob of cart's v2 goes missing.
    let lost = "cart two: this blob goes missing";
    for (app, body) in [("cart", lost), ("shop", "shop two")] {
        let (s, _) = p.deploy(&token, app, "promote=true", tar_gz(&[file("index.html", body)])).await;
        assert_eq!(s, 201);
    }
    let lost_path = blob_path(&p.control().data, &Digest::of(lost.as_bytes()));
    let lost_bytes = std::fs::read(&lost_path).unwrap();
    std::fs::remove_file(&lost_path).unwrap();

    p.edge = Some(Edge::start(p.control().url(), &p.edge_token, &cache, BASE));
    p.wait_serving(&format!("shop.{BASE}"), "v2").await;
    let r = p.edge_get(&format!("cart.{BASE}"), "/").await;
    assert_eq!(r.headers()["x-switchyard-version"], "v1", "cart stays on the version it had");
    assert_eq!(r.text().await.unwrap(), "cart one");
    let row = wait_for("the edge to report cart held back", Duration::from_secs(10), || async {
        let (_, fleet) = p.api("GET", "edges", ADMIN_TOKEN, None).await;
        let row = fleet["edges"][0].clone();
        row["app_errors"]["cart"].is_string().then_some(row)
    })
    .await;
    assert_eq!(row["state"], "syncing", "{row}");
    assert_eq!(row["lag"], 0, "the edge applied the current revision for every other app");
    assert_eq!(row["versions"]["cart"], json!([1]), "{row}");
    assert!(row["app_errors"]["cart"].as_str().unwrap().contains("404"), "{row}");
    // A wait for cart names the edge as lagging; a wait for shop is done.
    let revision = row["revision"].as_u64().unwrap();
    let (_, w) = p.api("GET", &format!("edges/wait?revision={revision}&app=cart&timeout_ms=200"), &token, None).await;
    assert_eq!((w["done"].as_bool(), w["lagging"][0]["name"].as_str()), (Some(false), Some("test-edge")), "{w}");
    let (_, w) = p.api("GET", &format!("edges/wait?revision={revision}&app=shop&timeout_ms=200"), &token, None).await;
    assert_eq!(w["done"], true, "{w}");

    // The blob comes back: the edge retries on its own and cart moves to v2.
    std::fs::write(&lost_path, lost_bytes).unwrap();
    p.wait_serving(&format!("cart.{BASE}"), "v2").await;
    assert_eq!(p.edge_get(&format!("cart.{BASE}"), "/").await.text().await.unwrap(), lost);
    wait_in_sync(&p, 1).await;
}

#[tokio::test]
async fn over_its_budget_the_cache_evicts_only_unreferenced_blobs() {
    let mut p = Platform::start().await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let (s, _) = p.deploy(&token, "cart", "promote=true", tar_gz(&[file("index.html", "one")])).await;
    assert_eq!(s, 201);
    p.wait_serving(&format!("cart.{BASE}"), "v1").await;
    let cache = p.edge().cache.clone();
    p.edge.take().unwrap().stop();

    // A blob no version references (left by an earlier control plane, say).
    let orphan = b"nobody references this".repeat(100);
    let orphan_path = blob_path(&cache, &Digest::of(&orphan));
    std::fs::create_dir_all(orphan_path.parent().unwrap()).unwrap();
    std::fs::write(&orphan_path, &orphan).unwrap();

    let edge = Edge::start_with(p.control().url(), &p.edge_token, &cache, BASE, &["--cache-budget-mib", "0"]);
    p.edge = Some(edge);
    let (s, _) = p.deploy(&token, "cart", "promote=true", tar_gz(&[file("index.html", "two")])).await;
    assert_eq!(s, 201);
    p.wait_serving(&format!("cart.{BASE}"), "v2").await;
    wait_for("the orphan blob to be evicted", Duration::from_secs(10), || async {
        (!orphan_path.exists()).then_some(())
    })
    .await;
    // Every retained version still serves, from the cache.
    for (host, body) in [(format!("v1--cart.{BASE}"), "one"), (format!("cart.{BASE}"), "two")] {
        let r = p.edge_get(&host, "/").await;
        assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, body.to_owned()));
    }
    assert!(blob_path(&cache, &Digest::of(b"one")).exists(), "a referenced blob is never evicted");
}
