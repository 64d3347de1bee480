//! Test support for Switchyard's integration tests: starts the real binaries on free loopback
//! ports, builds archives (including malicious ones) byte by byte, and waits on conditions with
//! a deadline instead of sleeping.
//!
//! Used only by tests; never a dependency of a shipped crate.

pub mod archive;
mod process;
mod s3;
pub mod tls;

use std::time::{Duration, Instant};

pub use process::{ADMIN_TOKEN, Control, Edge, bin_path, run_cli};
pub use s3::S3Server;

/// `len` bytes that do not compress (xorshift), different for each `seed`: files that are
/// exactly one blob each and that no encoding shrinks.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A control plane and an edge, started fresh in a temporary directory, with helpers that
/// speak plain HTTP to them and return status codes and bodies to assert on.
pub struct Platform {
    pub dir: tempfile::TempDir,
    pub control: Option<Control>,
    pub edge: Option<Edge>,
    pub edge_token: String,
    pub http: reqwest::Client,
}

/// The base domain test edges serve under.
pub const BASE: &str = "test.example";

impl Platform {
    /// Starts `switchyard-control` and one `switchyard-edge` following it.
    pub async fn start() -> Platform {
        Self::start_with(&[]).await
    }

    /// Like [`Platform::start`], with extra arguments for the control plane.
    pub async fn start_with(control_args: &[&str]) -> Platform {
        Self::start_with_edge(control_args, &[]).await
    }

    /// Like [`Platform::start_with`], with extra arguments for the edge too.
    pub async fn start_with_edge(control_args: &[&str], edge_args: &[&str]) -> Platform {
        Self::start_full(control_args, edge_args, true).await
    }

    /// Like [`Platform::start`], but preview and version hosts are private (the production
    /// default): they open only with a share link. The other constructors make them public
    /// (`--public-previews`), so that tests of other features need no links.
    pub async fn start_private_previews() -> Platform {
        Self::start_full(&[], &[], false).await
    }

    async fn start_full(control_args: &[&str], edge_args: &[&str], public_previews: bool) -> Platform {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("control");
        let control = if public_previews {
            Control::start_with(&data, control_args)
        } else {
            Control::start_private_previews(&data, control_args)
        };
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let (status, body) =
            request(&http, reqwest::Method::POST, &format!("{}/v1/edge-tokens", control.url()), ADMIN_TOKEN, None)
                .await;
        assert_eq!(status, 201, "{body}");
        let edge_token = body["token"].as_str().unwrap().to_owned();
        let edge = Edge::start_with(control.url(), &edge_token, &dir.path().join("edge"), BASE, edge_args);
        Platform { dir, control: Some(control), edge: Some(edge), edge_token, http }
    }

    pub fn control(&self) -> &Control {
        self.control.as_ref().expect("control plane running")
    }

    pub fn edge(&self) -> &Edge {
        self.edge.as_ref().expect("edge running")
    }

    /// `METHOD /v1/<path>` with a JSON body; returns (status, JSON body or `null`).
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let url = format!("{}/v1/{path}", self.control().url());
        request(&self.http, method.parse().unwrap(), &url, token, body).await
    }

    /// Creates a tenant; returns its token.
    pub async fn tenant(&self, name: &str) -> String {
        let (status, body) = self.api("POST", "tenants", ADMIN_TOKEN, Some(serde_json::json!({ "name": name }))).await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Creates an app as `token`.
    pub async fn app(&self, token: &str, name: &str) {
        let (status, body) = self.api("POST", "apps", token, Some(serde_json::json!({ "name": name }))).await;
        assert_eq!(status, 201, "{body}");
    }

    /// Uploads `archive` to `app` with a query string like `promote=true`.
    pub async fn deploy(&self, token: &str, app: &str, query: &str, archive: Vec<u8>) -> (u16, serde_json::Value) {
        let url = format!("{}/v1/apps/{app}/versions?{query}", self.control().url());
        let response = self.http.post(url).bearer_auth(token).body(archive).send().await.expect("deploy request");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, body)
    }

    /// GET `path` from the edge with `Host: <host>`.
    pub async fn edge_get(&self, host: &str, path: &str) -> reqwest::Response {
        edge_get(&self.http, self.edge().url(), host, path).await
    }

    /// Waits until the edge answers `host` with `version` in `x-switchyard-version`.
    pub async fn wait_serving(&self, host: &str, version: &str) {
        wait_serving_on(&self.http, self.edge().url(), host, version).await
    }

    /// Starts one more edge following this control plane, named `name` in `region`, with its
    /// cache in `<dir>/<name>`.
    pub fn add_edge(&self, name: &str, region: &str, extra_args: &[&str]) -> Edge {
        let mut args = vec!["--name", name, "--region", region];
        args.extend_from_slice(extra_args);
        Edge::start_with(self.control().url(), &self.edge_token, &self.dir.path().join(name), BASE, &args)
    }
}

/// Where a control plane's data dir or an edge's cache dir keeps blob `digest`.
pub fn blob_path(root: &std::path::Path, digest: &switchyard_model::Digest) -> std::path::PathBuf {
    let hex = digest.to_hex();
    root.join("blobs").join(&hex[0..2]).join(&hex[2..4]).join(hex)
}

/// Waits until the edge at `edge_url` answers `host` with `version` in `x-switchyard-version`.
pub async fn wait_serving_on(http: &reqwest::Client, edge_url: &str, host: &str, version: &str) {
    let what = format!("{host} to serve {version} on {edge_url}");
    wait_for(&what, Duration::from_secs(10), || async move {
        let r = http.get(format!("{edge_url}/")).header("host", host).send().await.ok()?;
        (r.headers().get("x-switchyard-version").map(|v| v.as_bytes()) == Some(version.as_bytes())).then_some(())
    })
    .await
}

pub async fn edge_get(http: &reqwest::Client, edge_url: &str, host: &str, path: &str) -> reqwest::Response {
    http.get(format!("{edge_url}{path}")).header("host", host).send().await.expect("edge request")
}

async fn request(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let response = req.send().await.expect("API request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// Sends `GET <path>` exactly as written (no URL normalisation, unlike an HTTP client library)
/// with `Host: <host>` to `addr` over HTTP/1.1; returns the status code and the body.
pub fn raw_get(addr: &str, host: &str, path: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    let text = String::from_utf8_lossy(&response);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let body_at = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |i| i + 4);
    (status, response[body_at..].to_vec())
}
