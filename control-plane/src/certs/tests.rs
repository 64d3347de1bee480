use std::time::SystemTime;

use switchyard_testkit::tls::{Ca, p384_key, rsa_key};

use super::*;

fn domain(s: &str) -> DomainName {
    DomainName::new(s).unwrap()
}

fn check(name: &str, chain: &str, key: &str) -> Result<Validated, CertError> {
    validate(&domain(name), chain, &KeyPem::new(key.to_owned()), SystemTime::now())
}

#[test]
fn ecdsa_rsa_and_chains_are_accepted() {
    let root = Ca::new("Test Root");
    let inter = root.intermediate("Test Intermediate");
    let leaf = inter.leaf(&["shop.example.com", "www.shop.example.com"]).with_chain(&[&inter]);
    let v = check("shop.example.com", &leaf.chain_pem, &leaf.key_pem).unwrap();
    assert_eq!(v.chain_len, 2);
    assert_eq!(v.sans, ["shop.example.com", "www.shop.example.com"]);
    assert_eq!(v.fingerprint, leaf.fingerprint());
    assert!(v.issuer.contains("Test Intermediate"), "{}", v.issuer);
    assert!(v.chain_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
    // The re-encoded chain parses back to the same certificates.
    let again = check("shop.example.com", &v.chain_pem, &leaf.key_pem).unwrap();
    assert_eq!(again.fingerprint, v.fingerprint);

    let rsa = root.leaf_with(&["rsa.example.com"], rsa_key(), None);
    check("rsa.example.com", &rsa.chain_pem, &rsa.key_pem).unwrap();
    let p384 = root.leaf_with(&["p384.example.com"], p384_key(), None);
    check("p384.example.com", &p384.chain_pem, &p384.key_pem).unwrap();
}

#[test]
fn wildcard_rules() {
    let ca = Ca::new("CA");
    let wild = ca.leaf(&["*.example.com"]);
    check("a.example.com", &wild.chain_pem, &wild.key_pem).unwrap();
    check("*.example.com", &wild.chain_pem, &wild.key_pem).unwrap();
    let e = check("a.b.example.com", &wild.chain_pem, &wild.key_pem).unwrap_err();
    assert_eq!(e.code(), "name_mismatch");
    let e = check("example.com", &wild.chain_pem, &wild.key_pem).unwrap_err();
    assert_eq!(e.code(), "name_mismatch");
    let exact = ca.leaf(&["a.example.com"]);
    let e = check("*.example.com", &exact.chain_pem, &exact.key_pem).unwrap_err();
    assert!(e.to_string().contains("does not cover *.example.com"), "{e}");
}

#[test]
fn every_bad_upload_names_its_check() {
    let ca = Ca::new("CA");
    let good = ca.leaf(&["shop.example.com"]);
    let other = ca.leaf(&["shop.example.com"]);

    let e = check("shop.example.com", "not a pem", &good.key_pem).unwrap_err();
    assert_eq!(e, CertError::Pem("no CERTIFICATE block found".into()));
    let e = check("shop.example.com", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", &good.key_pem)
        .unwrap_err();
    assert!(e.to_string().starts_with("certificate PEM: "), "{e}");
    let e = check("shop.example.com", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", &good.key_pem)
        .unwrap_err();
    assert!(matches!(e, CertError::X509 { index: 1, .. }), "{e}");
    let both = format!("{}{}", good.chain_pem, good.key_pem);
    assert_eq!(check("shop.example.com", &both, &good.key_pem).unwrap_err(), CertError::KeyInChain);

    let e = check("shop.example.com", &good.chain_pem, "nope").unwrap_err();
    assert!(e.to_string().starts_with("private key PEM: "), "{e}");
    assert_eq!(check("shop.example.com", &good.chain_pem, &other.key_pem).unwrap_err(), CertError::KeyMismatch);

    let e = check("other.example.com", &good.chain_pem, &good.key_pem).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the leaf certificate does not cover other.example.com: its DNS names are [shop.example.com]"
    );

    let old = ca.leaf_with(&["shop.example.com"], rcgen::KeyPair::generate().unwrap(), Some((2000, 2001)));
    let e = check("shop.example.com", &old.chain_pem, &old.key_pem).unwrap_err();
    assert_eq!(e.code(), "certificate_expired");
    assert!(e.to_string().contains("expired at 2001-01-01T00:00:00Z"), "{e}");
    let future = ca.leaf_with(&["shop.example.com"], rcgen::KeyPair::generate().unwrap(), Some((3000, 3001)));
    let e = check("shop.example.com", &future.chain_pem, &future.key_pem).unwrap_err();
    assert_eq!(e.code(), "certificate_not_yet_valid");

    // Intermediate before the leaf, and a chain whose second certificate did not sign the first.
    let inter = ca.intermediate("Inter");
    let leaf = inter.leaf(&["shop.example.com"]);
    let reversed = format!("{}{}", inter.pem(), leaf.chain_pem);
    let e = check("shop.example.com", &reversed, &leaf.key_pem).unwrap_err();
    assert_eq!(e, CertError::LeafNotFirst { index: 2 });
    assert_eq!(e.code(), "chain_order");
    let stranger = Ca::new("Inter");
    let wrong = format!("{}{}", leaf.chain_pem, stranger.pem());
    let e = check("shop.example.com", &wrong, &leaf.key_pem).unwrap_err();
    assert_eq!(e.code(), "chain_order");
    assert!(e.to_string().contains("certificate #1"), "{e}");
    let unrelated = format!("{}{}", leaf.chain_pem, ca.pem());
    assert_eq!(check("shop.example.com", &unrelated, &leaf.key_pem).unwrap_err().code(), "chain_order");
}

#[test]
fn keys_are_redacted_and_stored_0600() {
    use std::os::unix::fs::PermissionsExt;
    let key = KeyPem::new("-----BEGIN PRIVATE KEY-----\nsecret\n".into());
    assert!(!format!("{key:?}").contains("secret"));
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyStore::new(dir.path());
    keys.write("abc", &key).unwrap();
    let mode = std::fs::metadata(dir.path().join("keys/abc.pem")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(keys.read("abc").unwrap().expose(), key.expose());
    keys.remove("abc");
    assert!(!dir.path().join("keys/abc.pem").exists());
}
