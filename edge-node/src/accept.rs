//! The accept loop, plain (HTTP/1.1 and h2c on one port) or TLS (h2 and HTTP/1.1 by ALPN); hyper's
//! limits and timers set explicitly, graceful drain on shutdown.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::conns::{Conns, HeaderTimeout, Tracked, Watcher};
use crate::events::RateLimiter;
use crate::serve::{Remembered, respond};
use crate::sites::Routes;
use crate::zerocopy::Sendable;
use futures_util::future::Either;

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// hyper's settings. HTTP/1's header-read timeout (which also closes idle keep-alive
/// connections) is not hyper's, which arms a timer for every request: `conns` keeps it per
/// connection.
fn builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true).max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// Serves `listener` from whatever `routes` holds at each request, until `shutdown` resolves.
/// With `tls`, each connection's handshake runs in its own task under a timeout first, then
/// the same HTTP stack and `respond` (h2 or HTTP/1.1 by ALPN); without, HTTP/1.1 and h2c.
pub(crate) async fn serve(
    listener: TcpListener,
    routes: Arc<ArcSwap<Routes>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limiter: Arc<RateLimiter>,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let builder = Arc::new(builder());
    let conns = Conns::new(header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Usually EMFILE/ENFILE: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (routes, tls, builder, limiter) = (routes.clone(), tls.clone(), builder.clone(), limiter.clone());
                // Watched from accept on, so a drain waits for handshakes in flight too.
                let watcher = conns.watcher();
                tokio::spawn(async move {
                    let Some(acceptor) = tls else {
                        let (stream, sendable) = crate::zerocopy::Stream::new(stream);
                        let io = TokioIo::new(stream);
                        let plain = Transport::Plain(sendable);
                        return serve_connection(&builder, io, routes, limiter, plain, watcher, peer).await;
                    };
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let io = TokioIo::new(tls);
                            serve_connection(&builder, io, routes, limiter, Transport::Tls, watcher, peer).await
                        }
                        Ok(Err(error)) => tracing::debug!(%error, client.addr = %peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(client.addr = %peer, "TLS handshake timed out"),
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = conns.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("drain timed out; closing remaining connections"),
    }
}

/// What a connection runs over.
enum Transport {
    /// Cleartext, with the stream's residents to send from their files (`zerocopy`).
    Plain(Sendable),
    Tls,
}

/// One connection's requests, each answered from the snapshot current when it arrives.
async fn serve_connection<IO>(
    builder: &auto::Builder<TokioExecutor>,
    io: TokioIo<IO>,
    routes: Arc<ArcSwap<Routes>>,
    limiter: Arc<RateLimiter>,
    transport: Transport,
    watcher: Watcher,
    peer: std::net::SocketAddr,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let requests = watcher.requests();
    let (secure, sendable) = match transport {
        Transport::Plain(sendable) => (false, Some(sendable)),
        Transport::Tls => (true, None),
    };
    // What the connection's last request named (`serve::Remembered`); only this connection's
    // service borrows it, and only while answering.
    let last = RefCell::new(Remembered::default());
    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        // Counted until the response body is dropped (the header-read deadline, `conns`).
        let in_flight = requests.start(req.version());
        // Events need the body and the client's address (`events`).
        if crate::events::is_event(&req) {
            let events = crate::events::handle(routes.load_full(), limiter.clone(), req, peer.ip(), secure);
            return Either::Right(Box::pin(async move {
                Ok::<_, Infallible>(events.await.map(|body| Tracked::new(body, in_flight)))
            }));
        }
        // One snapshot per request, held to the end of the response headers; the body's bytes
        // are reference-counted and outlive a swap.
        let response = respond(&routes.load(), &mut last.borrow_mut(), &req, secure).map(|body| {
            let (body, resident) = body.split_resident();
            if let (Some(resident), Some(sendable)) = (resident, &sendable) {
                sendable.push(resident);
            }
            Tracked::new(body, in_flight)
        });
        Either::Left(std::future::ready(Ok::<_, Infallible>(response)))
    });
    match watcher.watch(builder.serve_connection(io, service).into_owned()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::debug!(%error, client.addr = %peer, "connection closed with an error"),
        Err(HeaderTimeout) => {
            tracing::debug!(client.addr = %peer, "closed: no request head within the header-read timeout")
        }
    }
}
