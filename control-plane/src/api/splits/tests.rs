//! The split API through the router, without a socket: every refusal is a 422 naming the
//! problem and leaves the split in force (and the revision) as they were.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::super::*;
use crate::config::{Args, Config};
use switchyard_blob::LocalBlobStore;

const ADMIN: &str = "sya_unit_test_token_0123456789";

fn api(dir: &std::path::Path) -> Router {
    let config = Config::load(Args { data: Some(dir.to_owned()), ..Args::default() }, Some(ADMIN.into())).unwrap();
    let mut store = Store::open(&dir.join("meta.db")).unwrap();
    store.set_admin_token(&TokenHash::of(ADMIN)).unwrap();
    store.create_tenant("acme", &TokenHash::of("sy_tenant_token")).unwrap();
    let tenant = store.tenant_id("acme").unwrap();
    let app = store.create_app(tenant, "cart").unwrap();
    for channels in [vec!["live".to_owned()], vec![], vec![]] {
        let nv = crate::store::NewVersion {
            manifest: Digest::of(b"m"),
            files: 1,
            bytes: 1,
            message: None,
            actor: "t",
            channels: &channels,
        };
        store.create_version(&app, nv).unwrap();
    }
    let publisher = Publisher::new(&mut store).unwrap();
    let blobs = LocalBlobStore::open(dir).unwrap();
    router(Api::new(store, std::sync::Arc::new(blobs), publisher, config, CancellationToken::new()))
}

async fn call(router: &Router, method: &str, path: &str, body: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {ADMIN}"));
    let res = router.clone().oneshot(req.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn weights(pairs: &[(&str, i64)]) -> String {
    let w: Vec<Value> = pairs.iter().map(|(v, w)| json!({ "version": v, "weight": w })).collect();
    json!({ "weights": w }).to_string()
}

#[tokio::test]
async fn bad_splits_are_422_naming_the_problem_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = api(dir.path());
    let (s, body) = call(&r, "PUT", "/v1/apps/cart/split", &weights(&[("v1", 90), ("v2", 10)])).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["weights"], json!([{ "version": "v1", "weight": 90 }, { "version": "v2", "weight": 10 }]));
    let revision = body["revision"].as_u64().unwrap();
    let (_, health) = call(&r, "GET", "/v1/health", "").await;
    assert_eq!(health["revision"].as_u64(), Some(revision));

    let cases: &[(&str, &str)] = &[
        (&weights(&[("v1", 90), ("v2", 9)]), "weights sum to 99"),
        (&weights(&[("v1", 90), ("v2", 11)]), "weights sum to 101"),
        (&weights(&[("v1", 100)]), "got 1"),
        (&weights(&[("v1", 20), ("v2", 20), ("v3", 20), ("v4", 20), ("v5", 20)]), "got 5"),
        (&weights(&[("v1", 0), ("v2", 100)]), "weight 0 of v1"),
        (&weights(&[("v1", 100), ("v2", 0)]), "weight 100 of v1"),
        (&weights(&[("v2", 50), ("v2", 50)]), "v2 is listed twice"),
        (&weights(&[("v1", 50), ("v9", 50)]), "version v9 does not exist"),
        (&weights(&[("../v1", 50), ("v2", 50)]), "version \"../v1\""),
        (r#"{"weights": [{"version": "v1", "weight": 50.5}, {"version": "v2", "weight": 49.5}]}"#, "weight"),
        (r#"{"weights": [{"version": "v1", "weight": "90"}, {"version": "v2", "weight": 10}]}"#, "weight"),
        (r#"{"weights": {"v1": 90, "v2": 10}}"#, "weights"),
        (r#"{"weights": [], "extra": 1}"#, "unknown field `extra`"),
    ];
    for (body, expected) in cases {
        let (s, answer) = call(&r, "PUT", "/v1/apps/cart/split", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message:?} should contain {expected:?}");
    }
    let (s, _) = call(&r, "PUT", "/v1/apps/nope/split", &weights(&[("v1", 90), ("v2", 10)])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (_, health) = call(&r, "GET", "/v1/health", "").await;
    assert_eq!(health["revision"].as_u64(), Some(revision), "no refused split moved the revision");
    let (s, state) = call(&r, "GET", "/v1/apps/cart/split", "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        state["split"]["weights"],
        json!([{ "version": "v1", "weight": 90 }, { "version": "v2", "weight": 10 }])
    );
    assert_eq!(state["history"].as_array().unwrap().len(), 1);
    let (_, app) = call(&r, "GET", "/v1/apps/cart", "").await;
    assert_eq!(app["split"]["weights"][0]["weight"], 90, "{app}");

    // Promoting live ends it, and the answer says so.
    let (s, release) = call(&r, "POST", "/v1/apps/cart/promote", r#"{"version": "v3"}"#).await;
    assert_eq!(s, StatusCode::OK, "{release}");
    assert_eq!(release["ended_split"], json!([{ "version": "v1", "weight": 90 }, { "version": "v2", "weight": 10 }]));
    let (_, app) = call(&r, "GET", "/v1/apps/cart", "").await;
    assert_eq!(app["split"], Value::Null, "{app}");
}
