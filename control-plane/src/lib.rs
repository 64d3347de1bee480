//! The Switchyard control plane: the API merchants and operators use, the metadata store
//! (SQLite), the platform blob store, and the snapshot that edges follow.
//!
//! Owns: tenants, tokens, apps, versions, channel pointers, releases, the global revision.
//! Must not know: how edges serve requests (it only publishes what they route by), and it
//! never depends on `switchyard-edge`.
//!
//! Entry point: [`bind`] validates nothing further and opens every resource (database, blob
//! store, socket) so that start-up errors surface before anything is served; then
//! [`Bound::serve`] runs until the shutdown future resolves and drains in-flight requests.

pub mod api;
pub mod auth;
pub mod blobs;
pub mod certs;
pub mod config;
pub mod fleet;
pub mod previews;
mod publish;
pub mod store;

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

pub use config::{Args, Config};

use crate::auth::{TokenHash, TokenKind};

/// A control plane whose resources are open and whose socket is bound.
pub struct Bound {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: CancellationToken,
    admin_token: String,
}

/// Binds the API socket, then opens everything else as [`bind_on`] does.
pub async fn bind(config: Config) -> anyhow::Result<Bound> {
    let listener = tokio::net::TcpListener::bind(config.api_addr)
        .await
        .with_context(|| format!("binding the API to {}", config.api_addr))?;
    bind_on(config, listener)
}

/// Opens the data directory, the metadata store and the blob store and settles the operator
/// token, to serve on an already bound `listener` (`config.api_addr` is not used).
pub fn bind_on(config: Config, listener: tokio::net::TcpListener) -> anyhow::Result<Bound> {
    let data = &config.data;
    std::fs::create_dir_all(data).with_context(|| format!("creating data directory {}", data.display()))?;
    let uploads = data.join("uploads");
    if uploads.exists() {
        std::fs::remove_dir_all(&uploads).with_context(|| format!("clearing {}", uploads.display()))?;
    }
    std::fs::create_dir_all(&uploads).with_context(|| format!("creating {}", uploads.display()))?;
    let blobs = blobs::open(&config)?;
    let db_path = data.join("meta.db");
    let mut store =
        store::Store::open(&db_path).with_context(|| format!("opening metadata store {}", db_path.display()))?;

    let admin_token = match &config.admin_token {
        Some(token) => token.clone(),
        None => admin_token_in(data)?,
    };
    store.set_admin_token(&TokenHash::of(&admin_token)).context("storing the operator token")?;
    let signing_key = previews::SigningKey::load_or_create(data)?;
    let verify = (!config.public_previews).then(|| signing_key.public_key().to_owned());
    store.set_preview_access(verify).context("publishing the preview settings")?;
    store.set_skew_window(config.skew_window);

    let publisher = publish::Publisher::new(&mut store).context("building the first snapshot")?;
    let shutdown = CancellationToken::new();
    let api = api::Api::new(store, blobs, publisher, config, shutdown.clone()).with_signing_key(signing_key);
    Ok(Bound { listener, router: api::router(api), shutdown, admin_token })
}

impl Bound {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The operator token in force (from the config, or the one kept in the data directory).
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// Serves until `shutdown` resolves, then ends long-polls and drains in-flight requests.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let token = self.shutdown.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: draining requests");
            token.cancel();
        };
        axum::serve(self.listener, self.router).with_graceful_shutdown(signal).await.context("serving the API")
    }
}

/// The operator token kept in `<data>/admin.token` (mode 0600), created on first start.
fn admin_token_in(data: &Path) -> anyhow::Result<String> {
    let path = data.join("admin.token");
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let token = auth::generate(TokenKind::Admin);
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path)
    }
    .with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{token}").and_then(|()| file.sync_all()).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated an operator token");
    Ok(token)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
