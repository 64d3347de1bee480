//! The admin port: `GET /metrics` in the Prometheus text format (version 0.0.4), for the
//! operator's scraper. Off unless `admin_addr` is set; bind it to a private address: it
//! names every app and version the edge serves.

use std::convert::Infallible;
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Response, StatusCode};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::serve::Body;
use crate::sites::Routes;

static PROMETHEUS: HeaderValue = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");

/// Serves the admin port until `stop`.
pub(crate) async fn serve(
    listener: TcpListener,
    routes: Arc<ArcSwap<Routes>>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => return,
        };
        let (routes, metrics) = (routes.clone(), metrics.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let res = answer(req.method(), req.uri().path(), &routes, &metrics);
                std::future::ready(Ok::<_, Infallible>(res))
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(std::time::Duration::from_secs(10));
            if let Err(error) = builder.serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(%error, client.addr = %peer, "admin connection closed with an error");
            }
        });
    }
}

fn answer(method: &Method, path: &str, routes: &ArcSwap<Routes>, metrics: &Metrics) -> Response<Body> {
    let (status, text) = match (method, path) {
        (&Method::GET, "/metrics") => (StatusCode::OK, metrics.encode(routes.load().revision)),
        (_, "/metrics") => (StatusCode::METHOD_NOT_ALLOWED, "use GET\n".to_owned()),
        _ => (StatusCode::NOT_FOUND, "not found: the admin port serves /metrics\n".to_owned()),
    };
    let len = text.len();
    let mut res = Response::new(Body::Bytes(Some(Bytes::from(text))));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, PROMETHEUS.clone());
    res.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    res
}
