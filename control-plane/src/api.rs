//! The HTTP API under `/v1/`: JSON, bearer tokens, errors as `{"error": {"code", "message"}}`.
//!
//! | method | path                          | who             | what                                  |
//! |--------|-------------------------------|-----------------|---------------------------------------|
//! | GET    | /v1/health                    | anyone          | liveness and current revision         |
//! | POST   | /v1/tenants                   | operator        | create a tenant, returns its token    |
//! | GET    | /v1/tenants                   | operator        | list tenants                          |
//! | POST   | /v1/edge-tokens               | operator        | create an edge token                  |
//! | GET    | /v1/apps                      | tenant/operator | list apps (a tenant sees its own)     |
//! | POST   | /v1/apps                      | tenant/operator | create an app                         |
//! | GET    | /v1/apps/{app}                | tenant/operator | one app and its channels              |
//! | GET    | /v1/apps/{app}/versions       | tenant/operator | list versions                         |
//! | POST   | /v1/apps/{app}/versions       | tenant/operator | deploy: body is a .tar.gz or .zip     |
//! | POST   | /v1/apps/{app}/promote        | tenant/operator | point a channel at a version          |
//! | POST   | /v1/apps/{app}/rollback       | tenant/operator | point a channel back                  |
//! | GET    | /v1/apps/{app}/releases       | tenant/operator | pointer moves                         |
//! | PUT/GET | /v1/apps/{app}/split         | tenant/operator | live traffic split (`api/splits`)     |
//! | POST   | /v1/apps/{app}/deploys…       | tenant/operator | content-addressed deploy (`uploads`)  |
//! | GET    | /v1/apps/{app}/versions/{v}/files | tenant/operator | a version's files (for diff)      |
//! | GET    | /v1/edge/snapshot?after=N     | edge/operator   | long-poll for a revision above N      |
//! | GET    | /v1/blobs/{sha256}            | edge/operator   | one blob's bytes                      |
//! | POST   | /v1/edge/heartbeat            | edge/operator   | an edge reports what it serves        |
//! | GET    | /v1/edges                     | operator        | the fleet: revision, lag, state       |
//! | GET    | /v1/edges/wait?revision=N     | tenant/operator | long-poll until healthy edges reach N |
//! | *      | /v1/domains, /v1/certs, …     |                 | custom domains and TLS: `api/domains` |
//! | *      | /v1/apps/{app}/shares…, …/channels/{c}/visibility | tenant/operator | share links, public channels: `api/previews` |
//! | POST   | /v1/edge/stats                | edge/operator   | an edge reports per-version counts    |
//! | GET    | /v1/apps/{app}/stats?since=S  | tenant/operator | per-version figures (`api/stats`)     |
//! | GET    | /metrics                      | anyone          | Prometheus text: revision, deploys, … |
//!
//! Architecture Invariant: another tenant's app answers 404, exactly like an app that does not
//! exist, for every route.

mod deploy;
mod domains;
mod edges;
mod error;
mod extract;
mod files;
mod previews;
mod splits;
mod stats;
mod uploads;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_blob::SharedBlobStore;
use switchyard_model::hosts::{Selector, platform_host};
use switchyard_model::{Digest, LIVE, Name, parse_version_label, version_label};
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
use extract::{Auth, JsonBody, QueryArgs};

use crate::Config;
use crate::auth::{self, Principal, TokenHash, TokenKind};
use crate::fleet::Fleet;
use crate::publish::Publisher;
use crate::store::{App, Store, StoreError};
use switchyard_model::api::Release;

/// Shared state of every handler.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

struct Inner {
    store: Mutex<Store>,
    blobs: SharedBlobStore,
    publisher: Publisher,
    config: Config,
    shutdown: CancellationToken,
    fleet: Fleet,
    /// Signs share links (`api/previews`); `None` only in handler tests that do not use them.
    signing_key: Option<crate::previews::SigningKey>,
}

impl Api {
    pub fn new(
        store: Store,
        blobs: SharedBlobStore,
        publisher: Publisher,
        config: Config,
        shutdown: CancellationToken,
    ) -> Api {
        let fleet = Fleet::default();
        let inner = Inner { store: Mutex::new(store), blobs, publisher, config, shutdown, fleet, signing_key: None };
        Api { inner: Arc::new(inner) }
    }

    /// The key share links are signed with. Call right after [`Api::new`].
    pub fn with_signing_key(self, key: crate::previews::SigningKey) -> Api {
        let mut inner = Arc::into_inner(self.inner).expect("with_signing_key is called before the Api is shared");
        inner.signing_key = Some(key);
        Api { inner: Arc::new(inner) }
    }

    /// Runs `f` on the store on a blocking thread. If `f` changed what edges see, the new
    /// snapshot is published before the lock is released.
    async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = inner.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let before = store.revision()?;
            let out = f(&mut store)?;
            if store.revision()? != before {
                inner.publisher.publish(&mut store)?;
                inner.fleet.published(inner.publisher.current().revision);
            }
            Ok::<T, StoreError>(out)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
    }

    /// Looks up `app` as `who` may see it.
    async fn app(&self, who: &Principal, app: &str) -> Result<App, ApiError> {
        let name = Name::new(app).map_err(|e| ApiError::bad_request("invalid_name", format!("app name: {e}")))?;
        let who = who.clone();
        self.db(move |s| s.find_app(&who, name.as_str())).await
    }

    /// The URL shoppers open for `app` and `selector`.
    fn url(&self, app: &str, selector: &Selector) -> String {
        let host = platform_host(app, selector, &self.inner.config.base_domain);
        format!("{}/", self.inner.config.edge_url.replace("{host}", &host))
    }
}

/// The API's router.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/tenants", post(create_tenant).get(list_tenants))
        .route("/v1/edge-tokens", post(create_edge_token))
        .route("/v1/apps", get(list_apps).post(create_app))
        .route("/v1/apps/{app}", get(get_app))
        .route(
            "/v1/apps/{app}/versions",
            // The deploy handler counts the upload itself (see `deploy::receive`).
            get(list_versions).post(deploy::deploy).layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/apps/{app}/versions/{version}/files", get(files::version_files))
        .route("/v1/apps/{app}/deploys", post(uploads::open).layer(DefaultBodyLimit::max(64 * 1024 * 1024)))
        .route(
            "/v1/apps/{app}/deploys/{id}/blobs/{digest}",
            // The upload handler counts the body against the listed size itself.
            axum::routing::put(uploads::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/apps/{app}/deploys/{id}/finalize", post(uploads::finalize))
        .route("/v1/apps/{app}/promote", post(promote))
        .route("/v1/apps/{app}/rollback", post(rollback))
        .route("/v1/apps/{app}/releases", get(list_releases))
        .route("/v1/apps/{app}/split", axum::routing::put(splits::set_split).get(splits::get_split))
        .route("/v1/edge/snapshot", get(snapshot))
        .route("/v1/blobs/{digest}", get(blob))
        .route("/v1/edge/heartbeat", post(edges::heartbeat))
        .route("/v1/edges", get(edges::list))
        .route("/v1/edges/wait", get(edges::wait))
        .route("/v1/domains", get(domains::list_domains).post(domains::add_domain))
        .route("/v1/domains/{name}", delete(domains::remove_domain))
        .route("/v1/certs", get(domains::list_certs).post(domains::add_cert))
        .route("/v1/certs/{domain}", delete(domains::remove_cert))
        .route("/v1/edge/certs/{id}", get(domains::edge_cert))
        .merge(previews::routes())
        .route("/v1/edge/stats", post(stats::report).layer(DefaultBodyLimit::max(64 * 1024 * 1024)))
        .route("/v1/apps/{app}/stats", get(stats::app_stats))
        .route("/metrics", get(stats::metrics))
        .fallback(|| async { ApiError::not_found("no such API route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this route")
        })
        .layer(axum::middleware::from_fn(trace_request))
        .with_state(api)
}

/// One span per API request; client errors are `debug`, server errors `warn`.
async fn trace_request(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use tracing::Instrument;
    let span =
        tracing::debug_span!("api", method = %req.method(), path = %req.uri().path(), actor = tracing::field::Empty);
    let started = std::time::Instant::now();
    let response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let _enter = span.enter();
    if response.status().is_server_error() {
        tracing::warn!(status, elapsed_ms = started.elapsed().as_millis() as u64, "request failed");
    } else {
        tracing::debug!(status, elapsed_ms = started.elapsed().as_millis() as u64, "request");
    }
    response
}

async fn health(State(api): State<Api>) -> Response {
    let revision = api.inner.publisher.current().revision;
    axum::Json(json!({ "status": "ok", "revision": revision })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTenant {
    name: String,
}

async fn create_tenant(
    State(api): State<Api>,
    auth: Auth,
    JsonBody(req): JsonBody<CreateTenant>,
) -> Result<Response, ApiError> {
    auth.admin()?;
    let name = Name::new(&req.name).map_err(|e| ApiError::bad_request("invalid_name", format!("tenant name: {e}")))?;
    let token = auth::generate(TokenKind::Tenant);
    let hash = TokenHash::of(&token);
    let tenant = api.db(move |s| s.create_tenant(name.as_str(), &hash)).await?;
    tracing::info!(tenant = %tenant.name, "tenant created");
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "tenant": tenant.name, "token": token, "created_at": tenant.created_at })),
    )
        .into_response())
}

async fn list_tenants(State(api): State<Api>, auth: Auth) -> Result<Response, ApiError> {
    auth.admin()?;
    let tenants = api.db(|s| s.list_tenants()).await?;
    Ok(axum::Json(tenants).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateEdgeToken {
    #[serde(default)]
    label: Option<String>,
}

async fn create_edge_token(State(api): State<Api>, auth: Auth, body: axum::body::Bytes) -> Result<Response, ApiError> {
    auth.admin()?;
    let req: CreateEdgeToken = extract::optional_json(&body)?;
    let label = req.label.unwrap_or_else(|| "edge".to_owned());
    if label.len() > 100 || label.chars().any(char::is_control) {
        return Err(ApiError::bad_request("invalid_label", "label: at most 100 characters, no control characters"));
    }
    let token = auth::generate(TokenKind::Edge);
    let hash = TokenHash::of(&token);
    api.db(move |s| s.create_edge_token(&hash, &label)).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "token": token }))).into_response())
}

fn app_json(api: &Api, app: &App, channels: &std::collections::BTreeMap<String, u64>) -> Value {
    let channels: serde_json::Map<String, Value> =
        channels.iter().map(|(c, v)| (c.clone(), Value::from(version_label(*v)))).collect();
    json!({
        "name": app.name,
        "tenant": app.tenant,
        "created_at": app.created_at,
        "channels": channels,
        "url": api.url(&app.name, &Selector::Channel(LIVE.to_owned())),
        // What the CLI builds other URLs from (`switchyard open --channel`).
        "edge_url": api.inner.config.edge_url,
        "base_domain": api.inner.config.base_domain,
    })
}

async fn list_apps(State(api): State<Api>, auth: Auth) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let apps = api.db(move |s| s.list_apps(&who)).await?;
    let body: Vec<Value> = apps.iter().map(|(app, channels)| app_json(&api, app, channels)).collect();
    Ok(axum::Json(body).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateApp {
    name: String,
    /// Required for the operator; a tenant creates apps in its own tenant.
    #[serde(default)]
    tenant: Option<String>,
}

async fn create_app(
    State(api): State<Api>,
    auth: Auth,
    JsonBody(req): JsonBody<CreateApp>,
) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let name = Name::new(&req.name).map_err(|e| ApiError::bad_request("invalid_name", format!("app name: {e}")))?;
    let app = api
        .db(move |s| {
            let tenant_id = match (&who, &req.tenant) {
                (Principal::Tenant { id, name }, Some(t)) if t != name => {
                    return Err(StoreError::NotFound(format!("tenant {t:?} not found")));
                }
                (Principal::Tenant { id, .. }, _) => *id,
                (_, Some(t)) => s.tenant_id(t)?,
                (_, None) => {
                    return Err(StoreError::Conflict("the operator must name the tenant that owns the app".into()));
                }
            };
            s.create_app(tenant_id, name.as_str())
        })
        .await?;
    tracing::info!(app = %app.name, tenant = %app.tenant, "app created");
    Ok((StatusCode::CREATED, axum::Json(app_json(&api, &app, &Default::default()))).into_response())
}

async fn get_app(State(api): State<Api>, auth: Auth, Path(app): Path<String>) -> Result<Response, ApiError> {
    let app = api.app(auth.merchant()?, &app).await?;
    let id = app.id;
    let (channels, split) = api.db(move |s| Ok((s.channels(id)?, s.current_split(id)?))).await?;
    let mut body = app_json(&api, &app, &channels);
    body["split"] = json!(split);
    Ok(axum::Json(body).into_response())
}

async fn list_versions(State(api): State<Api>, auth: Auth, Path(app): Path<String>) -> Result<Response, ApiError> {
    let app = api.app(auth.merchant()?, &app).await?;
    let versions = api.db(move |s| s.list_versions(&app)).await?;
    Ok(axum::Json(versions).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Promote {
    version: String,
    #[serde(default)]
    channel: Option<String>,
}

async fn promote(
    State(api): State<Api>,
    auth: Auth,
    Path(app): Path<String>,
    JsonBody(req): JsonBody<Promote>,
) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let app = api.app(&who, &app).await?;
    let channel = channel_name(req.channel.as_deref())?;
    let version = parse_version_label(&req.version).ok_or_else(|| {
        ApiError::bad_request("invalid_version", format!("version {:?}: expected v<N>, like v3", req.version))
    })?;
    let (app_name, actor) = (app.name.clone(), who.actor());
    let release = api.db(move |s| s.promote(&app, channel.as_str(), version, &actor)).await?;
    tracing::info!(app = %app_name, channel = %release.channel, to = %release.to, revision = release.revision, "promoted");
    Ok(axum::Json(release_json(&api, &app_name, release)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Rollback {
    #[serde(default)]
    channel: Option<String>,
}

async fn rollback(
    State(api): State<Api>,
    auth: Auth,
    Path(app): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let req: Rollback = extract::optional_json(&body)?;
    let app = api.app(&who, &app).await?;
    let channel = channel_name(req.channel.as_deref())?;
    let (app_name, actor) = (app.name.clone(), who.actor());
    let release = api.db(move |s| s.rollback(&app, channel.as_str(), &actor)).await?;
    tracing::info!(app = %app_name, channel = %release.channel, to = %release.to, revision = release.revision, "rolled back");
    Ok(axum::Json(release_json(&api, &app_name, release)).into_response())
}

fn channel_name(channel: Option<&str>) -> Result<Name, ApiError> {
    Name::channel(channel.unwrap_or(LIVE))
        .map_err(|e| ApiError::bad_request("invalid_name", format!("channel name: {e}")))
}

/// A release as a promote or rollback answers it: with the app and the channel's URL.
fn release_json(api: &Api, app: &str, r: Release) -> Release {
    let url = api.url(app, &Selector::Channel(r.channel.clone()));
    Release { app: Some(app.to_owned()), url: Some(url), ..r }
}

async fn list_releases(State(api): State<Api>, auth: Auth, Path(app): Path<String>) -> Result<Response, ApiError> {
    let app = api.app(auth.merchant()?, &app).await?;
    let releases = api.db(move |s| s.list_releases(&app)).await?;
    Ok(axum::Json(releases).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotQuery {
    #[serde(default)]
    after: u64,
    /// Seconds to wait for a newer revision (at most 60).
    #[serde(default = "default_wait")]
    wait: u64,
}

fn default_wait() -> u64 {
    25
}

/// Long-poll: answers at once with the snapshot if its revision is above `after`, otherwise as
/// soon as it moves, or `204 No Content` after `wait` seconds (or at shutdown).
async fn snapshot(
    State(api): State<Api>,
    auth: Auth,
    QueryArgs(q): QueryArgs<SnapshotQuery>,
) -> Result<Response, ApiError> {
    auth.edge()?;
    let mut rx = api.inner.publisher.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(q.wait.min(60));
    loop {
        let current = rx.borrow_and_update().clone();
        if current.revision > q.after {
            return Ok((
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::HeaderName::from_static("x-switchyard-revision"), &current.revision.to_string()),
                ],
                current.json.clone(),
            )
                .into_response());
        }
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { break },
            _ = tokio::time::sleep_until(deadline) => break,
            _ = api.inner.shutdown.cancelled() => break,
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn blob(State(api): State<Api>, auth: Auth, Path(digest): Path<String>) -> Result<Response, ApiError> {
    auth.edge()?;
    let digest: Digest = digest
        .parse()
        .map_err(|e: switchyard_model::DigestError| ApiError::bad_request("invalid_digest", e.to_string()))?;
    let Some(local) = api.inner.blobs.as_local() else {
        // A remote store: read and verify the whole blob before sending a byte of it.
        let blobs = api.inner.blobs.clone();
        let bytes = tokio::task::spawn_blocking(move || blobs.read_verified(&digest))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| match e {
                switchyard_blob::Error::NotFound { .. } => ApiError::not_found(format!("blob {digest} is not stored")),
                e => crate::blobs::api_error(e),
            })?;
        return Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response());
    };
    let path = local.path(&digest);
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found(format!("blob {digest} is not stored")));
        }
        Err(e) => return Err(ApiError::internal(format!("{}: {e}", path.display()))),
    };
    let len = file.metadata().await.map_err(ApiError::internal)?.len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024));
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream".to_owned()), (header::CONTENT_LENGTH, len.to_string())],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests;
