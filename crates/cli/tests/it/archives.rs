//! Every rejected archive kind, through the real API: a 4xx naming what is wrong, and nothing
//! that existed changed (versions, pointers, revision, what the edge serves).

use switchyard_testkit::archive::{self, Entry, file, tar_gz};
use switchyard_testkit::{BASE, Platform};

struct Fixture {
    p: Platform,
    token: String,
}

impl Fixture {
    async fn new(extra: &[&str]) -> Fixture {
        let p = if extra.is_empty() { Platform::start().await } else { Platform::start_with(extra).await };
        let token = p.tenant("acme").await;
        p.app(&token, "cart").await;
        let (status, body) = p.deploy(&token, "cart", "promote=true", tar_gz(&[file("index.html", "good v1")])).await;
        assert_eq!(status, 201, "{body}");
        p.wait_serving(&format!("cart.{BASE}"), "v1").await;
        Fixture { p, token }
    }

    async fn state(&self) -> (serde_json::Value, serde_json::Value, String) {
        let (_, versions) = self.p.api("GET", "apps/cart/versions", &self.token, None).await;
        let (_, health) = self.p.api("GET", "health", &self.token, None).await;
        let served = self.p.edge_get(&format!("cart.{BASE}"), "/").await.text().await.unwrap();
        (versions, health["revision"].clone(), served)
    }

    /// Uploads `bytes` with `promote=true`; asserts a 4xx whose message contains `needle` and
    /// that nothing changed.
    async fn rejects(&self, bytes: Vec<u8>, status: u16, needle: &str) {
        let before = self.state().await;
        let (got, body) = self.p.deploy(&self.token, "cart", "promote=true", bytes).await;
        assert_eq!(got, status, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "message {message:?} should contain {needle:?}");
        assert_eq!(self.state().await, before, "a rejected deploy changes nothing");
        let uploads = std::fs::read_dir(self.p.control().data.join("uploads")).unwrap().count();
        assert_eq!(uploads, 0, "no upload is left behind");
    }
}

#[tokio::test]
async fn each_bad_archive_is_refused_and_changes_nothing() {
    let f = Fixture::new(&[]).await;
    f.rejects(
        tar_gz(&[file("ok.html", "x"), file("/etc/passwd", "x")]),
        400,
        "entry \"/etc/passwd\": path \"/etc/passwd\" is absolute",
    )
    .await;
    f.rejects(tar_gz(&[file("../../evil.html", "x")]), 400, "contains a '..' segment").await;
    f.rejects(tar_gz(&[file("a\\b.html", "x")]), 400, "contains a backslash").await;
    f.rejects(tar_gz(&[file("a\u{7}b.html", "x")]), 400, "NUL or control character").await;
    f.rejects(archive::zip(&[file("a\0b.html", "x")]), 400, "NUL or control character").await;
    f.rejects(tar_gz(&[Entry::File(b"caf\xe9".to_vec(), b"x".to_vec())]), 400, "is not valid UTF-8").await;
    f.rejects(
        tar_gz(&[Entry::Symlink(b"index.html".to_vec(), b"/etc/passwd".to_vec())]),
        400,
        "\"index.html\" is a symbolic link",
    )
    .await;
    f.rejects(archive::zip(&[Entry::Symlink(b"l".to_vec(), b"/etc/passwd".to_vec())]), 400, "\"l\" is a symbolic link")
        .await;
    f.rejects(tar_gz(&[Entry::Hardlink(b"h".to_vec(), b"/etc/passwd".to_vec())]), 400, "\"h\" is a hard link").await;
    f.rejects(tar_gz(&[Entry::CharDevice(b"zero".to_vec())]), 400, "\"zero\" is a character device").await;
    f.rejects(tar_gz(&[Entry::Fifo(b"pipe".to_vec())]), 400, "\"pipe\" is a named pipe").await;
    f.rejects(
        tar_gz(&[file("index.html", "a"), file("./index.html", "b")]),
        400,
        "\"index.html\" appears more than once",
    )
    .await;
    let truncated = tar_gz(&[file("index.html", vec![b'x'; 50_000])]);
    f.rejects(truncated[..truncated.len() / 2].to_vec(), 400, "corrupt or truncated").await;
    f.rejects(b"just some text".to_vec(), 400, "not a .tar.gz or .zip archive").await;
    f.rejects(Vec::new(), 400, "the request body is empty").await;
    f.rejects(tar_gz(&[Entry::Dir(b"empty/".to_vec())]), 400, "the archive contains no files").await;
}

#[tokio::test]
async fn limits_are_enforced_while_decompressing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("control.toml");
    std::fs::write(&config, "[limits]\nmax_files = 5\nmax_file_bytes = 100000\nmax_total_bytes = 300000\n").unwrap();
    let f = Fixture::new(&["--config", config.to_str().unwrap()]).await;

    let many: Vec<Entry> = (0..6).map(|i| file(&format!("f{i}.txt"), "x")).collect();
    f.rejects(tar_gz(&many), 400, "the archive has more than 5 files").await;
    f.rejects(
        tar_gz(&[file("big.bin", vec![1u8; 100_001])]),
        400,
        "entry \"big.bin\" is larger than the limit of 100000 bytes",
    )
    .await;
    let total: Vec<Entry> = (0..4).map(|i| file(&format!("p{i}.bin"), vec![i as u8; 90_000])).collect();
    f.rejects(tar_gz(&total), 400, "expands to more than the limit of 300000 bytes").await;
    // 1 GiB of zeros is about 1 MiB compressed; it stops at the limit, long before 1 GiB.
    let bomb = archive::tar_gz_bomb("bomb.bin", 1 << 30);
    assert!(bomb.len() < 2 << 20, "bomb is {} bytes", bomb.len());
    f.rejects(bomb, 400, "\"bomb.bin\" is larger than the limit").await;
    // An upload larger than any allowed bundle is cut off while it streams.
    f.rejects(vec![0x1f; 17 * 1024 * 1024], 413, "the upload is larger than the limit").await;
}
