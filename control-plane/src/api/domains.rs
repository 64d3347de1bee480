//! Custom domains and their TLS certificates.
//!
//! | method | path                       | who             | what                                      |
//! |--------|----------------------------|-----------------|-------------------------------------------|
//! | POST   | /v1/domains                | tenant/operator | add a domain to an app (or update it)     |
//! | GET    | /v1/domains                | tenant/operator | list domains                              |
//! | DELETE | /v1/domains/{name}         | tenant/operator | remove a domain and its certificate       |
//! | POST   | /v1/certs                  | tenant/operator | upload a certificate + key for a domain   |
//! | GET    | /v1/certs                  | tenant/operator | list certificates (never the key)         |
//! | DELETE | /v1/certs/{domain}         | tenant/operator | remove a domain's certificate             |
//! | GET    | /v1/edge/certs/{id}        | edge only       | chain and key, for edges to serve TLS     |
//!
//! Security invariants: the private key is returned by `GET /v1/edge/certs/{id}` only, to an
//! edge token; no other answer or log line carries it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use switchyard_model::{DomainName, Hsts, LIVE, Name};

use super::extract::{Auth, JsonBody};
use super::{Api, ApiError};
use crate::auth::Principal;
use crate::certs::{self, KeyPem, KeyStore};
use crate::store::NewDomain;

impl Api {
    fn keys(&self) -> KeyStore {
        KeyStore::new(&self.inner.config.data)
    }
}

fn domain_name(name: &str) -> Result<DomainName, ApiError> {
    DomainName::new(name).map_err(|e| ApiError::bad_request("invalid_domain", e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AddDomain {
    name: String,
    app: String,
    #[serde(default)]
    channel: Option<String>,
    /// Redirect plain HTTP to HTTPS when a certificate covers the domain [default: true].
    #[serde(default)]
    https_redirect: Option<bool>,
    /// HSTS `max-age` in seconds; absent means no HSTS header.
    #[serde(default)]
    hsts_max_age: Option<u64>,
    #[serde(default)]
    hsts_include_subdomains: bool,
}

pub(super) async fn add_domain(
    State(api): State<Api>,
    auth: Auth,
    JsonBody(req): JsonBody<AddDomain>,
) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let name = domain_name(&req.name)?;
    if name.is_under(&api.inner.config.base_domain) {
        return Err(ApiError::bad_request(
            "invalid_domain",
            format!(
                "domain {name} is under the platform's base domain {}; platform host names are given already",
                api.inner.config.base_domain
            ),
        ));
    }
    let channel = Name::channel(req.channel.as_deref().unwrap_or(LIVE))
        .map_err(|e| ApiError::bad_request("invalid_name", format!("channel name: {e}")))?;
    if req.hsts_max_age.is_none() && req.hsts_include_subdomains {
        return Err(ApiError::bad_request("invalid_hsts", "hsts_include_subdomains needs hsts_max_age"));
    }
    let app = api.app(&who, &req.app).await?;
    let hsts = req.hsts_max_age.map(|max_age| Hsts { max_age, include_subdomains: req.hsts_include_subdomains });
    let new = NewDomain {
        name,
        channel: channel.as_str().to_owned(),
        https_redirect: req.https_redirect.unwrap_or(true),
        hsts,
    };
    let info = api.db(move |s| s.add_domain(&app, new)).await?;
    tracing::info!(domain = %info.name, app = %info.app, channel = %info.channel, "domain added");
    Ok((StatusCode::CREATED, axum::Json(info)).into_response())
}

pub(super) async fn list_domains(State(api): State<Api>, auth: Auth) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let domains = api.db(move |s| s.list_domains(&who)).await?;
    Ok(axum::Json(domains).into_response())
}

pub(super) async fn remove_domain(
    State(api): State<Api>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let name = domain_name(&name)?;
    let domain = name.as_str().to_owned();
    let removed_cert = api.db(move |s| s.remove_domain(&who, &domain)).await?;
    if let Some(id) = &removed_cert {
        api.keys().remove(id);
    }
    tracing::info!(domain = %name, "domain removed");
    Ok(axum::Json(json!({ "removed": name.as_str(), "cert_removed": removed_cert.is_some() })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AddCert {
    domain: String,
    /// The certificate chain, PEM: the leaf first, then each issuer.
    cert: String,
    key: KeyPem,
}

impl std::fmt::Debug for AddCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddCert").field("domain", &self.domain).field("key", &self.key).finish_non_exhaustive()
    }
}

pub(super) async fn add_cert(
    State(api): State<Api>,
    auth: Auth,
    JsonBody(req): JsonBody<AddCert>,
) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let domain = domain_name(&req.domain)?;
    // Ownership first, so a stranger learns nothing about the checks of someone else's domain.
    let (who2, name) = (who.clone(), domain.as_str().to_owned());
    let visible = api.db(move |s| s.list_domains(&who2)).await?.into_iter().any(|d| d.name == name);
    if !visible {
        return Err(ApiError::not_found(format!(
            "domain {domain} not found; add it first with `switchyard domains add {domain} --app APP`"
        )));
    }
    let validated = certs::validate(&domain, &req.cert, &req.key, std::time::SystemTime::now())
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()))?;
    let id = certs::new_id();
    let keys = api.keys();
    {
        let (keys, id, key) = (keys.clone(), id.clone(), req.key.clone());
        tokio::task::spawn_blocking(move || keys.write(&id, &key))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::internal(format!("writing a private key file: {e}")))?;
    }
    let (cert_id, name) = (id.clone(), domain.as_str().to_owned());
    let stored = api.db(move |s| s.put_cert(&who, &name, &cert_id, &validated)).await;
    let (info, replaced) = match stored {
        Ok(stored) => stored,
        Err(e) => {
            keys.remove(&id);
            return Err(e);
        }
    };
    if let Some(old) = &replaced {
        keys.remove(old);
    }
    tracing::info!(domain = %info.domain, fingerprint = %info.fingerprint, replaced = replaced.is_some(), "certificate stored");
    Ok((StatusCode::CREATED, axum::Json(info)).into_response())
}

pub(super) async fn list_certs(State(api): State<Api>, auth: Auth) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let certs = api.db(move |s| s.list_certs(&who)).await?;
    Ok(axum::Json(certs).into_response())
}

pub(super) async fn remove_cert(
    State(api): State<Api>,
    auth: Auth,
    Path(domain): Path<String>,
) -> Result<Response, ApiError> {
    let who = auth.merchant()?.clone();
    let name = domain_name(&domain)?.as_str().to_owned();
    let id = api.db(move |s| s.remove_cert(&who, &name)).await?;
    api.keys().remove(&id);
    tracing::info!(domain = %domain, "certificate removed");
    Ok(axum::Json(json!({ "removed": id })).into_response())
}

/// The chain and key of one certificate, for an edge. Edge tokens only: not even the
/// operator's token reads keys back.
pub(super) async fn edge_cert(
    State(api): State<Api>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !matches!(auth.0, Principal::Edge { .. }) {
        return Err(ApiError::forbidden("this needs an edge token"));
    }
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request("invalid_id", "a certificate id is 32 hex digits"));
    }
    let cert_id = id.clone();
    let chain = api.db(move |s| s.cert_chain(&cert_id)).await?;
    let keys = api.keys();
    let key = tokio::task::spawn_blocking(move || keys.read(&id))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::internal(format!("reading a private key file: {e}")))?;
    Ok(axum::Json(json!({ "chain": chain, "key": key.expose() })).into_response())
}
