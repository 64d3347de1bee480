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
use futures_util::StreamExt;
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
    ///
    /// Requests are served by `config.workers` threads, each running its own single-threaded
    /// runtime with its own copy of the listening sockets (see [`serve_on_workers`]); the
    /// control plane is followed, reported to and the memory cache kept on the caller's
    /// runtime.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        // The reporter stops only once every accept loop has returned (every connection
        // drained), so what requests finished during the drain counted goes in its last report.
        let stop_report = CancellationToken::new();
        let client = self.syncer.client();
        let report =
            tokio::spawn(report::run(self.config.clone(), client.clone(), self.metrics.clone(), stop_report.clone()));
        if let Some(admin) = self.admin {
            tokio::spawn(admin::serve(admin, self.routes.clone(), self.metrics.clone(), stop.clone()));
        }
        let listeners = Listeners {
            plain: self.listener.into_std().context("the HTTP socket")?,
            https: match self.https {
                Some(listener) => {
                    let config = tls::server_config(self.routes.clone()).context("building the TLS configuration")?;
                    let socket = listener.into_std().context("the HTTPS socket")?;
                    Some((socket, tokio_rustls::TlsAcceptor::from(config)))
                }
                None => None,
            },
            routes: self.routes.clone(),
            limiter: Arc::new(events::RateLimiter::new(events::BURST, events::PER_SECOND, events::MAX_CLIENTS)),
            header_read_timeout: self.config.header_read_timeout,
        };
        let mut workers = futures_util::stream::FuturesUnordered::new();
        let started = serve_on_workers(&listeners, self.config.workers, &stop, &mut workers);
        drop(listeners);
        tokio::spawn(heartbeat::run(self.config, client, self.status, stop.clone()));
        let sync = tokio::spawn(self.syncer.run(stop.clone()));
        tokio::spawn(maintain_memory(self.routes.clone(), self.cache, self.memory, stop.clone()));
        let mut failed = match started {
            Err(error) => Some(error),
            // A worker finishes before the stop only when it failed.
            Ok(()) => tokio::select! {
                () = shutdown => {
                    tracing::info!("shutting down: draining connections");
                    None
                }
                Some(early) = workers.next() => Some(worker_failure(early)),
            },
        };
        stop.cancel();
        // Each thread drains within `accept`'s deadline; one stuck past it (a blocking call
        // on its thread stops its timers too) is left behind rather than holding the exit.
        let drained = tokio::time::timeout(WORKERS_DRAIN_LIMIT, async {
            while let Some(finished) = workers.next().await {
                if let Ok(Ok(())) = finished {
                    continue;
                }
                let error = worker_failure(finished);
                tracing::error!(error = %error, "a serving thread failed during the drain");
                failed.get_or_insert(error);
            }
        });
        if drained.await.is_err() {
            tracing::warn!(limit = ?WORKERS_DRAIN_LIMIT, "a serving thread did not finish its drain; leaving it");
        }
        // Every accept loop has returned: nothing counts any more, and the last counts go to
        // the control plane before the process ends.
        stop_report.cancel();
        let _ = sync.await;
        let _ = report.await;
        failed.map_or(Ok(()), Err)
    }
}

/// The sockets the edge serves and what every serving thread shares.
struct Listeners {
    plain: std::net::TcpListener,
    https: Option<(std::net::TcpListener, tokio_rustls::TlsAcceptor)>,
    routes: Arc<ArcSwap<Routes>>,
    limiter: Arc<events::RateLimiter>,
    header_read_timeout: std::time::Duration,
}

/// What each serving thread sends when its accept loops have returned.
type Finished = tokio::sync::oneshot::Receiver<anyhow::Result<()>>;

/// How long the serving threads get to finish once stopped: `accept`'s drain deadline and some.
const WORKERS_DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(15);

/// The error a serving thread finished with, or that it ended with nothing sent (a panic).
fn worker_failure(finished: Result<anyhow::Result<()>, tokio::sync::oneshot::error::RecvError>) -> anyhow::Error {
    match finished {
        Ok(Err(error)) => error,
        Ok(Ok(())) | Err(_) => anyhow::anyhow!("a serving thread stopped unexpectedly"),
    }
}

/// Starts `count` serving threads, as nginx's worker processes: each runs a single-threaded
/// runtime (no work stealing, no wake-ups across threads: each connection is served where it
/// was accepted, which costs a request a few percent less than a multi-threaded runtime,
/// `benches/README.md`) with its own copy of the listening sockets in its own epoll set, and
/// accepts whenever it is free to: a thread busy answering leaves the next connection to one
/// that is not. (Every idle thread is woken by a new connection and all but one find nothing
/// to accept: nginx's `accept_mutex off`, cheap at one thread per core; tokio has no
/// `EPOLLEXCLUSIVE`.) Each stops accepting at `stop`, drains its connections and finishes, which
/// its entry in `workers` reports; a thread that cannot start ends the loop with an error
/// (those started are in `workers`).
fn serve_on_workers(
    listeners: &Listeners,
    count: usize,
    stop: &CancellationToken,
    workers: &mut futures_util::stream::FuturesUnordered<Finished>,
) -> anyhow::Result<()> {
    for index in 0..count.max(1) {
        let plain = listeners.plain.try_clone().context("copying the HTTP socket for a serving thread")?;
        let https = match &listeners.https {
            Some((socket, acceptor)) => {
                Some((socket.try_clone().context("copying the HTTPS socket for a serving thread")?, acceptor.clone()))
            }
            None => None,
        };
        let (routes, limiter, timeout) =
            (listeners.routes.clone(), listeners.limiter.clone(), listeners.header_read_timeout);
        let stop = stop.clone();
        let (finished, finished_rx) = tokio::sync::oneshot::channel();
        // The runtime is built and dropped on its own thread: one dropped in an async context
        // (this function's caller, if the thread cannot start) panics.
        std::thread::Builder::new()
            .name(format!("serve-{index}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("starting a serving thread's runtime");
                let served = runtime.and_then(|runtime| {
                    runtime.block_on(async move {
                        let plain = tokio::net::TcpListener::from_std(plain)?;
                        let https = match https {
                            Some((socket, acceptor)) => Some((tokio::net::TcpListener::from_std(socket)?, acceptor)),
                            None => None,
                        };
                        let secure = async {
                            if let Some((socket, acceptor)) = https {
                                let shutdown = stop.clone().cancelled_owned();
                                accept::serve(
                                    socket,
                                    routes.clone(),
                                    Some(acceptor),
                                    limiter.clone(),
                                    timeout,
                                    shutdown,
                                )
                                .await;
                            }
                        };
                        let shutdown = stop.clone().cancelled_owned();
                        let plain = accept::serve(plain, routes.clone(), None, limiter.clone(), timeout, shutdown);
                        tokio::join!(plain, secure);
                        anyhow::Ok(())
                    })
                });
                let _ = finished.send(served);
            })
            .context("starting a serving thread")?;
        workers.push(finished_rx);
    }
    Ok(())
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
