//! A tenant's token reaches only that tenant's apps; another tenant's app answers 404 exactly
//! like one that does not exist. Edge tokens reach only snapshots and blobs.

use serde_json::json;
use switchyard_testkit::archive::{file, tar_gz};
use switchyard_testkit::{ADMIN_TOKEN, BASE, Platform};

#[tokio::test]
async fn tenants_cannot_see_or_touch_each_others_apps() {
    let p = Platform::start().await;
    let a = p.tenant("acme").await;
    let b = p.tenant("bolt").await;
    p.app(&a, "cart").await;
    let (status, _) = p.deploy(&a, "cart", "promote=true", tar_gz(&[file("index.html", "acme")])).await;
    assert_eq!(status, 201);
    p.wait_serving(&format!("cart.{BASE}"), "v1").await;

    // B's list is empty; A's has cart.
    let (status, list) = p.api("GET", "apps", &b, None).await;
    assert_eq!((status, list), (200, json!([])));
    let (_, list) = p.api("GET", "apps", &a, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "cart");

    let not_found = |status: u16, body: &serde_json::Value| {
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["message"], "app \"cart\" not found");
    };
    let (s, body) = p.api("GET", "apps/cart", &b, None).await;
    not_found(s, &body);
    let (s, body) = p.api("GET", "apps/cart/versions", &b, None).await;
    not_found(s, &body);
    let (s, body) = p.api("GET", "apps/cart/releases", &b, None).await;
    not_found(s, &body);
    let (s, body) = p.api("POST", "apps/cart/promote", &b, Some(json!({ "version": "v1" }))).await;
    not_found(s, &body);
    let (s, body) = p.api("POST", "apps/cart/rollback", &b, None).await;
    not_found(s, &body);
    let (s, body) = p.deploy(&b, "cart", "promote=true", tar_gz(&[file("index.html", "evil")])).await;
    not_found(s, &body);
    // Same answer as an app that does not exist at all.
    let (s, body) = p.api("GET", "apps/nosuch", &b, None).await;
    assert_eq!((s, body["error"]["message"].as_str()), (404, Some("app \"nosuch\" not found")));

    // App names are global host names: B cannot take "cart" either.
    let (s, body) = p.api("POST", "apps", &b, Some(json!({ "name": "cart" }))).await;
    assert_eq!(s, 409, "{body}");
    // A tenant cannot create an app in another tenant.
    let (s, _) = p.api("POST", "apps", &b, Some(json!({ "name": "sneaky", "tenant": "acme" }))).await;
    assert_eq!(s, 404);

    // Nothing B tried changed A's app.
    let (_, versions) = p.api("GET", "apps/cart/versions", &a, None).await;
    assert_eq!(versions.as_array().unwrap().len(), 1);
    let r = p.edge_get(&format!("cart.{BASE}"), "/").await;
    assert_eq!(r.text().await.unwrap(), "acme");

    // Tenants cannot act as the operator; edges cannot use the merchant API.
    let (s, body) = p.api("POST", "tenants", &a, Some(json!({ "name": "x" }))).await;
    assert_eq!((s, body["error"]["code"].as_str()), (403, Some("forbidden")));
    let (s, _) = p.api("POST", "edge-tokens", &a, None).await;
    assert_eq!(s, 403);
    let (s, _) = p.api("GET", "edge/snapshot?wait=0", &a, None).await;
    assert_eq!(s, 403, "a tenant cannot read the snapshot of every app");
    let (s, _) = p.api("GET", "apps", &p.edge_token, None).await;
    assert_eq!(s, 403);
    let (s, body) = p.api("GET", "edge/snapshot?wait=0", &p.edge_token, None).await;
    assert_eq!(s, 200);
    assert!(body["apps"]["cart"]["versions"]["1"]["manifest"].is_string(), "{body}");

    // The operator sees everything.
    let (_, list) = p.api("GET", "apps", ADMIN_TOKEN, None).await;
    assert_eq!(list[0]["tenant"], "acme");
    // And nobody gets in without a token.
    let (s, body) = p.api("GET", "apps", "", None).await;
    assert_eq!((s, body["error"]["code"].as_str()), (401, Some("unauthorized")));
}

#[tokio::test]
async fn tokens_are_stored_hashed_and_never_logged() {
    let p = Platform::start().await;
    let token = p.tenant("acme").await;
    assert!(token.starts_with("syt_") && token.len() == 68, "{token}");
    let db = std::fs::read(p.control().data.join("meta.db")).unwrap();
    let wal = std::fs::read(p.control().data.join("meta.db-wal")).unwrap_or_default();
    let contains = |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!contains(&db, &token) && !contains(&wal, &token), "the plaintext token is not in the database");
    assert!(!contains(&db, ADMIN_TOKEN) && !contains(&wal, ADMIN_TOKEN));
    let logs = p.control().logs();
    assert!(logs.contains("tenant created"), "the log is being written: {logs}");
    assert!(!logs.contains(&token) && !logs.contains(ADMIN_TOKEN) && !logs.contains(&p.edge_token));
    let (_, tenants) = p.api("GET", "tenants", ADMIN_TOKEN, None).await;
    assert_eq!(tenants, json!([{ "name": "acme", "created_at": tenants[0]["created_at"] }]), "no token in listings");
}
