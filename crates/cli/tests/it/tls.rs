//! Custom domains and TLS: the control plane's domain and certificate API (validation, tenant
//! isolation, keys never returned or logged) and the edge's HTTPS listener (SNI selection,
//! wildcards, hot replacement, ALPN, redirects, HSTS, restarts without the control plane).

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_testkit::archive::{file, tar_gz};
use switchyard_testkit::tls::{self, Ca, Leaf, p384_key, rsa_key};
use switchyard_testkit::{ADMIN_TOKEN, BASE, Edge, Platform, run_cli, wait_for};

async fn add_cert(p: &Platform, token: &str, domain: &str, leaf: &Leaf) -> (u16, Value) {
    p.api("POST", "certs", token, Some(json!({ "domain": domain, "cert": leaf.chain_pem, "key": leaf.key_pem }))).await
}

/// The base64 body of a PEM key: what must never show up in answers or logs.
fn key_body(leaf: &Leaf) -> String {
    leaf.key_pem.lines().filter(|l| !l.starts_with("-----")).collect::<Vec<_>>().concat()
}

fn assert_no_key(text: &str, leaf: &Leaf, what: &str) {
    let body = key_body(leaf);
    for line in leaf.key_pem.lines().filter(|l| !l.starts_with("-----") && l.len() > 20) {
        assert!(!text.contains(line), "{what} contains a line of the private key");
    }
    assert!(!text.contains(&body[..40.min(body.len())]), "{what} contains the private key");
    assert!(!text.contains("PRIVATE KEY"), "{what} contains a PEM private key");
}

#[tokio::test]
async fn domains_belong_to_one_tenant_and_names_are_checked() {
    let p = Platform::start().await;
    let a = p.tenant("acme").await;
    let b = p.tenant("bolt").await;
    p.app(&a, "cart").await;
    p.app(&b, "shop").await;

    let (s, body) = p.api("POST", "domains", &a, Some(json!({ "name": "Shop.Example.com", "app": "cart" }))).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!((body["name"].as_str(), body["channel"].as_str()), (Some("shop.example.com"), Some("live")));
    assert_eq!(body["https_redirect"], true);
    let (s, body) = p
        .api("POST", "domains", &a, Some(json!({ "name": "*.example.com", "app": "cart", "channel": "preview" })))
        .await;
    assert_eq!(s, 201, "{body}");

    // Another tenant: a clear 409; its list stays empty; remove is a 404.
    let (s, body) = p.api("POST", "domains", &b, Some(json!({ "name": "shop.example.com", "app": "shop" }))).await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["error"]["message"], "domain \"shop.example.com\" is already held by another tenant");
    let (s, body) = p.api("GET", "domains", &b, None).await;
    assert_eq!((s, body), (200, json!([])));
    let (s, _) = p.api("DELETE", "domains/shop.example.com", &b, None).await;
    assert_eq!(s, 404);
    // Another tenant's app is not found.
    let (s, _) = p.api("POST", "domains", &b, Some(json!({ "name": "b.example.org", "app": "cart" }))).await;
    assert_eq!(s, 404);

    for (name, needle) in [
        ("localhost", "at least two labels"),
        ("a..example.com", "empty label"),
        ("sh op.example.com", "' '"),
        ("a.*.example.com", "wildcard"),
        ("10.0.0.1", "IP address"),
        ("cart.test.example", "base domain"),
    ] {
        let (s, body) = p.api("POST", "domains", &a, Some(json!({ "name": name, "app": "cart" }))).await;
        assert_eq!(s, 400, "{name}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{name}: {message}");
    }

    let (s, list) = p.api("GET", "domains", &a, None).await;
    assert_eq!(s, 200);
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["*.example.com", "shop.example.com"]);

    // The CLI: add, list, remove.
    let api = p.control().url();
    let out = run_cli(api, &a, &["domains", "add", "www.example.net", "--app", "cart", "--hsts-max-age", "600"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run_cli(api, &a, &["domains", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("www.example.net") && text.contains("600s"), "{text}");
    let out = run_cli(api, &b, &["domains", "add", "www.example.net", "--app", "shop"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already held by another tenant"));
    let out = run_cli(api, &a, &["domains", "remove", "www.example.net"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, list) = p.api("GET", "domains", &a, None).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn certificates_are_validated_and_keys_never_come_back() {
    let p = Platform::start().await;
    let a = p.tenant("acme").await;
    let b = p.tenant("bolt").await;
    p.app(&a, "cart").await;
    let (s, _) = p.api("POST", "domains", &a, Some(json!({ "name": "shop.example.com", "app": "cart" }))).await;
    assert_eq!(s, 201);
    let root = Ca::new("Root");
    let inter = root.intermediate("Intermediate");
    let good = inter.leaf(&["shop.example.com"]).with_chain(&[&inter]);
    let other_key = inter.leaf(&["shop.example.com"]);
    let expired = inter.leaf_with(&["shop.example.com"], rcgen::KeyPair::generate().unwrap(), Some((2001, 2002)));
    let future = inter.leaf_with(&["shop.example.com"], rcgen::KeyPair::generate().unwrap(), Some((3001, 3002)));
    let wrong_name = inter.leaf(&["elsewhere.example.com"]);
    let misordered = Leaf { chain_pem: format!("{}{}", root.pem(), good.chain_pem), key_pem: good.key_pem.clone() };
    let wrong_issuer = inter.leaf(&["shop.example.com"]).with_chain(&[&root]);
    let mismatched = Leaf { chain_pem: good.chain_pem.clone(), key_pem: other_key.key_pem.clone() };
    let garbage = Leaf { chain_pem: "hello".into(), key_pem: good.key_pem.clone() };
    let bad_key = Leaf {
        chain_pem: good.chain_pem.clone(),
        key_pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(),
    };
    let cases: [(&str, &Leaf, u16, &str, &str); 8] = [
        ("pem", &garbage, 422, "invalid_certificate", "certificate PEM"),
        ("key", &bad_key, 422, "invalid_key", "private key"),
        ("mismatch", &mismatched, 422, "key_mismatch", "does not match the leaf"),
        ("name", &wrong_name, 422, "name_mismatch", "does not cover shop.example.com"),
        ("expired", &expired, 422, "certificate_expired", "expired at 2002-01-01"),
        ("future", &future, 422, "certificate_not_yet_valid", "not valid until 3001-01-01"),
        ("order", &misordered, 422, "chain_order", "the key's certificate is #2 in the file"),
        ("issuer", &wrong_issuer, 422, "chain_order", "is not issued by certificate #2"),
    ];
    let mut answers = String::new();
    for (what, leaf, status, code, needle) in cases {
        let (s, body) = add_cert(&p, &a, "shop.example.com", leaf).await;
        answers += &body.to_string();
        assert_eq!(s, status, "{what}: {body}");
        if !code.is_empty() {
            assert_eq!(body["error"]["code"], code, "{what}: {body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(needle), "{what}: {message}");
        }
        // Nothing stored.
        let (_, list) = p.api("GET", "certs", &a, None).await;
        assert_eq!(list, json!([]), "{what}");
        let keys = p.control().data.join("keys");
        assert_eq!(cert_keys(&keys), 0, "{what}: a key file was left in {}", keys.display());
    }

    // Another tenant cannot put a certificate on it; a domain that does not exist is a 404.
    let (s, _) = add_cert(&p, &b, "shop.example.com", &good).await;
    assert_eq!(s, 404);
    let (s, _) = add_cert(&p, &a, "nope.example.com", &good).await;
    assert_eq!(s, 404);

    // ECDSA P-256 with an intermediate.
    let (s, body) = add_cert(&p, &a, "shop.example.com", &good).await;
    assert_eq!(s, 201, "{body}");
    answers += &body.to_string();
    assert_eq!(body["fingerprint"], good.fingerprint());
    assert_eq!(body["chain_len"], 2);
    assert_eq!(body["sans"], json!(["shop.example.com"]));
    assert!(body["issuer"].as_str().unwrap().contains("Intermediate"), "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let key_file = p.control().data.join("keys").join(format!("{id}.pem"));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // RSA and P-384 replace it; the replaced key file goes.
    let rsa = root.leaf_with(&["shop.example.com"], rsa_key(), None);
    let (s, body) = add_cert(&p, &a, "shop.example.com", &rsa).await;
    assert_eq!(s, 201, "{body}");
    answers += &body.to_string();
    assert!(!key_file.exists(), "the replaced key is removed");
    let p384 = root.leaf_with(&["shop.example.com"], p384_key(), None);
    let (s, body) = add_cert(&p, &a, "shop.example.com", &p384).await;
    assert_eq!(s, 201, "{body}");
    answers += &body.to_string();
    let id = body["id"].as_str().unwrap().to_owned();

    // Listings and the CLI never show a key; the key is for edge tokens only.
    for token in [&a, ADMIN_TOKEN] {
        let (_, list) = p.api("GET", "certs", token, None).await;
        answers += &list.to_string();
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["fingerprint"], p384.fingerprint());
        let (_, list) = p.api("GET", "domains", token, None).await;
        answers += &list.to_string();
        assert_eq!(list[0]["cert"], p384.fingerprint());
    }
    let out = run_cli(p.control().url(), &a, &["--json", "certs", "list"]);
    answers += &String::from_utf8_lossy(&out.stdout);
    let out = run_cli(p.control().url(), &a, &["certs", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("shop.example.com") && text.contains(&p384.fingerprint()), "{text}");
    answers += &text;
    for token in [&a, ADMIN_TOKEN] {
        let (s, body) = p.api("GET", &format!("edge/certs/{id}"), token, None).await;
        assert_eq!(s, 403, "{body}");
        answers += &body.to_string();
    }
    let (s, body) = p.api("GET", &format!("edge/certs/{id}"), &p.edge_token, None).await;
    assert_eq!(s, 200);
    assert_eq!(body["key"], p384.key_pem);

    for leaf in [&good, &rsa, &p384, &mismatched] {
        assert_no_key(&answers, leaf, "an API answer");
        assert_no_key(&p.control().logs(), leaf, "the control plane's log");
    }

    // The CLI uploads from files; certs remove drops the key file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fullchain.pem"), &good.chain_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &good.key_pem).unwrap();
    let (cert, key) = (dir.path().join("fullchain.pem"), dir.path().join("key.pem"));
    let out = run_cli(
        p.control().url(),
        &a,
        &[
            "certs",
            "add",
            "--domain",
            "shop.example.com",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_no_key(&String::from_utf8_lossy(&out.stdout), &good, "the CLI's output");
    let out = run_cli(p.control().url(), &a, &["certs", "remove", "--domain", "shop.example.com"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, list) = p.api("GET", "certs", &a, None).await;
    assert_eq!(list, json!([]));
    assert_eq!(cert_keys(&p.control().data.join("keys")), 0);
}

/// Certificate key files (`<id>.pem`) in the control plane's key directory (which also holds
/// the preview signing key).
fn cert_keys(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".pem"))).count()
}

/// A platform whose edge also serves HTTPS, with `platform` as the default certificate for
/// `*.test.example`; returns the files' directory (kept alive by the caller).
fn https_edge(p: &mut Platform, platform: &Leaf) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("platform.pem"), &platform.chain_pem).unwrap();
    std::fs::write(dir.path().join("platform.key"), &platform.key_pem).unwrap();
    start_https_edge(p, p.control().url().to_owned(), dir.path());
    dir
}

fn start_https_edge(p: &mut Platform, control: String, files: &std::path::Path) {
    let cache = p.dir.path().join("edge");
    let (cert, key) = (files.join("platform.pem"), files.join("platform.key"));
    let args =
        ["--https-addr", "127.0.0.1:0", "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];
    if let Some(edge) = p.edge.take() {
        edge.stop();
    }
    p.edge = Some(Edge::start_with(&control, &p.edge_token, &cache, BASE, &args));
}

/// Waits until a handshake for `sni` presents the certificate with `fingerprint`.
async fn wait_cert(connector: &tokio_rustls::TlsConnector, addr: &str, sni: &str, fingerprint: &str) {
    let what = format!("{sni} to present {fingerprint}");
    wait_for(&what, Duration::from_secs(10), || async {
        let stream = tls::handshake(connector, addr, sni).await.ok()?;
        (tls::peer_fingerprint(&stream) == fingerprint).then_some(())
    })
    .await
}

async fn https_get(connector: &tokio_rustls::TlsConnector, addr: &str, host: &str, path: &str) -> tls::Response {
    let mut stream = tls::handshake(connector, addr, host).await.expect("handshake");
    tls::get(&mut stream, host, path).await.expect("response")
}

#[tokio::test]
async fn sni_picks_each_merchants_certificate_and_replacement_needs_no_restart() {
    let mut p = Platform::start().await;
    let a = p.tenant("acme").await;
    let b = p.tenant("bolt").await;
    p.app(&a, "cart").await;
    p.app(&b, "store").await;
    assert_eq!(p.deploy(&a, "cart", "promote=true", tar_gz(&[file("index.html", "acme")])).await.0, 201);
    assert_eq!(p.deploy(&b, "store", "promote=true", tar_gz(&[file("index.html", "bolt")])).await.0, 201);
    let ca = Ca::new("Test CA");
    let platform = ca.leaf(&[&format!("*.{BASE}")]);
    let _files = https_edge(&mut p, &platform);
    for (token, name, app) in
        [(&a, "shop.example.com", "cart"), (&b, "store.example.org", "store"), (&a, "*.wild.example.net", "cart")]
    {
        let (s, body) = p.api("POST", "domains", token, Some(json!({ "name": name, "app": app }))).await;
        assert_eq!(s, 201, "{body}");
    }
    let shop = ca.leaf(&["shop.example.com"]);
    let store = ca.leaf(&["store.example.org"]);
    let wild = ca.leaf(&["*.wild.example.net"]);
    assert_eq!(add_cert(&p, &a, "shop.example.com", &shop).await.0, 201);
    assert_eq!(add_cert(&p, &b, "store.example.org", &store).await.0, 201);
    assert_eq!(add_cert(&p, &a, "*.wild.example.net", &wild).await.0, 201);

    let addr = p.edge().https_addr().to_owned();
    let both = tls::connector(&ca.pem(), &["h2", "http/1.1"]);
    let h1 = tls::connector(&ca.pem(), &["http/1.1"]);
    wait_cert(&h1, &addr, "shop.example.com", &shop.fingerprint()).await;
    wait_cert(&h1, &addr, "store.example.org", &store.fingerprint()).await;
    wait_cert(&h1, &addr, "a.wild.example.net", &wild.fingerprint()).await;
    wait_cert(&h1, &addr, &format!("cart.{BASE}"), &platform.fingerprint()).await;

    // Each merchant's site behind its own certificate; wildcard domains route one label deep.
    let r = https_get(&h1, &addr, "shop.example.com", "/").await;
    assert_eq!((r.status, r.body.as_slice(), r.header("x-switchyard-app")), (200, &b"acme"[..], Some("cart")));
    assert_eq!(r.header("x-robots-tag"), None, "live traffic on a custom domain is indexable");
    let r = https_get(&h1, &addr, "store.example.org", "/").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"bolt"[..]));
    let r = https_get(&h1, &addr, "deals.wild.example.net", "/").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"acme"[..]));
    let r = https_get(&h1, &addr, &format!("store.{BASE}"), "/").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"bolt"[..]));

    // Unknown names (and a wildcard two labels deep) get no certificate at all.
    for sni in ["unknown.example.net", "a.b.wild.example.net", "example.com", "a.b.test.example"] {
        let err = tls::handshake(&h1, &addr, sni).await.err();
        assert!(err.is_some(), "{sni}: a handshake for an unknown name must fail");
    }

    // ALPN: h2 when offered, HTTP/1.1 otherwise.
    let stream = tls::handshake(&both, &addr, "shop.example.com").await.unwrap();
    assert_eq!(tls::alpn(&stream).as_deref(), Some("h2"));
    let stream = tls::handshake(&h1, &addr, "shop.example.com").await.unwrap();
    assert_eq!(tls::alpn(&stream).as_deref(), Some("http/1.1"));
    // The edge's order of cipher suites wins over the client's (ring's default client order
    // asks for AES-256-GCM-SHA384 first).
    assert_eq!(tls::cipher_suite(&stream), "TLS13_AES_128_GCM_SHA256");

    // Replace shop's certificate while a client keeps a connection open.
    let mut open = tls::handshake(&h1, &addr, "shop.example.com").await.unwrap();
    assert_eq!(tls::get(&mut open, "shop.example.com", "/").await.unwrap().status, 200);
    let renewed = ca.leaf(&["shop.example.com"]);
    let (s, body) = add_cert(&p, &a, "shop.example.com", &renewed).await;
    assert_eq!(s, 201, "{body}");
    wait_cert(&h1, &addr, "shop.example.com", &renewed.fingerprint()).await;
    let r = tls::get(&mut open, "shop.example.com", "/").await.expect("the open connection keeps working");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"acme"[..]));
    assert_eq!(tls::peer_fingerprint(&open), shop.fingerprint());
    // The other merchants' certificates did not move.
    wait_cert(&h1, &addr, "store.example.org", &store.fingerprint()).await;

    // Removing a certificate: the name is refused again, without restart.
    assert_eq!(p.api("DELETE", "certs/store.example.org", &b, None).await.0, 200);
    wait_for("store.example.org to be refused", Duration::from_secs(10), || async {
        tls::handshake(&h1, &addr, "store.example.org").await.is_err().then_some(())
    })
    .await;

    // Key files on the edge are 0600; no key reached a log.
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = p.edge().cache.join("tls");
        // shop (renewed) and wild; the removed and replaced ones are pruned after the swap.
        let files = wait_for("the edge to prune old certificates", Duration::from_secs(10), || async {
            let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
            (files.len() == 2).then_some(files)
        })
        .await;
        for f in files {
            assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
    for leaf in [&shop, &store, &wild, &renewed] {
        assert_no_key(&p.edge().logs(), leaf, "the edge's log");
        assert_no_key(&p.control().logs(), leaf, "the control plane's log");
    }
}

#[tokio::test]
async fn plain_http_redirects_hsts_curl_and_a_restart_without_the_control_plane() {
    let mut p = Platform::start().await;
    let a = p.tenant("acme").await;
    p.app(&a, "cart").await;
    assert_eq!(p.deploy(&a, "cart", "promote=true", tar_gz(&[file("index.html", "acme")])).await.0, 201);
    let ca = Ca::new("Test CA");
    let files = https_edge(&mut p, &ca.leaf(&[&format!("*.{BASE}")]));
    let domains = [
        json!({ "name": "shop.example.com", "app": "cart", "hsts_max_age": 600, "hsts_include_subdomains": true }),
        json!({ "name": "plain.example.com", "app": "cart" }),
        json!({ "name": "both.example.com", "app": "cart", "https_redirect": false }),
    ];
    for d in domains {
        let (s, body) = p.api("POST", "domains", &a, Some(d)).await;
        assert_eq!(s, 201, "{body}");
    }
    let shop = ca.leaf(&["shop.example.com"]);
    assert_eq!(add_cert(&p, &a, "shop.example.com", &shop).await.0, 201);
    let both = ca.leaf(&["both.example.com"]);
    assert_eq!(add_cert(&p, &a, "both.example.com", &both).await.0, 201);
    let addr = p.edge().https_addr().to_owned();
    let port = addr.rsplit(':').next().unwrap().to_owned();
    let h1 = tls::connector(&ca.pem(), &["http/1.1"]);
    wait_cert(&h1, &addr, "shop.example.com", &shop.fingerprint()).await;
    wait_cert(&h1, &addr, "both.example.com", &both.fingerprint()).await;

    // Plain HTTP: 308 to HTTPS with the path and query, when a certificate covers the domain.
    let r = p.edge_get("shop.example.com", "/a/b?x=1").await;
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], format!("https://shop.example.com:{port}/a/b?x=1").as_str());
    assert!(r.headers().get("strict-transport-security").is_none(), "HSTS only over HTTPS");
    let r = p.edge_get("plain.example.com", "/").await;
    assert_eq!(r.status(), 200, "no certificate, no redirect");
    let r = p.edge_get("both.example.com", "/").await;
    assert_eq!(r.status(), 200, "redirect turned off");
    let r = p.edge_get(&format!("cart.{BASE}"), "/").await;
    assert_eq!(r.status(), 200, "platform hosts are not redirected");

    let r = https_get(&h1, &addr, "shop.example.com", "/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("strict-transport-security"), Some("max-age=600; includeSubDomains"));
    let r = https_get(&h1, &addr, "both.example.com", "/").await;
    assert_eq!((r.status, r.header("strict-transport-security")), (200, None));

    // A real client: curl with SNI, the test CA, and h2.
    let ca_file = files.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let curl = |extra: &[&str]| {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--resolve", &format!("shop.example.com:{port}:127.0.0.1"), "--cacert"])
            .arg(&ca_file)
            .args(["-w", "\n%{http_version} %{http_code}"])
            .args(extra)
            .arg(format!("https://shop.example.com:{port}/"))
            .output()
            .expect("curl is installed (deploy/test.sh installs it)");
        assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(curl(&[]), "acme\n2 200");
    assert_eq!(curl(&["--http1.1"]), "acme\n1.1 200");

    // The edge restarted while the control plane is down still serves HTTPS.
    let control_url = p.control().url().to_owned();
    p.control.take().unwrap().stop();
    start_https_edge(&mut p, control_url, files.path());
    let addr = p.edge().https_addr().to_owned();
    let r = https_get(&h1, &addr, "shop.example.com", "/").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"acme"[..]));
    let stream = tls::handshake(&h1, &addr, "shop.example.com").await.unwrap();
    assert_eq!(tls::peer_fingerprint(&stream), shop.fingerprint());
    assert_no_key(&p.edge().logs(), &shop, "the restarted edge's log");
}

#[test]
fn up_serves_https_with_a_generated_platform_certificate() {
    use std::io::{BufRead, BufReader};
    let data = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(switchyard_testkit::bin_path("switchyard"))
        .args([
            "up",
            "--api-addr",
            "127.0.0.1:0",
            "--edge-addr",
            "127.0.0.1:0",
            "--https-addr",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(data.path())
        .env_remove("SWITCHYARD_ADMIN_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut banner = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            banner += &line;
            banner.push('\n');
            if line.contains("Press Ctrl-C") {
                let _ = tx.send(std::mem::take(&mut banner));
            }
        }
    });
    let banner = rx.recv_timeout(Duration::from_secs(30)).expect("`switchyard up` printed its banner");
    let field = |label: &str| {
        let line =
            banner.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{label}: {banner}"));
        line.trim_start()[label.len()..].split_whitespace().next().unwrap().to_owned()
    };
    let url = field("Sample shop (HTTPS)");
    let cert = field("Platform certificate");
    assert!(url.starts_with("https://shop.localhost:"), "{url}");
    let port = url.trim_end_matches('/').rsplit(':').next().unwrap().to_owned();
    let out = std::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "--resolve"])
        .arg(format!("shop.localhost:{port}:127.0.0.1"))
        .args(["--cacert", &cert, &url])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200 2", "{}", String::from_utf8_lossy(&out.stderr));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.path().join("tls/platform.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
