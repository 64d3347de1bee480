//! Handlers without a socket, through `router(api)` and `oneshot`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use crate::config::{Args, Config};
use switchyard_blob::LocalBlobStore;

const ADMIN: &str = "sya_unit_test_token_0123456789";

fn api(dir: &std::path::Path) -> Router {
    let config = Config::load(Args { data: Some(dir.to_owned()), ..Args::default() }, Some(ADMIN.into())).unwrap();
    std::fs::create_dir_all(dir.join("uploads")).unwrap();
    let mut store = Store::open(&dir.join("meta.db")).unwrap();
    store.set_admin_token(&TokenHash::of(ADMIN)).unwrap();
    let publisher = Publisher::new(&mut store).unwrap();
    let blobs = LocalBlobStore::open(dir).unwrap();
    router(Api::new(store, std::sync::Arc::new(blobs), publisher, config, CancellationToken::new()))
}

async fn call(router: &Router, method: &str, path: &str, token: Option<&str>, body: &str) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path).header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = router.clone().oneshot(req.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn errors_have_a_stable_json_shape() {
    let dir = tempfile::tempdir().unwrap();
    let r = api(dir.path());
    let (s, body) = call(&r, "GET", "/v1/nope", Some(ADMIN), "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({ "error": { "code": "not_found", "message": "no such API route" } }));
    let (s, body) = call(&r, "DELETE", "/v1/tenants", Some(ADMIN), "").await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
    let (s, body) = call(&r, "GET", "/v1/apps", None, "").await;
    assert_eq!((s, body["error"]["message"].as_str()), (StatusCode::UNAUTHORIZED, Some("missing bearer token")));
    let (s, body) = call(&r, "GET", "/v1/apps", Some("wrong"), "").await;
    assert_eq!((s, body["error"]["message"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown or revoked token")));
    let (s, body) = call(&r, "POST", "/v1/tenants", Some(ADMIN), "{not json").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_json");
    let (s, body) = call(&r, "POST", "/v1/apps/cart/rollback", Some(ADMIN), "{\"chanel\": \"live\"}").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("unknown field `chanel`"), "{body}");
    let (s, body) = call(&r, "GET", "/v1/blobs/..%2F..%2Fmeta.db", Some(ADMIN), "").await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_digest")));
    let (s, body) = call(&r, "GET", "/v1/edge/snapshot?after=x", Some(ADMIN), "").await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")));
}

#[tokio::test]
async fn the_operator_must_name_a_tenant_for_new_apps() {
    let dir = tempfile::tempdir().unwrap();
    let r = api(dir.path());
    let (s, body) = call(&r, "POST", "/v1/apps", Some(ADMIN), r#"{"name":"cart"}"#).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    let (s, _) = call(&r, "POST", "/v1/apps", Some(ADMIN), r#"{"name":"cart","tenant":"ghost"}"#).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = call(&r, "POST", "/v1/tenants", Some(ADMIN), r#"{"name":"acme"}"#).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, body) = call(&r, "POST", "/v1/apps", Some(ADMIN), r#"{"name":"cart","tenant":"acme"}"#).await;
    assert_eq!((s, body["tenant"].as_str()), (StatusCode::CREATED, Some("acme")));
    assert_eq!(body["url"], "http://cart.localhost:8080/");
}

#[tokio::test]
async fn the_snapshot_long_poll_answers_when_the_revision_moves() {
    let dir = tempfile::tempdir().unwrap();
    let r = api(dir.path());
    let (s, _) = call(&r, "GET", "/v1/edge/snapshot?after=0&wait=0", Some(ADMIN), "").await;
    assert_eq!(s, StatusCode::NO_CONTENT, "nothing newer than revision 0 yet");
    let waiting = tokio::spawn({
        let r = r.clone();
        async move { call(&r, "GET", "/v1/edge/snapshot?after=0&wait=30", Some(ADMIN), "").await }
    });
    call(&r, "POST", "/v1/tenants", Some(ADMIN), r#"{"name":"acme"}"#).await;
    call(&r, "POST", "/v1/apps", Some(ADMIN), r#"{"name":"cart","tenant":"acme"}"#).await;
    let archive = switchyard_testkit::archive::tar_gz(&[switchyard_testkit::archive::file("index.html", "x")]);
    let req = Request::post("/v1/apps/cart/versions?promote=true").header("authorization", format!("Bearer {ADMIN}"));
    let res = r.clone().oneshot(req.body(Body::from(archive)).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let (s, snapshot) = tokio::time::timeout(Duration::from_secs(10), waiting).await.unwrap().unwrap();
    assert_eq!(s, StatusCode::OK);
    assert_eq!(snapshot["revision"], 1);
    assert_eq!(snapshot["apps"]["cart"]["channels"]["live"], 1);
}
