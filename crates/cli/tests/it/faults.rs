//! Faults against real processes: the control plane killed (SIGKILL) mid-promote, edges serving
//! with the control plane gone, an edge that missed several revisions, blobs corrupted in an
//! edge's cache. (Killing the control plane mid-deploy is in `restart.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_model::{Digest, Manifest};
use switchyard_testkit::archive::{file, tar_gz};
use switchyard_testkit::{ADMIN_TOKEN, BASE, Control, Edge, Platform, blob_path, wait_for, wait_serving_on};

/// No control plane listens here (the discard port).
const NOWHERE: &str = "http://127.0.0.1:9";

/// Every version of `app` has its manifest and every blob it names stored, byte-exact.
async fn assert_versions_complete(p: &Platform, token: &str, app: &str) -> Vec<Value> {
    let (s, versions) = p.api("GET", &format!("apps/{app}/versions"), token, None).await;
    assert_eq!(s, 200, "{versions}");
    let versions = versions.as_array().unwrap().clone();
    for v in &versions {
        let manifest = blob(p, v["manifest"].as_str().unwrap()).await;
        let manifest = Manifest::from_json(&manifest).unwrap();
        for digest in manifest.blobs() {
            blob(p, &digest.to_hex()).await;
        }
    }
    versions
}

async fn blob(p: &Platform, hex: &str) -> Vec<u8> {
    let url = format!("{}/v1/blobs/{hex}", p.control().url());
    let r = p.http.get(url).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200, "blob {hex} is stored");
    let bytes = r.bytes().await.unwrap().to_vec();
    assert_eq!(Digest::of(&bytes).to_hex(), hex, "blob {hex} is intact");
    bytes
}

#[tokio::test]
async fn killing_the_control_plane_mid_promote_leaves_a_consistent_pointer() {
    let mut p = Platform::start().await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    for body in ["one", "two"] {
        let (s, _) = p.deploy(&token, "cart", "promote=true", tar_gz(&[file("index.html", body)])).await;
        assert_eq!(s, 201);
    }
    // Promote back and forth as fast as the control plane answers, and kill it mid-stream.
    let acked = Arc::new(AtomicU64::new(0));
    let promoter = {
        let (http, url, token, acked) =
            (p.http.clone(), format!("{}/v1/apps/cart/promote", p.control().url()), token.clone(), acked.clone());
        tokio::spawn(async move {
            for i in 0u64.. {
                let version = if i % 2 == 0 { "v1" } else { "v2" };
                let sent = http.post(&url).bearer_auth(&token).json(&json!({ "version": version })).send().await;
                match sent {
                    Ok(r) if r.status() == 200 => acked.fetch_add(1, Ordering::SeqCst),
                    _ => return,
                };
            }
        })
    };
    wait_for("some promotes to be answered", Duration::from_secs(20), || async {
        (acked.load(Ordering::SeqCst) >= 10).then_some(())
    })
    .await;
    let (data, url) = (p.control().data.clone(), p.control().url().to_owned());
    p.control.take().unwrap().kill();
    promoter.await.unwrap();
    let acked = acked.load(Ordering::SeqCst);
    // The edge notices and reports the failure once the control plane is back.
    p.control = Some(Control::start_at(&data, &url));
    let (_, app) = p.api("GET", "apps/cart", &token, None).await;
    let (_, releases) = p.api("GET", "apps/cart/releases", &token, None).await;
    let releases = releases.as_array().unwrap();
    let promotes = releases.iter().filter(|r| r["kind"] == "promote").count() as u64;
    assert!(
        promotes == acked || promotes == acked + 1,
        "every answered promote is durable, and at most the one in flight also landed: {promotes} vs {acked}"
    );
    let latest = releases.iter().max_by_key(|r| r["revision"].as_u64().unwrap()).unwrap();
    assert_eq!(app["channels"]["live"], latest["to"], "the pointer is where the last release put it");
    assert_eq!(assert_versions_complete(&p, &token, "cart").await.len(), 2);
    // The edge (which kept serving throughout) follows the restarted control plane, and its
    // report goes back to in sync with no error.
    p.wait_serving(&format!("cart.{BASE}"), latest["to"].as_str().unwrap()).await;
    let other = if latest["to"] == "v1" { "v2" } else { "v1" };
    let (s, _) = p.api("POST", "apps/cart/promote", &token, Some(json!({ "version": other }))).await;
    assert_eq!(s, 200);
    p.wait_serving(&format!("cart.{BASE}"), other).await;
    wait_for("the edge to report in sync without an error", Duration::from_secs(15), || async {
        let (_, fleet) = p.api("GET", "edges", ADMIN_TOKEN, None).await;
        let row = &fleet["edges"][0];
        (row["state"] == "in_sync" && row["error"].is_null()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn killing_the_control_plane_mid_deploy_leaves_no_version_without_its_blobs() {
    let mut p = Platform::start().await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    // Deploys with promote, back to back, each with 20 files of its own; the kill lands
    // somewhere in an upload, an ingest, a blob commit or a transaction.
    let acked = Arc::new(AtomicU64::new(0));
    let deployer = {
        let (http, url, token, acked) = (
            p.http.clone(),
            format!("{}/v1/apps/cart/versions?promote=true", p.control().url()),
            token.clone(),
            acked.clone(),
        );
        tokio::spawn(async move {
            for n in 0u64.. {
                let files: Vec<_> =
                    (0..20).map(|i| file(&format!("f{i}.txt"), format!("deploy {n} file {i}").repeat(50))).collect();
                let sent = http.post(&url).bearer_auth(&token).body(tar_gz(&files)).send().await;
                match sent {
                    Ok(r) if r.status() == 201 => acked.fetch_add(1, Ordering::SeqCst),
                    Ok(r) if r.status() != 500 => panic!("deploy {n}: {}", r.status()),
                    _ => return,
                };
            }
        })
    };
    wait_for("a few deploys to be answered", Duration::from_secs(30), || async {
        (acked.load(Ordering::SeqCst) >= 2).then_some(())
    })
    .await;
    let (data, url) = (p.control().data.clone(), p.control().url().to_owned());
    p.control.take().unwrap().kill();
    deployer.await.unwrap();
    let acked = acked.load(Ordering::SeqCst);

    p.control = Some(Control::start_at(&data, &url));
    let versions = assert_versions_complete(&p, &token, "cart").await;
    let n = versions.len() as u64;
    assert!(n == acked || n == acked + 1, "every answered deploy is durable, at most one more: {n} vs {acked}");
    let (_, app) = p.api("GET", "apps/cart", &token, None).await;
    assert_eq!(app["channels"]["live"], format!("v{n}"), "live is on the newest complete version");
    p.wait_serving(&format!("cart.{BASE}"), &format!("v{n}")).await;
    let r = p.edge_get(&format!("cart.{BASE}"), "/f7.txt").await;
    assert_eq!(r.text().await.unwrap(), format!("deploy {} file 7", n - 1).repeat(50));
}

#[tokio::test]
async fn edges_serve_without_the_control_plane_and_restart_from_disk() {
    let mut p = Platform::start().await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let (s, _) = p.deploy(&token, "cart", "promote=true", tar_gz(&[file("index.html", "one")])).await;
    assert_eq!(s, 201);
    p.wait_serving(&format!("cart.{BASE}"), "v1").await;

    p.control.take().unwrap().kill();
    for _ in 0..50 {
        let r = p.edge_get(&format!("cart.{BASE}"), "/").await;
        assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "one".to_owned()));
    }
    // Killed too, and restarted on its cache with the control plane still gone: it serves at
    // once (the first request after it announces its port).
    let cache = p.edge().cache.clone();
    p.edge.take().unwrap().kill();
    p.edge = Some(Edge::start(NOWHERE, &p.edge_token, &cache, BASE));
    let r = p.edge_get(&format!("cart.{BASE}"), "/").await;
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "one".to_owned()));
    let r = p.edge_get(&format!("v1--cart.{BASE}"), "/").await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn an_edge_down_for_several_revisions_catches_up() {
    let p = Platform::start().await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let (s, _) = p.deploy(&token, "cart", "promote=true", tar_gz(&[file("index.html", "v1")])).await;
    assert_eq!(s, 201);
    let late = p.add_edge("late", "eu", &[]);
    wait_serving_on(&p.http, late.url(), &format!("cart.{BASE}"), "v1").await;
    let cache = late.cache.clone();
    late.kill();

    for n in 2..=5 {
        let (s, _) = p.deploy(&token, "cart", "promote=true", tar_gz(&[file("index.html", format!("v{n}"))])).await;
        assert_eq!(s, 201);
    }
    let (s, _) = p.api("POST", "apps/cart/rollback", &token, None).await;
    assert_eq!(s, 200);
    let (_, health) = p.api("GET", "health", &token, None).await;
    let revision = health["revision"].as_u64().unwrap();

    let late = Edge::start_with(p.control().url(), &p.edge_token, &cache, BASE, &["--name", "late"]);
    wait_serving_on(&p.http, late.url(), &format!("cart.{BASE}"), "v4").await;
    for n in 1..=5 {
        let r = p.http.get(format!("{}/", late.url())).header("host", format!("v{n}--cart.{BASE}")).send().await;
        assert_eq!(r.unwrap().text().await.unwrap(), format!("v{n}"));
    }
    wait_for("the late edge to report the current revision", Duration::from_secs(10), || async {
        let (_, fleet) = p.api("GET", "edges", ADMIN_TOKEN, None).await;
        let row = fleet["edges"].as_array()?.iter().find(|e| e["name"] == "late")?.clone();
        (row["revision"] == revision && row["lag"] == 0 && row["state"] == "in_sync").then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_blob_corrupted_in_the_edge_cache_is_never_served_and_is_fetched_again() {
    let mut p = Platform::start().await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let small = switchyard_testkit::noise(10_000, 1);
    let large = switchyard_testkit::noise(3 << 20, 2); // streamed from disk, never held in memory
    let (s, _) = p
        .deploy(
            &token,
            "cart",
            "promote=true",
            tar_gz(&[file("small.bin", small.clone()), file("large.bin", large.clone())]),
        )
        .await;
    assert_eq!(s, 201);
    p.wait_serving(&format!("cart.{BASE}"), "v1").await;
    let cache = p.edge().cache.clone();
    p.edge.take().unwrap().stop();

    // Same length, different bytes: only the hash tells.
    let mut corrupted = Vec::new();
    for bytes in [&small, &large] {
        let path = blob_path(&cache, &Digest::of(bytes));
        let mut on_disk = std::fs::read(&path).unwrap();
        let middle = on_disk.len() / 2;
        on_disk[middle] ^= 0xff;
        std::fs::write(&path, &on_disk).unwrap();
        corrupted.push(on_disk);
    }

    // With the control plane away, the edge cannot re-fetch: it serves nothing of the app
    // rather than the corrupt bytes.
    let control = p.control.take().unwrap();
    p.edge = Some(Edge::start(NOWHERE, &p.edge_token, &cache, BASE));
    for path in ["/small.bin", "/large.bin"] {
        let r = p.edge_get(&format!("cart.{BASE}"), path).await;
        let status = r.status().as_u16();
        let body = r.bytes().await.unwrap();
        assert_eq!(status, 404, "{path}: the app is withheld, not served corrupt");
        assert!(!corrupted.iter().any(|c| c[..] == body[..]));
    }
    assert!(p.edge().logs().contains("failed verification"), "{}", p.edge().logs());
    p.edge.take().unwrap().stop();

    // With the control plane back, it fetches them again and serves the uploaded bytes.
    p.control = Some(control);
    p.edge = Some(Edge::start(p.control().url(), &p.edge_token, &cache, BASE));
    p.wait_serving(&format!("cart.{BASE}"), "v1").await;
    for (path, bytes) in [("/small.bin", &small), ("/large.bin", &large)] {
        let r = p.edge_get(&format!("cart.{BASE}"), path).await;
        assert_eq!(r.status(), 200);
        assert!(r.bytes().await.unwrap()[..] == bytes[..], "{path} is the uploaded bytes");
        assert_eq!(std::fs::read(blob_path(&cache, &Digest::of(bytes))).unwrap(), *bytes, "{path} re-fetched");
    }
}

#[tokio::test]
async fn promoting_and_rolling_back_100_times_never_fails_a_request() {
    let p = Platform::start().await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let paths = ["/", "/assets/app.js", "/shared/logo.svg"];
    let bundle = |v: &str| {
        tar_gz(&[
            file("index.html", format!("<h1>cart {v}</h1>")),
            file("assets/app.js", format!("console.log('{v}')")),
            file("shared/logo.svg", "<svg>same in both</svg>"),
        ])
    };
    let expected = |v: &str, path: &str| match path {
        "/" => format!("<h1>cart {v}</h1>"),
        "/assets/app.js" => format!("console.log('{v}')"),
        _ => "<svg>same in both</svg>".to_owned(),
    };
    let (s, _) = p.deploy(&token, "cart", "promote=true", bundle("v1")).await;
    assert_eq!(s, 201);
    let (s, _) = p.deploy(&token, "cart", "", bundle("v2")).await;
    assert_eq!(s, 201);
    p.wait_serving(&format!("cart.{BASE}"), "v1").await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for task in 0..4 {
        let (stop, url) = (stop.clone(), p.edge().url().to_owned());
        load.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut seen = [0u64; 2];
            let mut i = task;
            while !stop.load(Ordering::Relaxed) {
                let path = paths[i % paths.len()];
                i += 1;
                let r = http.get(format!("{url}{path}")).header("host", format!("cart.{BASE}")).send().await;
                let r = r.unwrap_or_else(|e| panic!("{path}: request failed: {e}"));
                assert_eq!(r.status(), 200, "{path}");
                let version = r.headers()["x-switchyard-version"].to_str().unwrap().to_owned();
                let body = r.text().await.unwrap();
                assert_eq!(body, expected(&version, path), "{path}: the body matches {version}");
                seen[usize::from(version == "v2")] += 1;
            }
            seen
        }));
    }
    for _ in 0..100 {
        let (s, r) = p.api("POST", "apps/cart/promote", &token, Some(json!({ "version": "v2" }))).await;
        assert_eq!((s, r["to"].as_str()), (200, Some("v2")), "{r}");
        let (s, r) = p.api("POST", "apps/cart/rollback", &token, None).await;
        assert_eq!((s, r["to"].as_str()), (200, Some("v1")), "{r}");
    }
    stop.store(true, Ordering::Relaxed);
    let mut seen = [0u64; 2];
    for task in load {
        let s = task.await.expect("no request failed");
        seen[0] += s[0];
        seen[1] += s[1];
    }
    assert!(seen[0] > 0 && seen[1] > 0, "both versions were served during the moves: {seen:?}");
}
