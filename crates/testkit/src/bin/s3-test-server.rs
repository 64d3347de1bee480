//! `s3-test-server`: a real S3 protocol server (s3s + s3s-fs) for Switchyard's tests, with
//! signature authentication on. Stores objects under `--root` (one directory per bucket),
//! listens on `--addr` (default `127.0.0.1:0`) and prints `listening on http://ADDR`.
//!
//! Usage: `s3-test-server --root DIR --access-key KEY --secret-key SECRET [--bucket NAME]...
//! [--addr 127.0.0.1:0]`. Test support only; never shipped.

use std::path::PathBuf;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

struct Args {
    root: PathBuf,
    access_key: String,
    secret_key: String,
    buckets: Vec<String>,
    addr: String,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut root, mut access_key, mut secret_key, mut buckets, mut addr) =
        (None, None, None, Vec::new(), "127.0.0.1:0".to_owned());
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--root" => root = Some(PathBuf::from(value()?)),
            "--access-key" => access_key = Some(value()?),
            "--secret-key" => secret_key = Some(value()?),
            "--bucket" => buckets.push(value()?),
            "--addr" => addr = value()?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        root: root.ok_or("--root is required")?,
        access_key: access_key.ok_or("--access-key is required")?,
        secret_key: secret_key.ok_or("--secret-key is required")?,
        buckets,
        addr,
    })
}

#[tokio::main]
async fn main() {
    let args = match parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("s3-test-server: {e}");
            std::process::exit(2);
        }
    };
    for bucket in &args.buckets {
        std::fs::create_dir_all(args.root.join(bucket)).expect("creating a bucket directory");
    }
    let fs = s3s_fs::FileSystem::new(&args.root).expect("opening the root directory");
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(args.access_key, args.secret_key));
    let service = builder.build();

    let listener = tokio::net::TcpListener::bind(&args.addr).await.expect("binding");
    println!("s3-test-server listening on http://{}", listener.local_addr().expect("bound address"));
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("s3-test-server: accept: {e}");
                continue;
            }
        };
        let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}
