//! Share-link and visibility handlers without a socket: validation, tenant isolation, what
//! bumps the revision, and that no answer carries a token twice or the signing key ever.

use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http_body_util::BodyExt;
use ring::signature::{ED25519, UnparsedPublicKey};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::super::*;
use super::unix_now;
use crate::auth::TokenHash;
use crate::config::{Args, Config};
use crate::previews::SigningKey;
use switchyard_blob::LocalBlobStore;
use switchyard_model::share;

const ADMIN: &str = "sya_unit_test_token_0123456789";

struct Fixture {
    _dir: tempfile::TempDir,
    router: Router,
    acme: String,
    bolt: String,
    key_file: Vec<u8>,
    /// Every response body, to search for secrets.
    seen: std::sync::Mutex<Vec<u8>>,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let config = Config::load(Args { data: Some(d.to_owned()), ..Args::default() }, Some(ADMIN.into())).unwrap();
        std::fs::create_dir_all(d.join("uploads")).unwrap();
        let mut store = Store::open(&d.join("meta.db")).unwrap();
        store.set_admin_token(&TokenHash::of(ADMIN)).unwrap();
        let key = SigningKey::load_or_create(d).unwrap();
        store.set_preview_access(Some(key.public_key().to_owned())).unwrap();
        let publisher = Publisher::new(&mut store).unwrap();
        let blobs = LocalBlobStore::open(d).unwrap();
        let api = Api::new(store, std::sync::Arc::new(blobs), publisher, config, CancellationToken::new())
            .with_signing_key(key);
        let key_file = std::fs::read(SigningKey::path(d)).unwrap();
        let mut f = Fixture {
            _dir: dir,
            router: router(api),
            acme: String::new(),
            bolt: String::new(),
            key_file,
            seen: Default::default(),
        };
        f.acme = f.call("POST", "/v1/tenants", ADMIN, r#"{"name":"acme"}"#).await.1["token"].as_str().unwrap().into();
        f.bolt = f.call("POST", "/v1/tenants", ADMIN, r#"{"name":"bolt"}"#).await.1["token"].as_str().unwrap().into();
        let acme = f.acme.clone();
        assert_eq!(f.call("POST", "/v1/apps", &acme, r#"{"name":"cart"}"#).await.0, StatusCode::CREATED);
        let archive = switchyard_testkit::archive::tar_gz(&[switchyard_testkit::archive::file("index.html", "x")]);
        let req =
            Request::post("/v1/apps/cart/versions?channel=preview").header("authorization", format!("Bearer {acme}"));
        let res = f.router.clone().oneshot(req.body(Body::from(archive)).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        f
    }

    async fn call(&self, method: &str, path: &str, token: &str, body: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"));
        let res = self.router.clone().oneshot(req.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        self.seen.lock().unwrap().extend_from_slice(&bytes);
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn snapshot(&self) -> Value {
        self.call("GET", "/v1/edge/snapshot?after=0&wait=0", ADMIN, "").await.1
    }

    async fn revision(&self) -> u64 {
        self.call("GET", "/v1/health", ADMIN, "").await.1["revision"].as_u64().unwrap()
    }
}

#[tokio::test]
async fn bad_share_requests_are_refused_by_name_and_store_nothing() {
    let f = Fixture::new().await;
    let before = f.revision().await;
    let cases = [
        (r#"{"channel":"preview","expires_in":0}"#, StatusCode::BAD_REQUEST, "invalid_expiry"),
        (r#"{"channel":"preview","expires_in":2592001}"#, StatusCode::BAD_REQUEST, "invalid_expiry"),
        (r#"{"channel":"preview","expires_in":-5}"#, StatusCode::UNPROCESSABLE_ENTITY, "invalid_json"),
        (r#"{"channel":"preview"}"#, StatusCode::UNPROCESSABLE_ENTITY, "invalid_json"),
        (r#"{"channel":"live","expires_in":60}"#, StatusCode::UNPROCESSABLE_ENTITY, "live_is_public"),
        (r#"{"channel":"nope","expires_in":60}"#, StatusCode::NOT_FOUND, "not_found"),
        (r#"{"channel":"Bad_Name","expires_in":60}"#, StatusCode::BAD_REQUEST, "invalid_name"),
        (r#"{"version":"v9","expires_in":60}"#, StatusCode::NOT_FOUND, "not_found"),
        (r#"{"version":"latest","expires_in":60}"#, StatusCode::BAD_REQUEST, "invalid_version"),
        (r#"{"channel":"preview","version":"v1","expires_in":60}"#, StatusCode::BAD_REQUEST, "invalid_scope"),
        (r#"{"expires_in":60}"#, StatusCode::BAD_REQUEST, "invalid_scope"),
        (r#"{"channel":"preview","expires_in":60,"token":"x"}"#, StatusCode::UNPROCESSABLE_ENTITY, "invalid_json"),
    ];
    for (body, status, code) in cases {
        let (s, answer) = f.call("POST", "/v1/apps/cart/shares", &f.acme, body).await;
        assert_eq!((s, answer["error"]["code"].as_str()), (status, Some(code)), "{body}: {answer}");
    }
    let (_, answer) = f.call("POST", "/v1/apps/cart/shares", &f.acme, r#"{"channel":"nope","expires_in":60}"#).await;
    assert_eq!(answer["error"]["message"], "app \"cart\" has no channel \"nope\"");
    let (_, answer) = f.call("POST", "/v1/apps/cart/shares", &f.acme, r#"{"channel":"preview","expires_in":0}"#).await;
    assert!(answer["error"]["message"].as_str().unwrap().contains("1 second to 30 days"), "{answer}");

    // Another tenant's app is exactly like one that does not exist, on every route.
    let ok = r#"{"channel":"preview","expires_in":60}"#;
    let (s, theirs) = f.call("POST", "/v1/apps/cart/shares", &f.bolt, ok).await;
    let (s2, none) = f.call("POST", "/v1/apps/ghost/shares", &f.bolt, ok).await;
    assert_eq!((s, s2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(theirs["error"]["message"], none["error"]["message"].as_str().unwrap().replace("ghost", "cart"));
    assert_eq!(f.call("GET", "/v1/apps/cart/shares", &f.bolt, "").await.0, StatusCode::NOT_FOUND);
    let id = "0123456789abcdef0123456789abcdef";
    assert_eq!(f.call("DELETE", &format!("/v1/apps/cart/shares/{id}"), &f.bolt, "").await.0, StatusCode::NOT_FOUND);
    let vis = "/v1/apps/cart/channels/preview/visibility";
    assert_eq!(f.call("PUT", vis, &f.bolt, r#"{"public":true}"#).await.0, StatusCode::NOT_FOUND);

    let (s, answer) = f.call("DELETE", "/v1/apps/cart/shares/..%2F..%2Fmeta.db", &f.acme, "").await;
    assert_eq!((s, answer["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_id")));
    let (s, _) = f.call("DELETE", &format!("/v1/apps/cart/shares/{id}"), &f.acme, "").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "an unknown id");
    let (s, answer) = f.call("PUT", "/v1/apps/cart/channels/live/visibility", &f.acme, r#"{"public":false}"#).await;
    assert_eq!((s, answer["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("live_is_public")));
    let (s, _) = f.call("PUT", "/v1/apps/cart/channels/nope/visibility", &f.acme, r#"{"public":true}"#).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = f.call("PUT", vis, &f.acme, r#"{"public":"yes"}"#).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(f.revision().await, before, "no refused request moved the revision");
    let (_, listed) = f.call("GET", "/v1/apps/cart/shares", &f.acme, "").await;
    assert_eq!(listed, json!({ "app": "cart", "public": [], "shares": [] }));
}

#[tokio::test]
async fn a_link_verifies_with_the_published_key_and_revoking_it_reaches_the_snapshot() {
    let f = Fixture::new().await;
    let before = f.revision().await;
    let snapshot = f.snapshot().await;
    let key = snapshot["previews"]["key"].as_str().unwrap().to_owned();
    assert!(snapshot["previews"].get("revoked").is_none());

    let (s, created) =
        f.call("POST", "/v1/apps/cart/shares", &f.acme, r#"{"channel":"preview","expires_in":259200}"#).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let url = created["url"].as_str().unwrap();
    let token = url.strip_prefix("http://preview--cart.localhost:8080/?sy_share=").expect(url);
    let parsed = share::parse(token).unwrap();
    let public = URL_SAFE_NO_PAD.decode(&key).unwrap();
    UnparsedPublicKey::new(&ED25519, &public).verify(&parsed.payload, &parsed.signature).unwrap();
    assert_eq!((parsed.claims.app.as_str(), parsed.claims.scope.as_str()), ("cart", "preview"));
    assert_eq!(parsed.claims.id, created["id"].as_str().unwrap());
    let left = parsed.claims.exp - unix_now();
    assert!((259_190..=259_200).contains(&left), "{left}");
    assert_eq!(f.revision().await, before, "making a link changes nothing edges see");

    let (s, v) = f.call("POST", "/v1/apps/cart/shares", &f.acme, r#"{"version":"v1","expires_in":60}"#).await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(v["url"].as_str().unwrap().starts_with("http://v1--cart.localhost:8080/?sy_share="), "{v}");

    let (_, listed) = f.call("GET", "/v1/apps/cart/shares", &f.acme, "").await;
    assert_eq!(listed["shares"].as_array().unwrap().len(), 2);
    assert!(listed["shares"].as_array().unwrap().iter().all(|s| s["state"] == "active" && s.get("url").is_none()));
    assert!(!listed.to_string().contains(token), "a listing never carries a token");

    let id = created["id"].as_str().unwrap();
    let (s, revoked) = f.call("DELETE", &format!("/v1/apps/cart/shares/{id}"), &f.acme, "").await;
    assert_eq!((s, revoked["state"].as_str()), (StatusCode::OK, Some("revoked")), "{revoked}");
    assert_eq!(f.revision().await, before + 1, "revoking bumps the revision once");
    assert_eq!(f.snapshot().await["previews"]["revoked"], json!([id]));
    let (s, _) = f.call("DELETE", &format!("/v1/apps/cart/shares/{id}"), &f.acme, "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(f.revision().await, before + 1, "revoking again changes nothing");

    let vis = "/v1/apps/cart/channels/preview/visibility";
    let (s, answer) = f.call("PUT", vis, &f.acme, r#"{"public":true}"#).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(answer["url"], "http://preview--cart.localhost:8080/");
    assert_eq!(f.revision().await, before + 2);
    assert_eq!(f.snapshot().await["apps"]["cart"]["public"], json!(["preview"]));
    f.call("PUT", vis, &f.acme, r#"{"public":true}"#).await;
    assert_eq!(f.revision().await, before + 2, "already public: nothing to publish");
    assert_eq!(f.call("GET", "/v1/apps/cart/shares", &f.acme, "").await.1["public"], json!(["preview"]));
    f.call("PUT", vis, &f.acme, r#"{"public":false}"#).await;
    assert_eq!(f.revision().await, before + 3);
    assert!(f.snapshot().await["apps"]["cart"].get("public").is_none());

    // The signing key is in no answer, in any encoding.
    let seen = f.seen.lock().unwrap().clone();
    let seen = String::from_utf8_lossy(&seen);
    let private_seed = &f.key_file[16..48];
    for secret in [
        STANDARD.encode(&f.key_file),
        URL_SAFE_NO_PAD.encode(&f.key_file),
        URL_SAFE_NO_PAD.encode(private_seed),
        STANDARD.encode(private_seed),
        hex::encode(private_seed),
    ] {
        assert!(!seen.contains(&secret), "an answer carried the signing key");
    }
}
