//! `bare-hyper ADDR FILE [NAME:VALUE ...]`: answers every request with FILE's bytes from
//! memory, through the same hyper-util server stack the edge uses, and nothing else. The
//! headers are `content-type: text/html; charset=utf-8` or, when given, exactly the
//! `NAME:VALUE` pairs (so it can send the same response bytes as the edge), built once and
//! cloned per response. The floor the edge's per-request work is measured against in
//! `benches/http.sh`; with the edge's allocator (mimalloc), so that the ratio is the edge's
//! own work.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{Response, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(file)) = (args.next(), args.next()) else {
        eprintln!("usage: bare-hyper ADDR FILE [NAME:VALUE ...]");
        std::process::exit(2);
    };
    let mut headers = HeaderMap::new();
    for pair in args {
        let Some((name, value)) = pair.split_once(':') else {
            eprintln!("bare-hyper: {pair:?} is not NAME:VALUE");
            std::process::exit(2);
        };
        let name = HeaderName::try_from(name.trim()).expect("a header name");
        headers.append(name, HeaderValue::try_from(value.trim()).expect("a header value"));
    }
    if headers.is_empty() {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    }
    let body = Bytes::from(std::fs::read(&file).expect("read FILE"));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind ADDR");
    println!("bare-hyper listening on http://{}", listener.local_addr().unwrap());
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let (body, headers) = (body.clone(), headers.clone());
        tokio::spawn(async move {
            let service = service_fn(move |_req| {
                let mut res = Response::new(Full::new(body.clone()));
                *res.headers_mut() = headers.clone();
                std::future::ready(Ok::<_, Infallible>(res))
            });
            let _ = auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
