//! The edge's HTTP behaviour against the real binary: methods, conditionals, ranges,
//! precompressed encodings, cache headers, `_redirects`, `_headers`, `switchyard.toml`
//! (SPA fallback, clean URLs, trailing slashes, 404 page), hostile paths and h2c.

use std::io::Read;
use std::time::Duration;

use reqwest::header::HeaderMap;
use switchyard_testkit::archive::{Entry, file, tar_gz};
use switchyard_testkit::{BASE, Platform};

const REDIRECTS: &str = "\
# Netlify syntax
/old-path       /about                 301
/blog/*         /news/:splat           302
/p/:id          /product?id=:id        200
/gone           /index.html            410
/moved          https://example.com/new 308
/about          /index.html            302
/legacy.html    /about                 301!
/temp           /about                 307
/see            /about                 303
/default        /about
/secret         /404.html              404
/en/*           /:splat                301
/retired        /nothing.html          410
";

const HEADERS: &str = "\
/*
  X-Frame-Options: DENY
/about
  ! X-Frame-Options
/help/*
  ! X-Content-Type-Options
  Cache-Control: public, max-age=60
  Set-Cookie: help=1; Path=/help
";

fn js() -> String {
    "export function add(a, b) { return a + b; }\n".repeat(500)
}

fn big() -> Vec<u8> {
    (0..3_000_000u32).map(|i| (i % 251) as u8).collect()
}

/// 300 KiB that no encoding shrinks (a photo): large enough for the edge to keep its cache
/// file open while it is in memory, and send it from there (`zerocopy`).
fn photo() -> Vec<u8> {
    switchyard_testkit::noise(300 * 1024, 7)
}

fn bundle(extra_toml: &str) -> Vec<u8> {
    let index = format!("<!doctype html><title>Shop</title><h1>index</h1>{}", "<p>filler</p>".repeat(40));
    tar_gz(&[
        file("index.html", index),
        file("about.html", "<h1>about</h1>"),
        file("product.html", "<h1>product page</h1>"),
        file("legacy.html", "<h1>legacy</h1>"),
        file("docs/index.html", "<h1>docs</h1>"),
        file("help/faq.html", "<h1>faq</h1>"),
        file("404.html", "<h1>custom not found</h1>"),
        file("assets/app.3f9a1c2b.js", js()),
        file("assets/plain.js", "let x = 1;"),
        file("assets/logo.png", vec![0x89, b'P', b'N', b'G', 0, 1, 2, 3]),
        file("big.bin", big()),
        file("assets/photo.jpg", photo()),
        file("_redirects", REDIRECTS),
        file("_headers", HEADERS),
        file("switchyard.toml", format!("app = \"cart\"\n[site]\nspa_fallback = \"index.html\"\n{extra_toml}")),
        Entry::Dir(b"empty/".to_vec()),
    ])
}

struct Site {
    p: Platform,
    live: String,
}

impl Site {
    async fn start() -> Site {
        let p = Platform::start().await;
        let token = p.tenant("acme").await;
        p.app(&token, "cart").await;
        let (s, body) = p.deploy(&token, "cart", "promote=true", bundle("clean_urls = true")).await;
        assert_eq!(s, 201, "{body}");
        let (s, body) = p.deploy(&token, "cart", "channel=add", bundle("trailing_slash = \"add\"")).await;
        assert_eq!(s, 201, "{body}");
        let (s, body) = p.deploy(&token, "cart", "channel=remove", bundle("trailing_slash = \"remove\"")).await;
        assert_eq!(s, 201, "{body}");
        p.wait_serving(&format!("remove--cart.{BASE}"), "v3").await;
        Site { p, live: format!("cart.{BASE}") }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Vec<u8>) {
        self.get_on(&self.live, path, headers).await
    }

    async fn get_on(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Vec<u8>) {
        let mut req = self.p.http.get(format!("{}{path}", self.p.edge().url())).header("host", host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.headers().clone(), r.bytes().await.unwrap().to_vec())
    }
}

fn h<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn methods_conditionals_and_ranges() {
    let s = Site::start().await;
    let url = format!("{}/", s.p.edge().url());
    let (status, get, body) = s.get("/", &[]).await;
    assert_eq!(status, 200);
    let head = s.p.http.head(&url).header("host", &s.live).send().await.unwrap();
    assert_eq!(head.status(), 200);
    for name in ["content-type", "content-length", "etag", "last-modified", "cache-control", "accept-ranges"] {
        assert_eq!(head.headers().get(name), get.get(name), "{name}");
    }
    assert_eq!(h(&get, "content-length"), body.len().to_string());
    assert!(head.bytes().await.unwrap().is_empty(), "HEAD has no body");

    let post = s.p.http.post(&url).header("host", &s.live).send().await.unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    let delete = s.p.http.delete(format!("{url}about")).header("host", &s.live).send().await.unwrap();
    assert_eq!(delete.status(), 405);

    let etag = h(&get, "etag").to_owned();
    let modified = h(&get, "last-modified").to_owned();
    let (status, hdrs, body) = s.get("/", &[("if-none-match", &etag)]).await;
    assert_eq!((status, body.len(), h(&hdrs, "etag")), (304, 0, etag.as_str()));
    assert_eq!(s.get("/", &[("if-none-match", "\"other\"")]).await.0, 200);
    assert_eq!(s.get("/", &[("if-modified-since", &modified)]).await.0, 304);
    assert_eq!(s.get("/", &[("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")]).await.0, 200);
    assert_eq!(
        s.get("/", &[("if-none-match", "\"other\""), ("if-modified-since", &modified)]).await.0,
        200,
        "ETag decides"
    );

    // Ranges, from memory and from a disk-backed file.
    let js = js();
    let (status, hdrs, body) = s.get("/assets/plain.js", &[("range", "bytes=0-2")]).await;
    assert_eq!((status, h(&hdrs, "content-range"), body.as_slice()), (206, "bytes 0-2/10", &b"let"[..]));
    let (status, hdrs, body) =
        s.get("/assets/app.3f9a1c2b.js", &[("range", "bytes=-10"), ("accept-encoding", "br")]).await;
    assert_eq!(status, 206);
    assert_eq!(h(&hdrs, "content-range"), format!("bytes {}-{}/{}", js.len() - 10, js.len() - 1, js.len()));
    assert_eq!(h(&hdrs, "content-encoding"), "", "ranges are served from the identity bytes");
    assert_eq!(body, js.as_bytes()[js.len() - 10..]);
    let big = big();
    let (status, hdrs, body) = s.get("/big.bin", &[("range", "bytes=1000000-1000099")]).await;
    assert_eq!((status, h(&hdrs, "content-length")), (206, "100"));
    assert_eq!(body, big[1_000_000..1_000_100]);
    let (status, hdrs, body) = s.get("/big.bin", &[]).await;
    assert_eq!((status, body.len(), h(&hdrs, "accept-ranges")), (200, big.len(), "bytes"));
    assert!(body == big, "a file streamed from disk arrives intact");
    let (status, hdrs, _) = s.get("/assets/plain.js", &[("range", "bytes=10-")]).await;
    assert_eq!((status, h(&hdrs, "content-range")), (416, "bytes */10"));
    let (status, _, body) = s.get("/assets/plain.js", &[("range", "bytes=0-1,4-5")]).await;
    assert_eq!((status, body.len()), (200, 10), "multi-range gets the whole file");
    let (status, _, body) = s.get("/assets/plain.js", &[("range", "bytes=0-2"), ("if-range", "\"stale\"")]).await;
    assert_eq!((status, body.len()), (200, 10), "a stale If-Range gets the whole file");
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out).unwrap();
    out
}

fn ungzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

#[tokio::test]
async fn precompressed_encodings_and_cache_headers() {
    let s = Site::start().await;
    let js = js();
    let path = "/assets/app.3f9a1c2b.js";
    let (_, identity, body) = s.get(path, &[]).await;
    assert_eq!(body, js.as_bytes());
    assert_eq!(h(&identity, "content-encoding"), "");
    assert_eq!(h(&identity, "vary"), "accept-encoding");
    let (_, br, body) = s.get(path, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(h(&br, "content-encoding"), "br", "br is preferred on a tie");
    assert!(body.len() < js.len() / 5, "brotli is much smaller: {}", body.len());
    assert_eq!(unbrotli(&body), js.as_bytes());
    assert_eq!(h(&br, "content-length"), body.len().to_string());
    let (_, gz, body) = s.get(path, &[("accept-encoding", "br;q=0.5, gzip;q=0.9")]).await;
    assert_eq!(h(&gz, "content-encoding"), "gzip", "q-values are honoured");
    assert_eq!(ungzip(&body), js.as_bytes());
    let (_, _, body) = s.get(path, &[("accept-encoding", "br;q=0, gzip;q=0")]).await;
    assert_eq!(body, js.as_bytes(), "q=0 refuses an encoding");
    let etags = [h(&identity, "etag"), h(&br, "etag"), h(&gz, "etag")];
    assert!(
        etags[0] != etags[1] && etags[1] != etags[2] && etags[0] != etags[2],
        "each variant has its own ETag: {etags:?}"
    );
    let (status, _, _) = s.get(path, &[("accept-encoding", "br"), ("if-none-match", etags[1])]).await;
    assert_eq!(status, 304);
    // Tiny and already-compressed files have no variants.
    let (_, png, _) = s.get("/assets/logo.png", &[("accept-encoding", "br, gzip")]).await;
    assert_eq!((h(&png, "content-encoding"), h(&png, "vary")), ("", ""));

    // Cache policy by file kind.
    assert_eq!(h(&identity, "cache-control"), "public, max-age=31536000, immutable");
    let (_, plain_js, _) = s.get("/assets/plain.js", &[]).await;
    assert_eq!(h(&plain_js, "cache-control"), "public, max-age=0, must-revalidate");
    let (_, html, _) = s.get("/", &[]).await;
    assert_eq!(h(&html, "cache-control"), "public, max-age=0, must-revalidate");
    for hdrs in [&identity, &plain_js, &html, &png] {
        assert_eq!(h(hdrs, "x-content-type-options"), "nosniff");
        assert_eq!(h(hdrs, "x-robots-tag"), "", "live is indexable");
    }
    let (_, preview, _) = s.get_on(&format!("add--cart.{BASE}"), "/", &[]).await;
    assert_eq!(h(&preview, "x-robots-tag"), "noindex");
    let (_, version, _) = s.get_on(&format!("v1--cart.{BASE}"), "/", &[]).await;
    assert_eq!(h(&version, "x-robots-tag"), "noindex");
}

#[tokio::test]
async fn redirects_rewrites_and_headers_rules() {
    let s = Site::start().await;
    let redirect = |status: u16, location: &str| (status, location.to_owned());
    let got = |r: (u16, HeaderMap, Vec<u8>)| (r.0, h(&r.1, "location").to_owned());
    assert_eq!(got(s.get("/old-path", &[]).await), redirect(301, "/about"));
    assert_eq!(got(s.get("/old-path?utm=1", &[]).await), redirect(301, "/about?utm=1"), "the query is kept");
    assert_eq!(got(s.get("/blog/2024/hello", &[]).await), redirect(302, "/news/2024/hello"));
    assert_eq!(got(s.get("/moved", &[]).await), redirect(308, "https://example.com/new"));
    assert_eq!(got(s.get("/temp", &[]).await), redirect(307, "/about"));
    assert_eq!(got(s.get("/see", &[]).await), redirect(303, "/about"));
    assert_eq!(got(s.get("/default", &[]).await), redirect(301, "/about"));
    // A rule does not shadow an existing file ...
    let (status, _, body) = s.get("/about", &[]).await;
    assert_eq!((status, body.as_slice()), (200, &b"<h1>about</h1>"[..]));
    // ... unless forced.
    assert_eq!(got(s.get("/legacy.html", &[]).await), redirect(301, "/about"));
    // 200 rewrites serve the target with no redirect; placeholders fill the target.
    let (status, hdrs, body) = s.get("/p/42", &[]).await;
    assert_eq!((status, h(&hdrs, "location"), body.as_slice()), (200, "", &b"<h1>product page</h1>"[..]));
    let (status, _, body) = s.get("/gone", &[]).await;
    assert_eq!(status, 410);
    assert!(String::from_utf8_lossy(&body).contains("<h1>index</h1>"));
    let (status, _, body) = s.get("/secret", &[]).await;
    assert_eq!((status, body.as_slice()), (404, &b"<h1>custom not found</h1>"[..]));

    // Captured text is encoded again: it can never turn a path into another host.
    assert_eq!(got(s.get("/en/a%20b/c", &[]).await), redirect(301, "/a%20b/c"));
    let addr = s.p.edge().addr().to_owned();
    let (status, body) = switchyard_testkit::raw_get(&addr, &s.live, "/en/%5Cevil.com");
    assert_eq!((status, body.as_slice()), (404, &b"<h1>custom not found</h1>"[..]), "no Location: /\\evil.com");
    let (status, body) = switchyard_testkit::raw_get(&addr, &s.live, "/en/%2F%2Fevil.com");
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    // A 410 rule whose page is missing still says 410.
    let (status, _, body) = s.get("/retired", &[]).await;
    assert_eq!((status, body.as_slice()), (410, &b"gone\n"[..]));

    // _headers: set on every path, removed for /about, default header removed under /help/.
    let (_, hdrs, _) = s.get("/", &[]).await;
    assert_eq!(h(&hdrs, "x-frame-options"), "DENY");
    let (_, hdrs, _) = s.get("/about", &[]).await;
    assert_eq!(h(&hdrs, "x-frame-options"), "");
    let (_, hdrs, _) = s.get("/help/faq.html", &[]).await;
    assert_eq!((h(&hdrs, "x-content-type-options"), h(&hdrs, "cache-control")), ("", "public, max-age=60"));
    // A rule's cookie goes out beside the edge's own, which the rule does not replace (no
    // `sy_id`: a `.html` path without `Accept: text/html` is not a page load).
    let cookies: Vec<&str> = hdrs.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert_eq!(cookies[0], "help=1; Path=/help");
    assert!(cookies[1].starts_with("sy_v=cart.v"), "{cookies:?}");
    let (_, hdrs, _) = s.get("/about", &[]).await;
    let cookies: Vec<&str> = hdrs.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(cookies.len() == 2 && cookies[0].starts_with("sy_v=cart.v"), "one sy_v, no rule's: {cookies:?}");

    // Configuration files are not served: their names are unknown paths like any other
    // (the extension-less ones get the SPA, as any unknown route does).
    for (path, secret) in
        [("/_redirects", "/old-path"), ("/_headers", "X-Frame-Options"), ("/switchyard.toml", "spa_fallback")]
    {
        let (status, _, body) = s.get(path, &[("accept", "*/*")]).await;
        assert!(!String::from_utf8_lossy(&body).contains(secret), "{path} is not served");
        assert_eq!(status, if path.contains('.') { 404 } else { 200 }, "{path}");
    }
}

#[tokio::test]
async fn spa_fallback_clean_urls_trailing_slashes_and_paths() {
    let s = Site::start().await;
    // Navigation requests fall back to the SPA; missing assets are real 404s.
    let (status, hdrs, body) = s.get("/account/orders/17", &[]).await;
    assert_eq!((status, h(&hdrs, "content-type")), (200, "text/html; charset=utf-8"));
    assert!(String::from_utf8_lossy(&body).contains("<h1>index</h1>"));
    let (status, hdrs, body) = s.get("/assets/chunk-Ab12Cd34.js", &[]).await;
    assert_eq!(status, 404, "a stale chunk is never answered with HTML as 200");
    assert_eq!(body, b"<h1>custom not found</h1>");
    assert_eq!(h(&hdrs, "cache-control"), "public, max-age=0, must-revalidate");
    assert_eq!(
        s.get("/report.pdf", &[("accept", "text/html,application/xhtml+xml")]).await.0,
        200,
        "Accept: text/html navigates"
    );

    // Clean URLs (live): /about serves about.html, /about.html redirects to /about.
    let (status, hdrs, _) = s.get("/about.html", &[]).await;
    assert_eq!((status, h(&hdrs, "location")), (301, "/about"));
    let (status, hdrs, _) = s.get("/index.html", &[]).await;
    assert_eq!((status, h(&hdrs, "location")), (301, "/"));
    // keep: a directory without its slash redirects like nginx; with it, its index.
    let (status, hdrs, _) = s.get("/docs", &[]).await;
    assert_eq!((status, h(&hdrs, "location")), (301, "/docs/"));
    assert_eq!(s.get("/docs/", &[]).await.2, b"<h1>docs</h1>");

    let add = format!("add--cart.{BASE}");
    let (status, hdrs, _) = s.get_on(&add, "/docs", &[]).await;
    assert_eq!((status, h(&hdrs, "location")), (301, "/docs/"));
    assert_eq!(s.get_on(&add, "/docs/", &[]).await.2, b"<h1>docs</h1>");
    assert_eq!(s.get_on(&add, "/about.html", &[]).await.0, 200, "no clean URLs on this version");
    let remove = format!("remove--cart.{BASE}");
    let (status, hdrs, _) = s.get_on(&remove, "/docs/", &[]).await;
    assert_eq!((status, h(&hdrs, "location")), (301, "/docs"));
    assert_eq!(s.get_on(&remove, "/docs", &[]).await.2, b"<h1>docs</h1>");

    // Paths: decoded once, hostile ones refused, duplicate slashes collapsed, %2F literal.
    assert_eq!(s.get("//docs//", &[]).await.2, b"<h1>docs</h1>");
    // Sent byte for byte: an HTTP client library would normalise these before sending.
    let addr = s.p.edge().addr().to_owned();
    for bad in [
        "/%2e%2e/%2e%2e/etc/passwd",
        "/../../etc/passwd",
        "/a%00b",
        "/%FF%FE",
        "/assets/%2E%2E/x",
        "/a%0d%0aSet-Cookie:x",
    ] {
        let (status, body) = switchyard_testkit::raw_get(&addr, &s.live, bad);
        assert_eq!(status, 400, "{bad}: {}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).starts_with("bad request: "), "{bad}");
    }
    let (status, body) = switchyard_testkit::raw_get(&addr, &s.live, "/assets%2Fplain.js");
    assert_eq!(
        (status, body.as_slice()),
        (404, &b"<h1>custom not found</h1>"[..]),
        "%2F is part of a name, not a separator"
    );
    let (status, body) = switchyard_testkit::raw_get(&addr, &s.live, "/assets/./plain.js");
    assert_eq!((status, body.as_slice()), (200, &b"let x = 1;"[..]));
}

#[tokio::test]
async fn http2_with_prior_knowledge_on_the_same_port() {
    let s = Site::start().await;
    let h2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let url = format!("{}/assets/plain.js", s.p.edge().url());
    let r = h2.get(&url).header("host", &s.live).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-version"], "v1");
    assert_eq!(r.bytes().await.unwrap(), &b"let x = 1;"[..]);
    // HTTP/1.1 on the same port, keep-alive: several requests on one connection.
    let h1 = reqwest::Client::builder().http1_only().pool_max_idle_per_host(1).build().unwrap();
    for _ in 0..3 {
        let r = h1.get(&url).header("host", &s.live).send().await.unwrap();
        assert_eq!((r.version(), r.status().as_u16()), (reqwest::Version::HTTP_11, 200));
    }
}

#[tokio::test]
async fn files_in_memory_are_sent_from_their_open_cache_file_intact() {
    let s = Site::start().await;
    let photo = photo();
    let (status, hdrs, body) = s.get("/assets/photo.jpg", &[]).await;
    assert_eq!((status, h(&hdrs, "content-encoding")), (200, ""));
    assert!(body == photo, "from disk, the first time");
    // Requested, the photo is loaded into memory within a maintenance pass, and its cache file
    // is kept open (which the edge's open files show).
    let hex = switchyard_model::Digest::of(&photo).to_hex();
    let fds = format!("/proc/{}/fd", s.p.edge().pid());
    switchyard_testkit::wait_for("the edge to hold the photo's cache file open", Duration::from_secs(10), || async {
        let mut open = std::fs::read_dir(&fds).ok()?.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok());
        open.any(|target| target.ends_with(&hex)).then_some(())
    })
    .await;

    let h1 = reqwest::Client::builder().http1_only().pool_max_idle_per_host(1).build().unwrap();
    let h2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let url = format!("{}/assets/photo.jpg", s.p.edge().url());
    for (client, version) in [(&h1, reqwest::Version::HTTP_11), (&h2, reqwest::Version::HTTP_2)] {
        for _ in 0..2 {
            let r = client.get(&url).header("host", &s.live).send().await.unwrap();
            assert_eq!((r.version(), r.status().as_u16()), (version, 200));
            assert_eq!(r.headers()["content-length"], photo.len().to_string().as_str());
            assert!(r.bytes().await.unwrap() == photo, "{version:?}: the whole photo, intact");
        }
        for (range, want) in
            [("bytes=100000-100999", &photo[100_000..101_000]), ("bytes=-7", &photo[photo.len() - 7..])]
        {
            let r = client.get(&url).header("host", &s.live).header("range", range).send().await.unwrap();
            assert_eq!(r.status(), 206, "{version:?} {range}");
            assert!(r.bytes().await.unwrap() == want, "{version:?} {range}: the range's bytes");
        }
        let r = client.head(&url).header("host", &s.live).send().await.unwrap();
        assert_eq!(r.headers()["content-length"], photo.len().to_string().as_str());
        assert!(r.bytes().await.unwrap().is_empty(), "HEAD has no body");
    }

    // Two requests in one write (pipelined): each answer whole, in order, nothing in between.
    use std::io::Write;
    let mut raw = std::net::TcpStream::connect(s.p.edge().addr()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let host = &s.live;
    write!(
        raw,
        "GET /assets/photo.jpg HTTP/1.1\r\nHost: {host}\r\n\r\n\
         GET /assets/photo.jpg HTTP/1.1\r\nHost: {host}\r\nRange: bytes=5-9\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut got = Vec::new();
    raw.read_to_end(&mut got).unwrap();
    let head_end = |from: usize| from + got[from..].windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    let first = head_end(0);
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(got[first..first + photo.len()] == photo[..], "the first answer's body");
    let second = head_end(first + photo.len());
    assert!(got[first + photo.len()..].starts_with(b"HTTP/1.1 206 Partial Content\r\n"));
    assert_eq!(&got[second..], &photo[5..10], "the second answer's body, and nothing after it");
}

#[tokio::test]
async fn malformed_rules_fail_the_deploy_with_their_line() {
    let p = Platform::start().await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let cases = [
        (file("_redirects", "/ok /fine\n/bad\n"), "_redirects line 2: a rule needs a source and a target"),
        (file("_redirects", "/a /b 299\n"), "_redirects line 1: status 299"),
        (file("_headers", "/*\n  X-A: 1\n  Content-Length: 3\n"), "_headers line 3: content-length is set by the edge"),
        (file("_headers", "  X-A: 1\n"), "_headers line 1: a header line comes before any path"),
        (
            file("switchyard.toml", "[site]\nspa_fallbak = \"index.html\"\n"),
            "switchyard.toml line 2: unknown field `spa_fallbak`",
        ),
        (
            file("switchyard.toml", "[site]\nspa_fallback = \"app.html\"\n"),
            "spa_fallback names \"app.html\", which is not in the bundle",
        ),
    ];
    for (entry, needle) in cases {
        let (status, body) = p.deploy(&token, "cart", "promote=true", tar_gz(&[file("index.html", "x"), entry])).await;
        assert_eq!(status, 400, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message:?} should contain {needle:?}");
    }
    let (_, versions) = p.api("GET", "apps/cart/versions", &token, None).await;
    assert_eq!(versions, serde_json::json!([]), "no version was created");
}

#[tokio::test]
async fn with_no_memory_budget_every_file_streams_from_disk_intact() {
    let s = Site::start().await;
    let edge = s.p.add_edge("edge-no-memory", "local", &["--memory-budget-mib", "0"]);
    let url = format!("{}/assets/app.3f9a1c2b.js", edge.url());
    let got = switchyard_testkit::wait_for("the second edge to serve", std::time::Duration::from_secs(10), || async {
        let r = s.p.http.get(&url).header("host", &s.live).header("accept-encoding", "gzip").send().await.ok()?;
        (r.status() == 200).then_some(r)
    })
    .await;
    assert_eq!(got.headers()["content-encoding"], "gzip");
    assert_eq!(ungzip(&got.bytes().await.unwrap()), js().as_bytes());
    let r =
        s.p.http
            .get(format!("{}/assets/plain.js", edge.url()))
            .header("host", &s.live)
            .header("range", "bytes=4-4")
            .send()
            .await
            .unwrap();
    assert_eq!((r.status().as_u16(), r.bytes().await.unwrap().as_ref()), (206, &b"x"[..]));
}

/// Reads from `stream` until the edge closes it, within `limit`; returns what it sent.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit: std::time::Duration) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut got))
        .await
        .unwrap_or_else(|_| panic!("the edge kept the connection open past {limit:?}; it sent {got:?}"))
        .unwrap();
    got
}

#[tokio::test]
async fn header_read_timeout_closes_slow_and_idle_connections() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let s = Site::start().await;
    let edge = s.p.add_edge("edge-timeout", "local", &["--header-read-timeout-secs", "2"]);
    let request = format!("GET /assets/plain.js HTTP/1.1\r\nHost: {}\r\n\r\n", s.live);
    switchyard_testkit::wait_for("the edge to serve", std::time::Duration::from_secs(10), || async {
        let r = s.p.http.get(format!("{}/assets/plain.js", edge.url())).header("host", &s.live).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;

    // A head that never ends: closed without an answer, not before the timeout (less the
    // timer's half-second tick) and well before three times it.
    let mut slow = TcpStream::connect(edge.addr()).await.unwrap();
    let started = std::time::Instant::now();
    slow.write_all(format!("GET / HTTP/1.1\r\nHost: {}\r\nX-Slow: 1\r\n", s.live).as_bytes()).await.unwrap();
    let got = read_until_closed(&mut slow, std::time::Duration::from_secs(6)).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(1500), "closed after {:?}", started.elapsed());
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"), "{}", String::from_utf8_lossy(&got));

    // A head sent in pieces within the timeout is answered; the connection then idles out.
    let mut idle = TcpStream::connect(edge.addr()).await.unwrap();
    let (first, rest) = request.split_at(10);
    idle.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    idle.write_all(rest.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let got = String::from_utf8(read_until_closed(&mut idle, std::time::Duration::from_secs(6)).await).unwrap();
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    assert!(got.ends_with("let x = 1;"), "{got}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(1500), "idle closed after {:?}", started.elapsed());

    // Other connections were served all along.
    let r = s.p.http.get(format!("{}/assets/plain.js", edge.url())).header("host", &s.live).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// SIGTERM: a keep-alive connection idle between requests is closed at once, not after the
/// header-read timeout, and the drain ends without waiting for its deadline, on every one of
/// the edge's serving threads (`--workers`).
#[tokio::test]
async fn sigterm_closes_idle_keep_alive_connections_and_the_drain_ends() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    let s = Site::start().await;
    let edge = s.p.add_edge("edge-drain", "local", &["--workers", "3"]);
    switchyard_testkit::wait_for("the edge to serve", std::time::Duration::from_secs(10), || async {
        let r = s.p.http.get(format!("{}/assets/plain.js", edge.url())).header("host", &s.live).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut conn = TcpStream::connect(edge.addr()).await.unwrap();
        conn.write_all(format!("GET /assets/plain.js HTTP/1.1\r\nHost: {}\r\n\r\n", s.live).as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(b"let x = 1;") {
            let n =
                tokio::time::timeout(std::time::Duration::from_secs(10), conn.read(&mut buf)).await.unwrap().unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"), "{}", String::from_utf8_lossy(&got));
        idle.push(conn);
    }
    // The threads that serve, by name.
    let mut serving: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", edge.pid()))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .filter(|name| name.starts_with("serve-"))
        .collect();
    serving.sort();
    assert_eq!(serving, ["serve-0", "serve-1", "serve-2"]);
    let started = std::time::Instant::now();
    assert!(std::process::Command::new("kill").args(["-TERM", &edge.pid().to_string()]).status().unwrap().success());
    for conn in &mut idle {
        // Well under the 10 s header-read timeout and the 10 s drain deadline.
        let got = read_until_closed(conn, std::time::Duration::from_secs(5)).await;
        assert!(got.is_empty(), "nothing more after the answer: {}", String::from_utf8_lossy(&got));
    }
    switchyard_testkit::wait_for("the drain to end on each thread", std::time::Duration::from_secs(5), || async {
        (edge.logs().matches("all connections drained").count() == 3).then_some(())
    })
    .await;
    assert!(!edge.logs().contains("drain timed out"), "{}", edge.logs());
    assert!(started.elapsed() < std::time::Duration::from_secs(9), "{:?}", started.elapsed());
}
