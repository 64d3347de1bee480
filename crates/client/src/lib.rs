//! A typed client for the control-plane API (`/v1/`), used by the `switchyard` CLI and by
//! `switchyard up`.
//!
//! Owns: URLs, bearer authentication and turning API errors into [`Error::Api`] with the
//! server's code and message. Must not know: how the CLI prints things.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
pub use switchyard_model::api::{
    CertInfo, DomainInfo, Release, SplitInfo, SplitRequest, SplitState, SplitWeight, VersionInfo as Version,
};
pub use switchyard_model::fleet::{EdgeInfo, EdgeProgress, EdgeState, Fleet, WaitResult};
pub use switchyard_model::stats::{AppStats, LivePeriod, VersionStats};

mod previews;
pub use previews::{Previews, ShareCreated, ShareInfo, ShareTarget, Visibility};
mod uploads;
pub use uploads::{ListedFile, OpenedDeploy, VersionFile, VersionFiles};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the control plane at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{message} ({status}, {code})")]
    Api { status: u16, code: String, message: String },
    #[error("unexpected answer from {url}: {reason}")]
    Decode { url: String, reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantCreated {
    pub tenant: String,
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tenant {
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EdgeTokenCreated {
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct App {
    pub name: String,
    pub tenant: String,
    pub created_at: String,
    /// Channel → version label (`v3`).
    pub channels: BTreeMap<String, String>,
    pub url: String,
    /// The edge URL pattern (`http://{host}:8080`) and base domain, to build other hosts' URLs.
    #[serde(default)]
    pub edge_url: Option<String>,
    #[serde(default)]
    pub base_domain: Option<String>,
    /// The live channel's traffic split in force (`GET /v1/apps/{app}` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<SplitInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployed {
    pub app: String,
    pub version: String,
    pub number: u64,
    pub files: u64,
    pub bytes: u64,
    pub new_blobs: u64,
    pub manifest: String,
    pub channels: Vec<String>,
    /// The version's host, then each channel's.
    pub urls: Vec<String>,
    /// Those of `urls` that open only with a share link (empty from control planes before
    /// they said so).
    #[serde(default)]
    pub private_urls: Vec<String>,
    pub revision: u64,
}

/// Options of one deploy.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    pub channel: Option<String>,
    pub promote: bool,
    pub message: Option<String>,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// `base` is the control plane's URL (`http://127.0.0.1:7070`).
    pub fn new(base: &str, token: &str) -> Client {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("switchyard-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with static settings builds");
        Client { http, base: base.trim_end_matches('/').to_owned(), token: token.to_owned() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/{path}", self.base)
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder, url: String) -> Result<T, Error> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| Error::Unreachable { url: url.clone(), reason: error_chain(&e) })?;
        let status = response.status();
        let bytes =
            response.bytes().await.map_err(|e| Error::Unreachable { url: url.clone(), reason: error_chain(&e) })?;
        if !status.is_success() {
            #[derive(Deserialize)]
            struct Body {
                error: ApiError,
            }
            #[derive(Deserialize)]
            struct ApiError {
                code: String,
                message: String,
            }
            return Err(match serde_json::from_slice::<Body>(&bytes) {
                Ok(Body { error }) => Error::Api { status: status.as_u16(), code: error.code, message: error.message },
                Err(_) => Error::Api {
                    status: status.as_u16(),
                    code: "http".into(),
                    message: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
                },
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode { url, reason: e.to_string() })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let url = self.url(path);
        self.send(self.http.get(&url), url).await
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: serde_json::Value) -> Result<T, Error> {
        let url = self.url(path);
        self.send(self.http.post(&url).json(&body), url).await
    }

    pub async fn health(&self) -> Result<serde_json::Value, Error> {
        self.get("health").await
    }

    pub async fn create_tenant(&self, name: &str) -> Result<TenantCreated, Error> {
        self.post("tenants", json!({ "name": name })).await
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, Error> {
        self.get("tenants").await
    }

    pub async fn create_edge_token(&self, label: Option<&str>) -> Result<EdgeTokenCreated, Error> {
        self.post("edge-tokens", json!({ "label": label })).await
    }

    pub async fn create_app(&self, name: &str, tenant: Option<&str>) -> Result<App, Error> {
        self.post("apps", json!({ "name": name, "tenant": tenant })).await
    }

    pub async fn list_apps(&self) -> Result<Vec<App>, Error> {
        self.get("apps").await
    }

    pub async fn app(&self, app: &str) -> Result<App, Error> {
        self.get(&format!("apps/{app}")).await
    }

    /// Uploads an archive (`.tar.gz` or `.zip` bytes) as a new version.
    pub async fn deploy(&self, app: &str, archive: Vec<u8>, opts: &DeployOptions) -> Result<Deployed, Error> {
        let url = self.url(&format!("apps/{app}/versions"));
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(c) = &opts.channel {
            query.push(("channel", c.clone()));
        }
        if opts.promote {
            query.push(("promote", "true".into()));
        }
        if let Some(m) = &opts.message {
            query.push(("message", m.clone()));
        }
        let request =
            self.http.post(&url).query(&query).header("content-type", "application/octet-stream").body(archive);
        self.send(request, url).await
    }

    pub async fn versions(&self, app: &str) -> Result<Vec<Version>, Error> {
        self.get(&format!("apps/{app}/versions")).await
    }

    pub async fn promote(&self, app: &str, version: &str, channel: Option<&str>) -> Result<Release, Error> {
        self.post(&format!("apps/{app}/promote"), json!({ "version": version, "channel": channel })).await
    }

    pub async fn rollback(&self, app: &str, channel: Option<&str>) -> Result<Release, Error> {
        self.post(&format!("apps/{app}/rollback"), json!({ "channel": channel })).await
    }

    pub async fn releases(&self, app: &str) -> Result<Vec<Release>, Error> {
        self.get(&format!("apps/{app}/releases")).await
    }

    /// Starts a traffic split of `app`'s live channel (replacing the one in force).
    pub async fn set_split(&self, app: &str, weights: &[SplitWeight]) -> Result<SplitInfo, Error> {
        let url = self.url(&format!("apps/{app}/split"));
        let body = SplitRequest { weights: weights.to_vec() };
        self.send(self.http.put(&url).json(&body), url).await
    }

    /// The split in force and the app's split history.
    pub async fn split(&self, app: &str) -> Result<SplitState, Error> {
        self.get(&format!("apps/{app}/split")).await
    }

    async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let url = self.url(path);
        self.send(self.http.delete(&url), url).await
    }

    pub async fn add_domain(&self, name: &str, app: &str, opts: &DomainOptions) -> Result<DomainInfo, Error> {
        let body = json!({
            "name": name,
            "app": app,
            "channel": opts.channel,
            "https_redirect": opts.https_redirect,
            "hsts_max_age": opts.hsts_max_age,
            "hsts_include_subdomains": opts.hsts_include_subdomains,
        });
        self.post("domains", body).await
    }

    pub async fn list_domains(&self) -> Result<Vec<DomainInfo>, Error> {
        self.get("domains").await
    }

    pub async fn remove_domain(&self, name: &str) -> Result<serde_json::Value, Error> {
        self.delete(&format!("domains/{name}")).await
    }

    /// Uploads a PEM chain (leaf first) and its PEM private key for `domain`.
    pub async fn add_cert(&self, domain: &str, chain_pem: &str, key_pem: &str) -> Result<CertInfo, Error> {
        self.post("certs", json!({ "domain": domain, "cert": chain_pem, "key": key_pem })).await
    }

    pub async fn list_certs(&self) -> Result<Vec<CertInfo>, Error> {
        self.get("certs").await
    }

    pub async fn remove_cert(&self, domain: &str) -> Result<serde_json::Value, Error> {
        self.delete(&format!("certs/{domain}")).await
    }
}

/// Options of `domains add`.
#[derive(Debug, Clone, Default)]
pub struct DomainOptions {
    pub channel: Option<String>,
    pub https_redirect: Option<bool>,
    pub hsts_max_age: Option<u64>,
    pub hsts_include_subdomains: bool,
}

impl Client {
    /// `app`'s figures per version over the last `since` (whole UTC hours).
    pub async fn stats(&self, app: &str, since: Duration) -> Result<AppStats, Error> {
        let url = self.url(&format!("apps/{app}/stats"));
        self.send(self.http.get(&url).query(&[("since", since.as_secs().to_string())]), url).await
    }

    /// The fleet as the control plane sees it (operator).
    pub async fn edges(&self) -> Result<Fleet, Error> {
        self.get("edges").await
    }

    /// Waits until every healthy edge reports `revision` (and does not hold `app` back), or
    /// `timeout` runs out (then `done` is false and `lagging` names the edges).
    pub async fn wait_edges(&self, revision: u64, timeout: Duration, app: Option<&str>) -> Result<WaitResult, Error> {
        let url = self.url("edges/wait");
        let mut query = vec![("revision", revision.to_string()), ("timeout_ms", timeout.as_millis().to_string())];
        if let Some(app) = app {
            query.push(("app", app.to_owned()));
        }
        self.send(self.http.get(&url).query(&query), url).await
    }
}

/// An error and its causes on one line ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
