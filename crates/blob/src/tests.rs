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
fn an_opened_blob_keeps_what_was_verified() {
    use std::io::{Read, Seek};
    let (_dir, store) = store();
    let d = store.put_bytes(b"original").unwrap();
    let (mut file, bytes) = store.open_verified(&d).unwrap();
    assert_eq!(bytes, b"original");
    store.remove(&d).unwrap();
    assert!(matches!(store.open_verified(&d), Err(Error::NotFound { .. })));
    file.rewind().unwrap();
    let mut again = Vec::new();
    file.read_to_end(&mut again).unwrap();
    assert_eq!(again, b"original");
}

#[test]
fn read_verified_detects_corruption() {
    let (_dir, store) = store();
    let d = store.put_bytes(b"original").unwrap();
    std::fs::write(store.path(&d), b"tampered").unwrap();
    assert!(matches!(store.read_verified(&d), Err(Error::Corrupt { .. })));
    assert!(matches!(store.read_verified(&Digest::of(b"absent")), Err(Error::NotFound { .. })));
    assert!(matches!(store.open_verified(&d), Err(Error::Corrupt { .. })));
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

// ---- Behaviour every backend shows: the same code runs against the local directory and a
// ---- real S3 protocol server (s3s-fs, signatures checked).

use std::path::Path;
use std::time::Duration;

use crate::{BlobStore, S3BlobStore, S3Settings};
use switchyard_testkit::S3Server;

/// `tamper(digest, bytes)` replaces a stored blob's bytes behind the store's back.
fn behaviour(store: &dyn BlobStore, tamper: &dyn Fn(&Digest, &[u8])) {
    let hello = Digest::of(b"hello");
    assert!(!store.contains(&hello).unwrap());
    assert_eq!(store.put_verified(&hello, &mut &b"hello"[..], 5).unwrap(), 5);
    assert!(store.contains(&hello).unwrap());
    assert_eq!(store.read_verified(&hello).unwrap(), b"hello");
    // Writing the same blob again is fine and changes nothing.
    assert_eq!(store.put_verified(&hello, &mut &b"hello"[..], 5).unwrap(), 5);

    // Wrong bytes for a digest: refused, nothing stored under either name.
    let claimed = Digest::of(b"the real bytes");
    let err = store.put_verified(&claimed, &mut &b"other bytes"[..], 1024).unwrap_err();
    assert!(matches!(err, Error::Corrupt { expected, .. } if expected == claimed), "{err}");
    assert!(!store.contains(&claimed).unwrap());
    assert!(!store.contains(&Digest::of(b"other bytes")).unwrap());

    // The limit: one byte over is refused, exactly at it is accepted.
    let data = vec![7u8; 11];
    let err = store.put_verified(&Digest::of(&data), &mut &data[..], 10).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 10 }), "{err}");
    assert!(!store.contains(&Digest::of(&data)).unwrap());
    assert_eq!(store.put_verified(&Digest::of(&data), &mut &data[..], 11).unwrap(), 11);

    // Missing blobs.
    let absent = Digest::of(b"absent");
    assert!(matches!(store.read_verified(&absent), Err(Error::NotFound { digest }) if digest == absent));

    // Batched existence, in the order asked.
    assert_eq!(store.contains_many(&[absent, hello, Digest::of(&data)]).unwrap(), vec![false, true, true]);

    // Staging: invisible until commit, nothing left behind when dropped, duplicates counted once.
    let (a, b) = (Digest::of(b"aaa"), Digest::of(b"bbb"));
    let mut staging = store.staging().unwrap();
    assert_eq!(staging.write(&b"aaa"[..], 100).unwrap(), (a, 3));
    staging.write(&b"bbb"[..], 100).unwrap();
    staging.write(&b"aaa"[..], 100).unwrap();
    assert_eq!(store.contains_many(&[a, b]).unwrap(), vec![false, false]);
    drop(staging);
    assert_eq!(store.contains_many(&[a, b]).unwrap(), vec![false, false]);

    let mut staging = store.staging().unwrap();
    staging.write(&b"aaa"[..], 100).unwrap();
    staging.write(&b"aaa"[..], 100).unwrap();
    assert_eq!(staging.write_bytes(b"hello").unwrap(), hello);
    assert_eq!(staging.commit().unwrap(), 1, "one new blob; the duplicate and the stored one are not new");
    assert!(store.contains(&a).unwrap());
    assert_eq!(store.read_verified(&a).unwrap(), b"aaa");

    // A blob altered behind the store's back is detected on read, never returned.
    tamper(&a, b"AAA");
    let err = store.read_verified(&a).unwrap_err();
    assert!(
        matches!(err, Error::Corrupt { expected, actual } if expected == a && actual == Digest::of(b"AAA")),
        "{err}"
    );
}

#[test]
fn local_backend_behaviour() {
    let (_dir, store) = store();
    let path_of = store.clone();
    behaviour(&store, &|d, bytes| std::fs::write(path_of.path(d), bytes).unwrap());
}

fn s3_settings(server: &S3Server, dir: &Path, prefix: &str) -> S3Settings {
    let secret = dir.join("s3.secret");
    std::fs::write(&secret, format!("{}\n", server.secret_key)).unwrap();
    S3Settings {
        bucket: server.bucket.clone(),
        prefix: prefix.into(),
        region: Some("us-east-1".into()),
        endpoint: Some(server.url().into()),
        force_path_style: true,
        access_key_id: Some(server.access_key.clone()),
        secret_access_key_file: Some(secret),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_backend_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    let server = S3Server::start(dir.path());
    let store =
        S3BlobStore::new(s3_settings(&server, dir.path(), "blobs/v1").resolve().unwrap(), &dir.path().join("tmp"))
            .unwrap();
    store.check(Duration::from_secs(20), true).await.unwrap();
    let hex = Digest::of(b"hello").to_hex();
    assert_eq!(store.key(&Digest::of(b"hello")), format!("blobs/v1/{}/{}/{hex}", &hex[..2], &hex[2..4]));
    let keys = store.clone();
    let objects = |key: String| server.object_path(&key);
    let tamper = move |d: &Digest, bytes: &[u8]| std::fs::write(objects(keys.key(d)), bytes).unwrap();
    let s = store.clone();
    tokio::task::block_in_place(|| behaviour(&s, &tamper));
    // What the server holds is what was written, under the documented key.
    assert_eq!(std::fs::read(server.object_path(&store.key(&Digest::of(b"hello")))).unwrap(), b"hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_large_blobs_go_up_in_parts_and_read_back_verified() {
    let dir = tempfile::tempdir().unwrap();
    let server = S3Server::start(dir.path());
    let store =
        S3BlobStore::new(s3_settings(&server, dir.path(), "").resolve().unwrap(), &dir.path().join("tmp")).unwrap();
    // Three parts: 8 MiB, 8 MiB and the rest, each with its own SHA-256.
    let big: Vec<u8> = (0..(crate::MULTIPART_THRESHOLD + 1234)).map(|i| (i % 251) as u8).collect();
    let digest = Digest::of(&big);
    let s = store.clone();
    let b = big.clone();
    let size =
        tokio::task::spawn_blocking(move || s.put_verified(&digest, &mut &b[..], u64::MAX)).await.unwrap().unwrap();
    assert_eq!(size, big.len() as u64);
    assert!(store.exists(digest).await.unwrap());
    let back = store.get_verified(&digest, u64::MAX).await.unwrap();
    assert!(back == big, "the multipart object reads back byte for byte");
    assert!(matches!(store.get_verified(&digest, 1000).await, Err(Error::TooLarge { limit: 1000 })));
    assert!(server.logs().is_empty() || !server.logs().contains("panicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_start_up_check_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let server = S3Server::start(dir.path());
    let check = |settings: S3Settings| {
        let tmp = dir.path().join("tmp");
        async move {
            let store = S3BlobStore::new(settings.resolve().unwrap(), &tmp).unwrap();
            store.check(Duration::from_secs(20), true).await.unwrap_err().to_string()
        }
    };
    let good = s3_settings(&server, dir.path(), "");

    let wrong_secret = dir.path().join("wrong.secret");
    std::fs::write(&wrong_secret, "not-the-secret").unwrap();
    let err = check(S3Settings { secret_access_key_file: Some(wrong_secret), ..good.clone() }).await;
    assert!(err.contains("HeadBucket") && err.contains("HTTP 403") && err.contains("access denied"), "{err}");

    let err = check(S3Settings { bucket: "no-such-bucket".into(), ..good.clone() }).await;
    assert!(err.contains("HeadBucket") && err.contains("HTTP 404") && err.contains("bucket does not exist"), "{err}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let err = check(S3Settings { endpoint: Some(endpoint.clone()), ..good.clone() }).await;
    assert!(err.contains(&format!("cannot reach {endpoint}")), "{err}");

    // Bad settings never reach the network.
    let err = S3Settings { bucket: "Bad_Bucket".into(), ..good.clone() }.resolve().unwrap_err().to_string();
    assert!(err.contains("bucket \"Bad_Bucket\""), "{err}");
    let err = S3Settings { secret_access_key_file: None, ..good.clone() }.resolve().unwrap_err().to_string();
    assert!(err.contains("must be given together"), "{err}");
    let err = S3Settings { endpoint: Some("127.0.0.1:9000".into()), ..good.clone() }.resolve().unwrap_err().to_string();
    assert!(err.contains("must start with http://"), "{err}");
    // The secret never shows in Debug.
    let config = good.resolve().unwrap();
    assert!(!format!("{config:?}").contains(&server.secret_key), "{config:?}");
    assert!(format!("{config:?}").contains("[redacted]"));
}
