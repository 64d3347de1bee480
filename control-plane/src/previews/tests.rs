use std::os::unix::fs::PermissionsExt;

use ring::signature::{ED25519, UnparsedPublicKey};

use super::*;

#[test]
fn the_key_is_made_once_0600_and_loaded_after() {
    let dir = tempfile::tempdir().unwrap();
    let first = SigningKey::load_or_create(dir.path()).unwrap();
    let path = SigningKey::path(dir.path());
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let again = SigningKey::load_or_create(dir.path()).unwrap();
    assert_eq!(first.public_key(), again.public_key(), "the same key at the next start");
    assert_eq!(format!("{first:?}"), "SigningKey(<redacted>)");

    let claims = ShareClaims {
        id: "0123456789abcdef0123456789abcdef".into(),
        app: "cart".into(),
        scope: "preview".into(),
        exp: 1,
    };
    let token = first.sign(&claims);
    let parsed = share::parse(&token).unwrap();
    let public = share::parse_public_key(again.public_key()).unwrap();
    UnparsedPublicKey::new(&ED25519, &public).verify(&parsed.payload, &parsed.signature).unwrap();
}

#[test]
fn a_corrupt_key_file_stops_the_start_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = SigningKey::path(dir.path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"not a key").unwrap();
    let err = SigningKey::load_or_create(dir.path()).unwrap_err();
    assert!(format!("{err:#}").contains(&path.display().to_string()), "{err:#}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a key");
}
