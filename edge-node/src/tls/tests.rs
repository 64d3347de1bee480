use switchyard_model::{CertRef, Snapshot};
use switchyard_testkit::tls::Ca;

use super::*;

#[test]
fn sni_picks_exact_then_wildcard_then_default_for_platform_hosts_only() {
    let ca = Ca::new("CA");
    let dir = tempfile::tempdir().unwrap();
    let shop = ca.leaf(&["shop.example.com"]);
    let wild = ca.leaf(&["*.example.com"]);
    let platform = ca.leaf(&["*.test.example"]);
    store(dir.path(), "aa", &shop.fingerprint(), &shop.chain_pem, &shop.key_pem).unwrap();
    store(dir.path(), "bb", &wild.fingerprint(), &wild.chain_pem, &wild.key_pem).unwrap();
    let err = store(dir.path(), "cc", &shop.fingerprint(), &wild.chain_pem, &wild.key_pem).unwrap_err();
    assert!(err.to_string().contains("fingerprint"), "{err}");
    let snapshot = Snapshot {
        certs: vec![
            CertRef { id: "aa".into(), domain: "shop.example.com".into(), fingerprint: shop.fingerprint() },
            CertRef { id: "bb".into(), domain: "*.example.com".into(), fingerprint: wild.fingerprint() },
        ],
        ..Snapshot::default()
    };
    let default = Arc::new(certified_key(platform.chain_pem.as_bytes(), platform.key_pem.as_bytes()).unwrap());
    let certs = Certs::load(&snapshot, dir.path(), Some(default), "test.example").unwrap();
    let fp = |name: &str| certs.resolve(name).map(|k| leaf_fingerprint(&k));
    assert_eq!(fp("shop.example.com"), Some(shop.fingerprint()));
    assert_eq!(fp("other.example.com"), Some(wild.fingerprint()));
    assert_eq!(fp("cart.test.example"), Some(platform.fingerprint()));
    assert_eq!(fp("a.b.example.com"), None);
    assert_eq!(fp("example.com"), None);
    assert_eq!(fp("unknown.example.org"), None);
    assert_eq!(fp("a.b.test.example"), None);
    assert_eq!(fp("test.example"), None);
    assert!(certs.covers("shop.example.com") && certs.covers("x.example.com") && certs.covers("*.example.com"));
    assert!(!certs.covers("example.org"));

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("aa.pem")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    prune(dir.path(), &Snapshot { certs: snapshot.certs[..1].to_vec(), ..Snapshot::default() });
    assert!(dir.path().join("aa.pem").exists() && !dir.path().join("bb.pem").exists());
}
