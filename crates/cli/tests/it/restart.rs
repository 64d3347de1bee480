//! State survives restarts and crashes: a stopped (or killed) control plane and edge come back
//! on the same data serving the same versions, and an edge keeps serving while the control
//! plane is away.

use std::time::Duration;

use switchyard_testkit::archive::{file, tar_gz};
use switchyard_testkit::{BASE, Control, Edge, Platform, wait_for};

#[tokio::test]
async fn both_binaries_restart_on_the_same_data() {
    let mut p = Platform::start().await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let (s, _) = p.deploy(&token, "cart", "promote=true", tar_gz(&[file("index.html", "one")])).await;
    assert_eq!(s, 201);
    let (s, _) = p.deploy(&token, "cart", "", tar_gz(&[file("index.html", "two")])).await;
    assert_eq!(s, 201);
    p.wait_serving(&format!("preview--cart.{BASE}"), "v2").await;

    let control_data = p.control().data.clone();
    let edge_cache = p.edge().cache.clone();
    p.edge.take().unwrap().stop();
    p.control.take().unwrap().stop();

    // The edge alone, with no control plane anywhere: it serves its persisted snapshot.
    let nowhere = "http://127.0.0.1:9"; // discard port: nothing listens
    let edge = Edge::start(nowhere, &p.edge_token, &edge_cache, BASE);
    p.edge = Some(edge);
    assert_eq!(p.edge_get(&format!("cart.{BASE}"), "/").await.text().await.unwrap(), "one");
    assert_eq!(p.edge_get(&format!("preview--cart.{BASE}"), "/").await.text().await.unwrap(), "two");
    p.edge.take().unwrap().stop();

    // Both back on the same data: same versions, pointers and tokens.
    p.control = Some(Control::start(&control_data));
    p.edge = Some(Edge::start(p.control().url(), &p.edge_token, &edge_cache, BASE));
    let (s, versions) = p.api("GET", "apps/cart/versions", &token, None).await;
    assert_eq!(s, 200, "the tenant token still works");
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[0]["channels"], serde_json::json!(["live"]));
    let r = p.edge_get(&format!("cart.{BASE}"), "/").await;
    assert_eq!(r.headers()["x-switchyard-version"], "v1");
    assert_eq!(r.text().await.unwrap(), "one");
    // And the restarted pair still follows changes.
    let (s, _) = p.api("POST", "apps/cart/promote", &token, Some(serde_json::json!({ "version": "v2" }))).await;
    assert_eq!(s, 200);
    p.wait_serving(&format!("cart.{BASE}"), "v2").await;
}

#[tokio::test]
async fn killing_the_control_plane_mid_deploy_leaves_the_previous_state_serving() {
    let mut p = Platform::start().await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let (s, _) = p.deploy(&token, "cart", "promote=true", tar_gz(&[file("index.html", "stable")])).await;
    assert_eq!(s, 201);
    p.wait_serving(&format!("cart.{BASE}"), "v1").await;

    // Start an upload that sends half an archive and then stalls.
    let big = tar_gz(&(0..50).map(|i| file(&format!("f{i}.bin"), vec![i as u8; 200_000])).collect::<Vec<_>>());
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tx.send(Ok(big[..big.len() / 2].to_vec())).await.unwrap();
    let url = format!("{}/v1/apps/cart/versions?promote=true", p.control().url());
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let upload = tokio::spawn(p.http.post(url).bearer_auth(&token).body(body).send());
    let uploads = p.control().data.join("uploads");
    wait_for("the upload to reach the control plane", Duration::from_secs(10), || {
        let uploads = uploads.clone();
        async move {
            let file = std::fs::read_dir(&uploads).ok()?.next()?.ok()?;
            (file.metadata().ok()?.len() > 0).then_some(())
        }
    })
    .await;

    let data = p.control().data.clone();
    p.control.take().unwrap().kill();
    assert!(upload.await.unwrap().is_err(), "the upload dies with the control plane");
    drop(tx);
    // The edge keeps serving v1 while the control plane is down.
    let r = p.edge_get(&format!("cart.{BASE}"), "/").await;
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "stable".to_owned()));

    p.control = Some(Control::start(&data));
    let (_, versions) = p.api("GET", "apps/cart/versions", &token, None).await;
    assert_eq!(versions.as_array().unwrap().len(), 1, "no half-made version: {versions}");
    assert_eq!(std::fs::read_dir(data.join("uploads")).unwrap().count(), 0, "the partial upload is cleared");
    // A new deploy after the crash works and is numbered next.
    let (s, body) = p.deploy(&token, "cart", "", tar_gz(&[file("index.html", "after")])).await;
    assert_eq!((s, body["version"].as_str()), (201, Some("v2")));
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
