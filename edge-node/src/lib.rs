//! The Switchyard edge node: serves every app version it knows by host name, from its local
//! cache, and follows the control plane's snapshot.
//!
//! Owns: the accept loop and HTTP behaviour (`accept`, `serve`), the routing table (`sites`),
//! which version serves a visitor and its cookies (`tagging`), the previews gate (`access`),
//! following the control plane (`sync`), reporting to it (`heartbeat`, `report`), the cache
//! budget (`gc`), conversion events (`events`), counters and Prometheus metrics (`metrics`,
//! `admin`). Must not know: SQLite, tenants or tokens other than its own; it never depends on
//! `switchyard-control`.
//!
//! Architecture Invariant: every request reads one `Arc<Routes>` from a single
//! `ArcSwap<Routes>` and keeps it to the end, so a response never mixes versions; a new
//! snapshot replaces the routes with one `store`.

mod accept;
pub mod access;
mod admin;
pub mod config;
mod conns;
pub mod events;
mod gc;
mod heartbeat;
pub mod memory;
pub mod metrics;
pub mod origin;
mod report;
pub mod serve;
pub mod sites;
mod sync;
pub mod tagging;
pub mod tls;
mod zerocopy;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

pub use config::{Args, Config};

use crate::sites::Routes;

/// An edge whose cache is open, whose persisted snapshot is loaded and whose socket is bound.
pub struct Bound {
    listener: tokio::net::TcpListener,
    https: Option<tokio::net::TcpListener>,
    routes: Arc<ArcSwap<Routes>>,
    syncer: sync::Syncer,
    status: Arc<heartbeat::Status>,
    config: Config,
    cache: switchyard_blob::LocalBlobStore,
    memory: Arc<memory::MemoryCache>,
    metrics: Arc<metrics::Metrics>,
    /// The admin port (`GET /metrics`), if configured.
    admin: Option<tokio::net::TcpListener>,
}

/// Binds the HTTP socket, then opens everything else as [`bind_on`] does.
pub async fn bind(mut config: Config) -> anyhow::Result<Bound> {
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding HTTP to {}", config.http_addr))?;
    let https = match config.https_addr {
        Some(addr) => {
            let listener =
                tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding HTTPS to {addr}"))?;
            // Redirects name the real port, even when port 0 was asked for.
            config.https_addr = Some(listener.local_addr()?);
            Some(listener)
        }
        None => None,
    };
    let admin = match config.admin_addr {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding the admin port to {addr}"))?,
        ),
        None => None,
    };
    Ok(bind_on(config, listener)?.with_https(https).with_admin(admin))
}

/// Opens the cache and restores the persisted snapshot, to serve on an already bound
/// `listener` (`config.http_addr` is not used).
pub fn bind_on(config: Config, listener: tokio::net::TcpListener) -> anyhow::Result<Bound> {
    std::fs::create_dir_all(&config.cache_dir)
        .with_context(|| format!("creating cache dir {}", config.cache_dir.display()))?;
    let cache = switchyard_blob::LocalBlobStore::open(&config.cache_dir).context("opening the blob cache")?;
    let routes = Arc::new(ArcSwap::from_pointee(Routes::default()));
    let memory = memory::MemoryCache::new(config.memory_budget);
    let status = heartbeat::Status::new(&config);
    let metrics = metrics::Metrics::new();
    let syncer = sync::Syncer::new(
        config.clone(),
        cache.clone(),
        memory.clone(),
        routes.clone(),
        status.clone(),
        metrics.clone(),
    )?;
    syncer.restore();
    Ok(Bound { listener, https: None, routes, syncer, status, config, cache, memory, metrics, admin: None })
}

impl Bound {
    /// Also serves HTTPS on an already bound `listener` (whose address `config.https_addr`
    /// should name, for redirects).
    pub fn with_https(mut self, listener: Option<tokio::net::TcpListener>) -> Bound {
        self.https = listener;
        self
    }

    /// Also serves `GET /metrics` on an already bound admin `listener`.
    pub fn with_admin(mut self, listener: Option<tokio::net::TcpListener>) -> Bound {
        self.admin = listener;
        self
    }

    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves and follows the control plane until `shutdown` resolves, then drains.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        // The reporter stops only once both accept loops have returned (every connection
        // drained), so what requests finished during the drain counted goes in its last report.
        let stop_report = CancellationToken::new();
        let client = self.syncer.client();
        let report =
            tokio::spawn(report::run(self.config.clone(), client.clone(), self.metrics.clone(), stop_report.clone()));
        if let Some(admin) = self.admin {
            tokio::spawn(admin::serve(admin, self.routes.clone(), self.metrics.clone(), stop.clone()));
        }
        let limiter = Arc::new(events::RateLimiter::new(events::BURST, events::PER_SECOND, events::MAX_CLIENTS));
        let header_read_timeout = self.config.header_read_timeout;
        tokio::spawn(heartbeat::run(self.config, client, self.status, stop.clone()));
        let sync = tokio::spawn(self.syncer.run(stop.clone()));
        tokio::spawn(maintain_memory(self.routes.clone(), self.cache, self.memory, stop.clone()));
        let stop_on_signal = stop.clone();
        let https = match self.https {
            Some(listener) => {
                let config = tls::server_config(self.routes.clone()).context("building the TLS configuration")?;
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                let routes = self.routes.clone();
                let shutdown = stop.clone().cancelled_owned();
                Some(tokio::spawn(accept::serve(
                    listener,
                    routes,
                    Some(acceptor),
                    limiter.clone(),
                    header_read_timeout,
                    shutdown,
                )))
            }
            None => None,
        };
        accept::serve(self.listener, self.routes, None, limiter, header_read_timeout, async move {
            shutdown.await;
            tracing::info!("shutting down: draining connections");
            stop_on_signal.cancel();
        })
        .await;
        stop.cancel();
        if let Some(https) = https {
            let _ = https.await;
        }
        // Both accept loops have returned: nothing counts any more, and the last counts go to
        // the control plane before the process ends.
        stop_report.cancel();
        let _ = sync.await;
        let _ = report.await;
        Ok(())
    }
}

/// Once a second, off the request path: keep the most recently used small bodies in memory
/// within the budget.
async fn maintain_memory(
    routes: Arc<ArcSwap<Routes>>,
    cache: switchyard_blob::LocalBlobStore,
    memory: Arc<memory::MemoryCache>,
    stop: CancellationToken,
) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = stop.cancelled() => return,
        }
        let (routes, cache, memory) = (routes.load_full(), cache.clone(), memory.clone());
        let _ = tokio::task::spawn_blocking(move || memory.maintain(routes.bodies(), std::iter::empty(), &cache)).await;
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}
