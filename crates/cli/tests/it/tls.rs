//! Custom domains and TLS: the control plane's domain and certificate API (validation, tenant
//! isolation, keys never returned or logged) and the edge's HTTPS listener (SNI selection,
//! wildcards, hot replacement, ALPN, redirects, HSTS, restarts without the control plane).

use serde_json::{Value, json};
use switchyard_testkit::archive::{file, tar_gz};
use switchyard_testkit::tls::{Ca, Leaf, p384_key, rsa_key};
use switchyard_testkit::{ADMIN_TOKEN, Platform, run_cli};

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
        ("order", &misordered, 422, "", ""),
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
        let stored = std::fs::read_dir(&keys).map(|d| d.count()).unwrap_or(0);
        assert_eq!(stored, 0, "{what}: a key file was left in {}", keys.display());
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
    assert_eq!(std::fs::read_dir(p.control().data.join("keys")).unwrap().count(), 0);
    let _ = (tar_gz(&[file("x", "y")]), key_body(&good));
}
