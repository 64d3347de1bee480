//! Each malicious or malformed archive beside the code that refuses it. Every rejection must
//! name the entry and leave nothing in the blob store.

use switchyard_blob::LocalBlobStore;
use switchyard_testkit::archive::{self, Entry, file};

use crate::{Error, Limits, content_type_for, ingest};

struct Fixture {
    dir: tempfile::TempDir,
    store: LocalBlobStore,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(&dir.path().join("store")).unwrap();
        Fixture { dir, store }
    }

    fn ingest(&self, bytes: &[u8], limits: &Limits) -> Result<(switchyard_model::Manifest, usize), Error> {
        let path = self.dir.path().join("upload");
        std::fs::write(&path, bytes).unwrap();
        let mut staging = self.store.staging().unwrap();
        let manifest = ingest(&path, &mut staging, limits)?;
        Ok((manifest, staging.commit().unwrap()))
    }

    fn stored_blobs(&self) -> usize {
        walk(&self.dir.path().join("store/blobs"))
    }
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).map(|p| if p.is_dir() { walk(&p) } else { 1 }).sum()
}

fn rejected(entries: &[Entry]) -> (Error, Error) {
    let f = Fixture::new();
    let tar_err = f.ingest(&archive::tar_gz(entries), &Limits::default()).unwrap_err();
    assert_eq!(f.stored_blobs(), 0, "a rejected tar.gz stores nothing");
    let zip_entries: Vec<Entry> =
        entries.iter().filter(|e| matches!(e, Entry::File(..) | Entry::Dir(_) | Entry::Symlink(..))).cloned().collect();
    let zip_err = f.ingest(&archive::zip(&zip_entries), &Limits::default()).unwrap_err();
    assert_eq!(f.stored_blobs(), 0, "a rejected zip stores nothing");
    (tar_err, zip_err)
}

#[test]
fn good_archives_make_a_manifest_in_both_formats() {
    let entries = [
        Entry::Dir(b"./".to_vec()),
        file("./index.html", "<h1>hi</h1>"),
        Entry::Dir(b"assets/".to_vec()),
        file("assets/app.js", "console.log(1)"),
        file("assets/copy.js", "console.log(1)"),
        file("img/logo.png", vec![0x89, b'P', b'N', b'G']),
    ];
    for bytes in [archive::tar_gz(&entries), archive::zip(&entries)] {
        let f = Fixture::new();
        let (manifest, new_blobs) = f.ingest(&bytes, &Limits::default()).unwrap();
        let paths: Vec<&str> = manifest.files.keys().map(String::as_str).collect();
        assert_eq!(paths, ["assets/app.js", "assets/copy.js", "img/logo.png", "index.html"]);
        assert_eq!(new_blobs, 3, "identical files are stored once");
        let index = &manifest.files["index.html"];
        assert_eq!(index.size, 11);
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert_eq!(f.store.read_verified(&index.sha256).unwrap(), b"<h1>hi</h1>");
        assert_eq!(manifest.files["img/logo.png"].content_type, "image/png");
    }
}

#[test]
fn absolute_paths_are_rejected() {
    let (t, z) = rejected(&[file("/etc/passwd", "x")]);
    for e in [t, z] {
        assert!(matches!(&e, Error::BadPath { entry, .. } if entry == "/etc/passwd"), "{e}");
        assert!(e.to_string().contains("is absolute"), "{e}");
    }
}

#[test]
fn dot_dot_is_rejected() {
    let (t, z) = rejected(&[file("ok.html", "x"), file("a/../../evil.html", "x")]);
    for e in [t, z] {
        assert!(matches!(&e, Error::BadPath { entry, .. } if entry == "a/../../evil.html"), "{e}");
        assert!(e.to_string().contains("'..'"), "{e}");
    }
    let (t, _) = rejected(&[Entry::Dir(b"../".to_vec())]);
    assert!(matches!(t, Error::BadPath { .. }), "{t}");
}

#[test]
fn backslashes_are_rejected() {
    let (t, z) = rejected(&[file("a\\b.html", "x")]);
    for e in [t, z] {
        assert!(e.to_string().contains("backslash") && e.to_string().contains("a\\\\b.html"), "{e}");
    }
}

#[test]
fn control_characters_are_rejected() {
    let (t, z) = rejected(&[file("a\u{1}b.html", "x")]);
    for e in [t, z] {
        assert!(e.to_string().contains("control character"), "{e}");
    }
    // A NUL ends a tar name field, so write it in the middle of a name through zip and tar.
    let f = Fixture::new();
    let e = f.ingest(&archive::zip(&[file("a\0b", "x")]), &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("control character"), "{e}");
}

#[test]
fn invalid_utf8_names_are_rejected() {
    let f = Fixture::new();
    let e = f.ingest(&archive::tar_gz(&[Entry::File(b"caf\xe9.html".to_vec(), b"x".to_vec())]), &Limits::default());
    let e = e.unwrap_err();
    assert!(matches!(&e, Error::NotUtf8 { entry } if entry.starts_with("caf")), "{e}");
    assert_eq!(f.stored_blobs(), 0);
}

#[test]
fn links_and_devices_are_rejected() {
    let cases: [(Entry, &str); 4] = [
        (Entry::Symlink(b"link".to_vec(), b"/etc/passwd".to_vec()), "symbolic link"),
        (Entry::Hardlink(b"hard".to_vec(), b"/etc/passwd".to_vec()), "hard link"),
        (Entry::CharDevice(b"dev".to_vec()), "character device"),
        (Entry::Fifo(b"fifo".to_vec()), "named pipe"),
    ];
    for (entry, kind) in cases {
        let f = Fixture::new();
        let e = f.ingest(&archive::tar_gz(&[file("index.html", "x"), entry]), &Limits::default()).unwrap_err();
        assert!(matches!(&e, Error::NotAFile { kind: k, .. } if *k == kind), "{e}");
        assert_eq!(f.stored_blobs(), 0);
    }
    let (_, z) = rejected(&[Entry::Symlink(b"link".to_vec(), b"/etc/passwd".to_vec())]);
    assert!(matches!(&z, Error::NotAFile { entry, kind: "symbolic link" } if entry == "link"), "{z}");
}

#[test]
fn duplicate_paths_are_rejected() {
    let (t, z) = rejected(&[file("index.html", "a"), file("./index.html", "b")]);
    // The two names differ in the archive and become the same path once `./` is dropped.
    for e in [t, z] {
        assert!(matches!(&e, Error::Duplicate { entry } if entry == "index.html"), "{e}");
    }
}

#[test]
fn too_many_files_are_rejected() {
    let limits = Limits { max_files: 3, ..Limits::default() };
    let entries: Vec<Entry> = (0..4).map(|i| file(&format!("f{i}.txt"), format!("{i}"))).collect();
    for bytes in [archive::tar_gz(&entries), archive::zip(&entries)] {
        let f = Fixture::new();
        let e = f.ingest(&bytes, &limits).unwrap_err();
        assert!(matches!(e, Error::TooManyFiles { limit: 3 }), "{e}");
        assert_eq!(e.to_string(), "the archive has more than 3 files");
        assert_eq!(f.stored_blobs(), 0);
    }
}

#[test]
fn a_file_over_the_size_limit_is_rejected() {
    let limits = Limits { max_file_bytes: 1000, ..Limits::default() };
    let entries = [file("small.txt", vec![b'a'; 1000]), file("big.bin", vec![b'b'; 1001])];
    for bytes in [archive::tar_gz(&entries), archive::zip(&entries)] {
        let f = Fixture::new();
        let e = f.ingest(&bytes, &limits).unwrap_err();
        assert!(matches!(&e, Error::FileTooLarge { entry, limit: 1000 } if entry == "big.bin"), "{e}");
        assert_eq!(f.stored_blobs(), 0);
    }
}

#[test]
fn the_total_size_limit_is_counted_while_decompressing() {
    let limits = Limits { max_total_bytes: 2500, ..Limits::default() };
    let entries: Vec<Entry> = (0..3).map(|i| file(&format!("f{i}"), vec![i as u8; 1000])).collect();
    for bytes in [archive::tar_gz(&entries), archive::zip(&entries)] {
        let f = Fixture::new();
        let e = f.ingest(&bytes, &limits).unwrap_err();
        assert!(matches!(e, Error::TotalTooLarge { limit: 2500 }), "{e}");
        assert_eq!(f.stored_blobs(), 0);
    }
}

#[test]
fn a_decompression_bomb_stops_at_the_limit() {
    // 64 MiB of zeros: about 64 KiB compressed; the limit is 1 MiB per file and 2 MiB in all.
    let bomb = archive::tar_gz_bomb("zeros.bin", 64 << 20);
    assert!(bomb.len() < 200 << 10, "the bomb is small compressed: {}", bomb.len());
    let f = Fixture::new();
    let limits = Limits { max_file_bytes: 1 << 20, max_total_bytes: 2 << 20, ..Limits::default() };
    let e = f.ingest(&bomb, &limits).unwrap_err();
    assert!(matches!(&e, Error::FileTooLarge { entry, .. } if entry == "zeros.bin"), "{e}");
    // With a per-file limit above the bomb, the total limit still stops it.
    let limits = Limits { max_file_bytes: 1 << 30, max_total_bytes: 2 << 20, ..Limits::default() };
    let e = f.ingest(&bomb, &limits).unwrap_err();
    assert!(matches!(e, Error::TotalTooLarge { .. }), "{e}");
    assert_eq!(f.stored_blobs(), 0);
}

#[test]
fn corrupt_and_truncated_archives_are_rejected() {
    let f = Fixture::new();
    let good = archive::tar_gz(&[file("index.html", vec![b'x'; 10_000])]);
    let e = f.ingest(&good[..good.len() / 2], &Limits::default()).unwrap_err();
    assert!(matches!(e, Error::Corrupt(_) | Error::CorruptEntry { .. }), "{e}");
    assert!(e.to_string().contains("corrupt or truncated"), "{e}");

    let zip = archive::zip(&[file("index.html", vec![b'x'; 10_000])]);
    let e = f.ingest(&zip[..zip.len() - 30], &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("corrupt or truncated"), "{e}");

    let e = f.ingest(b"<html>not an archive</html>", &Limits::default()).unwrap_err();
    assert_eq!(e.to_string(), "not a .tar.gz or .zip archive");
    let e = f.ingest(b"", &Limits::default()).unwrap_err();
    assert!(matches!(e, Error::UnknownFormat), "{e}");
    assert_eq!(f.stored_blobs(), 0);
}

#[test]
fn an_archive_without_files_is_rejected() {
    let f = Fixture::new();
    let e = f.ingest(&archive::tar_gz(&[Entry::Dir(b"empty/".to_vec())]), &Limits::default()).unwrap_err();
    assert_eq!(e.to_string(), "the archive contains no files");
}

#[test]
fn content_types() {
    assert_eq!(content_type_for("a/b.JS"), "text/javascript; charset=utf-8");
    assert_eq!(content_type_for("style.css"), "text/css; charset=utf-8");
    assert_eq!(content_type_for("x.svg"), "image/svg+xml");
    assert_eq!(content_type_for("x.webp"), "image/webp");
    assert_eq!(content_type_for("x.woff2"), "font/woff2");
    assert_eq!(content_type_for("README"), "application/octet-stream");
    assert_eq!(content_type_for("x.unknownext"), "application/octet-stream");
}
