//! `handshakes ADDR SNI CA_PEM CONNECTIONS SECONDS`: full TLS handshakes per second against
//! one server, from a client cheap enough not to be the limit. Each of CONNECTIONS tasks on
//! one thread loops: TCP connect, a TLS handshake (rustls with ring, the chain verified
//! against CA_PEM, no session resumption, ALPN `http/1.1`), `GET /` with
//! `Connection: close`, read to the end, check the status line is `200`. Prints the
//! handshakes completed, the rate and the failures.
//!
//! Why not only wrk: wrk's client side of a TLS 1.3 handshake (OpenSSL 3) costs about 700 µs
//! of CPU here, more than the edge's or nginx's server side, so with one core for the client
//! `wrk -H 'Connection: close'` measures wrk. Run through `benches/tls.sh`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, sni, ca, connections, seconds] = args.as_slice() else {
        eprintln!("usage: handshakes ADDR SNI CA_PEM CONNECTIONS SECONDS");
        std::process::exit(2);
    };
    let fail = |what: &str| -> ! {
        eprintln!("handshakes: {what}");
        std::process::exit(2)
    };
    let connections: usize = connections.parse().unwrap_or_else(|_| fail("CONNECTIONS is not a number"));
    let seconds: f64 = seconds.parse().unwrap_or_else(|_| fail("SECONDS is not a number"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap_or_else(|e| fail(&format!("{ca}: {e}"))) {
        let cert = cert.unwrap_or_else(|e| fail(&format!("{ca}: {e}")));
        roots.add(cert).unwrap_or_else(|e| fail(&format!("{ca}: {e}")));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| fail(&e.to_string()))
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(sni.clone()).unwrap_or_else(|_| fail("SNI is not a DNS name"));
    let request = format!("GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n").into_bytes();

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    runtime.block_on(async {
        let mut tasks = Vec::with_capacity(connections);
        for _ in 0..connections {
            let (connector, name, request, addr) = (connector.clone(), name.clone(), request.clone(), addr.clone());
            let (done, failed) = (done.clone(), failed.clone());
            tasks.push(tokio::spawn(async move {
                let mut response = Vec::with_capacity(4096);
                while Instant::now() < deadline {
                    let one = async {
                        let tcp = TcpStream::connect(&addr).await?;
                        tcp.set_nodelay(true)?;
                        let mut tls = connector.connect(name.clone(), tcp).await?;
                        tls.write_all(&request).await?;
                        response.clear();
                        tls.read_to_end(&mut response).await?;
                        std::io::Result::Ok(response.starts_with(b"HTTP/1.1 200 "))
                    };
                    match one.await {
                        Ok(true) => done.fetch_add(1, Relaxed),
                        Ok(false) | Err(_) => failed.fetch_add(1, Relaxed),
                    };
                }
            }));
        }
        for task in tasks {
            task.await.expect("a handshake task panicked");
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let (done, failed) = (done.load(Relaxed), failed.load(Relaxed));
    println!("{done} handshakes in {elapsed:.2}s, {:.0}/s, {failed} failed", done as f64 / elapsed);
}
