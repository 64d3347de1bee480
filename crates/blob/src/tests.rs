use switchyard_model::Digest;

use crate::{Error, LocalBlobStore};

fn store() -> (tempfile::TempDir, LocalBlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path()).unwrap();
    (dir, store)
}

#[test]
fn put_and_read_back_by_digest() {
    let (_dir, store) = store();
    let d = store.put_bytes(b"hello").unwrap();
    assert_eq!(d, Digest::of(b"hello"));
    assert!(store.contains(&d));
    assert_eq!(store.read_verified(&d).unwrap(), b"hello");
    let hex = d.to_hex();
    assert!(store.path(&d).ends_with(format!("blobs/{}/{}/{hex}", &hex[..2], &hex[2..4])));
}

#[test]
fn put_verified_refuses_wrong_bytes_and_stores_nothing() {
    let (_dir, store) = store();
    let claimed = Digest::of(b"the real bytes");
    let err = store.put_verified(&claimed, &b"other bytes"[..], 1024).unwrap_err();
    assert!(
        matches!(err, Error::Corrupt { expected, actual } if expected == claimed && actual == Digest::of(b"other bytes"))
    );
    assert!(!store.contains(&claimed));
    assert!(!store.contains(&Digest::of(b"other bytes")));
}

#[test]
fn put_verified_enforces_the_limit() {
    let (_dir, store) = store();
    let data = vec![7u8; 11];
    let err = store.put_verified(&Digest::of(&data), &data[..], 10).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 10 }));
    assert_eq!(store.put_verified(&Digest::of(&data), &data[..], 11).unwrap(), 11);
}

#[test]
fn read_verified_detects_corruption() {
    let (_dir, store) = store();
    let d = store.put_bytes(b"original").unwrap();
    std::fs::write(store.path(&d), b"tampered").unwrap();
    assert!(matches!(store.read_verified(&d), Err(Error::Corrupt { .. })));
    assert!(matches!(store.read_verified(&Digest::of(b"absent")), Err(Error::NotFound { .. })));
}

#[test]
fn staging_is_invisible_until_commit_and_dropped_on_failure() {
    let (dir, store) = store();
    let mut staging = store.staging().unwrap();
    let (a, size) = staging.write(&b"aaa"[..], 100).unwrap();
    assert_eq!(size, 3);
    let (b, _) = staging.write(&b"bbb"[..], 100).unwrap();
    staging.write(&b"aaa"[..], 100).unwrap();
    assert!(!store.contains(&a));
    drop(staging);
    assert!(!store.contains(&a) && !store.contains(&b));
    assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "dropped staging leaves no files");

    let mut staging = store.staging().unwrap();
    staging.write(&b"aaa"[..], 100).unwrap();
    staging.write(&b"aaa"[..], 100).unwrap();
    assert_eq!(staging.commit().unwrap(), 1, "one new blob, the duplicate is not stored twice");
    assert!(store.contains(&a));

    let mut staging = store.staging().unwrap();
    staging.write(&b"aaa"[..], 100).unwrap();
    assert_eq!(staging.commit().unwrap(), 0, "already stored");
}
