//! The walk every merchant takes, over HTTP only: tenant → app → deploy → promote → preview →
//! promote → rollback, with the edge checked byte for byte and header by header at each step.

use serde_json::json;
use switchyard_testkit::archive::{file, tar_gz, zip};
use switchyard_testkit::{ADMIN_TOKEN, BASE, Platform};

fn v1() -> Vec<u8> {
    tar_gz(&[
        file("index.html", "<h1>cart v1</h1>"),
        file("assets/app.js", "console.log('v1')"),
        file("shared/logo.svg", "<svg>same in both</svg>"),
        file("docs/index.html", "<p>docs v1</p>"),
    ])
}

fn v2() -> Vec<u8> {
    zip(&[
        file("index.html", "<h1>cart v2</h1>"),
        file("assets/app.js", "console.log('v2')"),
        file("shared/logo.svg", "<svg>same in both</svg>"),
    ])
}

async fn body_and_version(p: &Platform, host: &str, path: &str) -> (u16, String, String) {
    let r = p.edge_get(host, path).await;
    let status = r.status().as_u16();
    let version = r.headers().get("x-switchyard-version").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, version, r.text().await.unwrap())
}

#[tokio::test]
async fn deploy_preview_promote_rollback() {
    walk(&Platform::start().await).await;
}

/// The whole walk on a fresh platform `p` (also run with blobs in S3, see `s3.rs`).
pub(crate) async fn walk(p: &Platform) {
    let acme = p.tenant("acme").await;
    p.app(&acme, "cart").await;
    let live = format!("cart.{BASE}");
    let preview = format!("preview--cart.{BASE}");

    // v1, promoted at deploy time.
    let (status, body) = p.deploy(&acme, "cart", "promote=true&message=first", v1()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["version"], "v1");
    assert_eq!(body["files"], 4);
    assert_eq!(body["new_blobs"], 4);
    assert_eq!(body["channels"], json!(["live"]));
    let urls: Vec<&str> = body["urls"].as_array().unwrap().iter().map(|u| u.as_str().unwrap()).collect();
    assert_eq!(urls, [format!("http://v1--cart.{BASE}:8080/"), format!("http://cart.{BASE}:8080/")]);
    p.wait_serving(&live, "v1").await;

    let r = p.edge_get(&live, "/").await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["x-switchyard-app"], "cart");
    assert_eq!(h["x-switchyard-version"], "v1");
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["content-length"], "16");
    let sha = switchyard_model::Digest::of(b"<h1>cart v1</h1>");
    assert_eq!(h["etag"], format!("\"{sha}\"").as_str());
    assert_eq!(r.bytes().await.unwrap(), &b"<h1>cart v1</h1>"[..]);
    assert_eq!(body_and_version(p, &live, "/assets/app.js").await, (200, "v1".into(), "console.log('v1')".into()));
    assert_eq!(body_and_version(p, &live, "/docs/").await, (200, "v1".into(), "<p>docs v1</p>".into()));
    assert_eq!(body_and_version(p, &live, "/missing.js").await.0, 404);

    // A matching If-None-Match is a 304 without a body.
    let r = p
        .http
        .get(format!("{}/", p.edge().url()))
        .header("host", &live)
        .header("if-none-match", format!("\"{sha}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"], format!("\"{sha}\"").as_str());
    assert!(r.bytes().await.unwrap().is_empty());

    // v2 to preview: the preview host serves it, live does not move.
    let (status, body) = p.deploy(&acme, "cart", "", v2()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["version"], "v2");
    assert_eq!(body["channels"], json!(["preview"]));
    assert_eq!(body["new_blobs"], 2, "the unchanged logo is not stored again");
    p.wait_serving(&preview, "v2").await;
    assert_eq!(body_and_version(p, &preview, "/").await, (200, "v2".into(), "<h1>cart v2</h1>".into()));
    assert_eq!(body_and_version(p, &live, "/").await, (200, "v1".into(), "<h1>cart v1</h1>".into()));
    assert_eq!(body_and_version(p, &format!("v1--cart.{BASE}"), "/assets/app.js").await.2, "console.log('v1')");
    assert_eq!(body_and_version(p, &format!("v2--cart.{BASE}"), "/assets/app.js").await.2, "console.log('v2')");
    assert_eq!(body_and_version(p, &preview, "/docs/").await.0, 404, "v2 has no docs");

    // Promote v2.
    let (status, body) = p.api("POST", "apps/cart/promote", &acme, Some(json!({ "version": "v2" }))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["from"].as_str(), body["to"].as_str()), (Some("v1"), Some("v2")));
    p.wait_serving(&live, "v2").await;
    assert_eq!(body_and_version(p, &live, "/assets/app.js").await, (200, "v2".into(), "console.log('v2')".into()));

    // Roll back: live serves v1 again.
    let (status, body) = p.api("POST", "apps/cart/rollback", &acme, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["from"].as_str(), body["to"].as_str(), body["kind"].as_str()),
        (Some("v2"), Some("v1"), Some("rollback"))
    );
    p.wait_serving(&live, "v1").await;
    assert_eq!(body_and_version(p, &live, "/").await, (200, "v1".into(), "<h1>cart v1</h1>".into()));

    // Nothing earlier to roll back to.
    let (status, body) = p.api("POST", "apps/cart/rollback", &acme, None).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("no earlier version"), "{body}");

    // Versions and releases tell the story.
    let (status, versions) = p.api("GET", "apps/cart/versions", &acme, None).await;
    assert_eq!(status, 200);
    assert_eq!(versions[0]["version"], "v1");
    assert_eq!(versions[0]["channels"], json!(["live"]));
    assert_eq!(versions[0]["files"], 4);
    assert_eq!(versions[0]["message"], "first");
    assert_eq!(versions[1]["channels"], json!(["preview"]));
    let (_, releases) = p.api("GET", "apps/cart/releases", &acme, None).await;
    let moves: Vec<(String, String, String)> = releases
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["channel"].as_str().unwrap().into(),
                r["to"].as_str().unwrap().into(),
                r["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expect =
        [("live", "v1", "deploy"), ("preview", "v2", "deploy"), ("live", "v2", "promote"), ("live", "v1", "rollback")];
    assert_eq!(moves, expect.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned())));
    assert!(releases.as_array().unwrap().iter().all(|r| r["actor"] == "tenant:acme"));

    // Unknown hosts reveal nothing; unknown versions and channels are 404s with a message.
    let r = p.edge_get("unknown.example.org", "/").await;
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("x-switchyard-app").is_none());
    assert_eq!(r.text().await.unwrap(), "not found\n");
    assert_eq!(p.edge_get(&format!("v9--cart.{BASE}"), "/").await.status(), 404);
    let (status, body) = p.api("POST", "apps/cart/promote", &acme, Some(json!({ "version": "v9" }))).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["message"].as_str().unwrap().contains("v9"), "{body}");
    let (status, body) = p.api("POST", "apps/cart/rollback", &acme, Some(json!({ "channel": "holiday" }))).await;
    assert_eq!(status, 409, "{body}");

    // The same content again: a new version number, no blob stored twice.
    let (status, body) = p.deploy(ADMIN_TOKEN, "cart", "channel=holiday", v1()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["version"], "v3");
    assert_eq!(body["new_blobs"], 0);
    p.wait_serving(&format!("holiday--cart.{BASE}"), "v3").await;
}

#[tokio::test]
async fn names_are_validated() {
    let p = Platform::start().await;
    let acme = p.tenant("acme").await;
    for bad in ["Cart", "a--b", "-x", "x_y", ""] {
        let (status, body) = p.api("POST", "apps", &acme, Some(json!({ "name": bad }))).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid_name");
    }
    p.app(&acme, "cart").await;
    let (status, body) = p.deploy(&acme, "cart", "channel=Bad_Channel", v1()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("channel name"), "{body}");
    let (status, body) = p.deploy(&acme, "cart", "channel=v2", v1()).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = p.api("POST", "apps", &acme, Some(json!({ "nmae": "cart" }))).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_json");
    assert!(body["error"]["message"].as_str().unwrap().contains("nmae"), "{body}");
    let (status, _) = p.api("GET", "apps/cart/versions", "not-a-token", None).await;
    assert_eq!(status, 401);
}
