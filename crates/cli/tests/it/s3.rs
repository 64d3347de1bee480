//! Blobs in an S3-compatible store: the real binaries against a real S3 protocol server
//! (`s3-test-server`: s3s + s3s-fs, signatures checked) on a loopback port.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use switchyard_model::Digest;
use switchyard_testkit::archive::{file, tar_gz};
use switchyard_testkit::{ADMIN_TOKEN, BASE, Control, Edge, Platform, S3Server, bin_path, wait_for};

use crate::e2e::walk;

/// Writes `<dir>/<name>.toml` holding `[section]` for `s3` with `prefix`; returns its path.
fn s3_config(s3: &S3Server, dir: &Path, name: &str, section: &str, prefix: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, format!("[{section}]\n{}", s3.config_toml(dir, prefix))).unwrap();
    path
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() { out.extend(files_under(&path)) } else { out.push(path) }
    }
    out
}

/// The bucket's objects under `prefix` named like blobs (`ab/cd/<hex>`), as digests.
fn blobs_in_bucket(s3: &S3Server, prefix: &str) -> Vec<Digest> {
    let mut out: Vec<Digest> =
        files_under(&s3.object_path(prefix)).iter().filter_map(|p| p.file_name()?.to_str()?.parse().ok()).collect();
    out.sort_unstable();
    out
}

#[tokio::test]
async fn the_walk_with_the_control_plane_on_s3() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(dir.path());
    let config = s3_config(&s3, dir.path(), "control", "blob", "shop/blobs");
    let p = Platform::start_with(&["--config", config.to_str().unwrap()]).await;
    walk(&p).await;

    // The blobs are in the bucket, under the prefix, each object holding its own bytes; the
    // control plane's data directory holds none.
    let stored = blobs_in_bucket(&s3, "shop/blobs");
    assert!(stored.len() >= 7, "v1's 4 files, v2's 2 new ones, manifests: {stored:?}");
    for digest in &stored {
        let hex = digest.to_hex();
        let object = s3.object_path(&format!("shop/blobs/{}/{}/{hex}", &hex[..2], &hex[2..4]));
        assert_eq!(Digest::of(&std::fs::read(object).unwrap()), *digest);
    }
    assert!(files_under(&p.control().data.join("blobs")).is_empty());
    assert!(p.control().logs().contains("blob store checked"), "{}", p.control().logs());
}

#[tokio::test]
async fn the_walk_with_edges_fetching_straight_from_the_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(dir.path());
    let control = s3_config(&s3, dir.path(), "control", "blob", "blobs");
    let edge = s3_config(&s3, dir.path(), "edge", "origin", "blobs");
    let p = Platform::start_with_edge(&["--config", control.to_str().unwrap()], &["--config", edge.to_str().unwrap()])
        .await;
    walk(&p).await;
    // Not one blob went through the control plane.
    let logs = p.control().logs();
    assert!(logs.contains("/v1/edge/snapshot"), "the request log is on: {logs}");
    assert!(!logs.contains("/v1/blobs/"), "{logs}");
}

/// The edge token's view of the published snapshot: its revision.
async fn revision(p: &Platform) -> u64 {
    let (status, body) = p.api("GET", "edge/snapshot", &p.edge_token, None).await;
    assert_eq!(status, 200, "{body}");
    body["revision"].as_u64().unwrap()
}

#[tokio::test]
async fn a_deploy_while_the_store_is_down_fails_cleanly_and_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(dir.path());
    let config = s3_config(&s3, dir.path(), "control", "blob", "");
    let p = Platform::start_with(&["--config", config.to_str().unwrap()]).await;
    let acme = p.tenant("acme").await;
    p.app(&acme, "cart").await;
    let (status, body) = p.deploy(&acme, "cart", "promote=true", tar_gz(&[file("index.html", "v1")])).await;
    assert_eq!(status, 201, "{body}");
    p.wait_serving(&format!("cart.{BASE}"), "v1").await;
    let before = revision(&p).await;

    s3.stop();
    let (status, body) =
        p.deploy(&acme, "cart", "promote=true", tar_gz(&[file("index.html", "v2"), file("app.js", "new")])).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "blob_store_unavailable");
    assert!(body["error"]["message"].as_str().unwrap().contains("nothing was published"), "{body}");

    // No version row, no pointer moved, no new revision; the edge still serves v1.
    let (_, versions) = p.api("GET", "apps/cart/versions", &acme, None).await;
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");
    assert_eq!(revision(&p).await, before);
    let r = p.edge_get(&format!("cart.{BASE}"), "/").await;
    assert_eq!(r.headers()["x-switchyard-version"], "v1");
    assert_eq!(r.text().await.unwrap(), "v1");
    // The operator learns why from the log (the client does not get internal addresses).
    assert!(p.control().logs().contains("blob store request failed"), "{}", p.control().logs());
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
}

#[tokio::test]
async fn a_blob_altered_in_the_bucket_is_refused_by_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(dir.path());
    let control = s3_config(&s3, dir.path(), "control", "blob", "b");
    let edge_config = s3_config(&s3, dir.path(), "edge", "origin", "b");
    let edge_args = ["--config", edge_config.to_str().unwrap()];
    let mut p = Platform::start_with_edge(&["--config", control.to_str().unwrap()], &edge_args).await;
    let acme = p.tenant("acme").await;
    p.app(&acme, "cart").await;
    let live = format!("cart.{BASE}");
    let (status, body) = p.deploy(&acme, "cart", "promote=true", tar_gz(&[file("index.html", "good v1")])).await;
    assert_eq!(status, 201, "{body}");
    p.wait_serving(&live, "v1").await;

    // With the edge stopped, v2 is deployed and one of its blobs is altered in the bucket.
    let stopped = p.edge.take().unwrap();
    let cache = stopped.cache.clone();
    stopped.stop();
    let edge_log = cache.with_extension("edge.log");
    let (status, body) = p.deploy(&acme, "cart", "promote=true", tar_gz(&[file("index.html", "good v2")])).await;
    assert_eq!(status, 201, "{body}");
    let hex = Digest::of(b"good v2").to_hex();
    let object = s3.object_path(&format!("b/{}/{}/{hex}", &hex[..2], &hex[2..4]));
    assert_eq!(std::fs::read(&object).unwrap(), b"good v2");
    std::fs::write(&object, b"evil v2").unwrap();

    // The edge comes back on its persisted v1, refuses the altered blob and keeps v1.
    let edge = Edge::start_with(p.control().url(), &p.edge_token, &cache, BASE, &edge_args);
    let log = wait_for("the edge to report the altered blob", Duration::from_secs(20), || {
        let path = edge_log.clone();
        async move {
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            log.contains("does not match its digest").then_some(log)
        }
    })
    .await;
    assert!(log.contains(&hex), "the report names the blob: {log}");
    p.edge = Some(edge);
    let r = p.edge_get(&live, "/").await;
    assert_eq!(r.headers()["x-switchyard-version"], "v1");
    assert_eq!(r.text().await.unwrap(), "good v1");
    assert_eq!(p.edge_get(&format!("v2--cart.{BASE}"), "/").await.status(), 404, "v2 is not served at all");
    let hex_path = cache.join("blobs").join(&hex[..2]).join(&hex[2..4]).join(&hex);
    assert!(!hex_path.exists(), "the altered bytes never entered the cache");

    // Once the bucket holds the right bytes again, the edge catches up.
    std::fs::write(&object, b"good v2").unwrap();
    p.wait_serving(&live, "v2").await;
    assert_eq!(p.edge_get(&live, "/").await.text().await.unwrap(), "good v2");
}

/// Runs `switchyard-control` with `args` to completion; returns (success, stdout, stderr).
fn run_control(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin_path("switchyard-control"))
        .args(args)
        .env("SWITCHYARD_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn the_control_plane_refuses_to_start_on_a_store_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(dir.path());
    let data = dir.path().join("data");
    let good = s3.config_toml(dir.path(), "");
    let start = |name: &str, toml: String| {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, format!("[blob]\n{toml}")).unwrap();
        let (ok, stdout, stderr) = run_control(&[
            "--api-addr",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
            "--config",
            path.to_str().unwrap(),
        ]);
        assert!(!ok, "{name}: started: {stdout}");
        assert!(!stdout.contains("listening"), "{name}: {stdout}");
        stderr
    };

    std::fs::write(dir.path().join("wrong.secret"), "not-the-secret").unwrap();
    let wrong = good.replace("s3.secret", "wrong.secret");
    let err = start("wrong-credentials", wrong);
    assert!(err.contains("will not start") && err.contains("HTTP 403") && err.contains("access denied"), "{err}");

    let err = start("missing-bucket", good.replace(&format!("\"{}\"", s3.bucket), "\"no-such-bucket\""));
    assert!(err.contains("s3://no-such-bucket") && err.contains("bucket does not exist"), "{err}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = start("unreachable", good.replace(s3.url(), &format!("http://127.0.0.1:{port}")));
    assert!(err.contains(&format!("cannot reach http://127.0.0.1:{port}")), "{err}");

    let err = start("unknown-key", format!("{good}buckett = \"x\"\n"));
    assert!(err.contains("unknown field `buckett`"), "{err}");
    let err = start("unknown-kind", "kind = \"ftp\"\n".into());
    assert!(err.contains("unknown variant `ftp`"), "{err}");
    // The secret is never printed, whatever went wrong.
    assert!(!err.contains(&s3.secret_key));
}

#[tokio::test]
async fn migrate_blobs_copies_a_local_store_into_the_bucket_resumably() {
    let p = Platform::start().await;
    let acme = p.tenant("acme").await;
    p.app(&acme, "cart").await;
    let files = [file("index.html", "<h1>shop</h1>"), file("a.js", "a"), file("b.css", "b")];
    let (status, body) = p.deploy(&acme, "cart", "promote=true", tar_gz(&files)).await;
    assert_eq!(status, 201, "{body}");
    let manifest: Digest = body["manifest"].as_str().unwrap().parse().unwrap();
    let data = p.control().data.clone();
    let local = files_under(&data.join("blobs")).len();
    assert!(local >= 4, "3 files and a manifest (and precompressed variants): {local}");

    let s3 = S3Server::start(p.dir.path());
    let config = s3_config(&s3, p.dir.path(), "migrate", "blob", "m");
    let migrate = |from: &Path| {
        run_control(&[
            "--data",
            data.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "migrate-blobs",
            "--to",
            "s3",
            "--from",
            from.to_str().unwrap(),
        ])
    };
    // Interrupted half way: simulated by copying a store that holds only some of the blobs.
    let partial = p.dir.path().join("partial");
    let first = files_under(&data.join("blobs")).into_iter().next().unwrap();
    let rel = first.strip_prefix(&data).unwrap();
    std::fs::create_dir_all(partial.join(rel).parent().unwrap()).unwrap();
    std::fs::copy(&first, partial.join(rel)).unwrap();
    let (ok, stdout, stderr) = migrate(&partial);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("1 blobs in") && stdout.contains("0 already in the bucket, 1 copied, 0 corrupt"),
        "{stdout}"
    );

    let (ok, stdout, stderr) = migrate(&data);
    assert!(ok, "{stdout}{stderr}");
    let expect =
        format!("{local} blobs in {}: 1 already in the bucket, {} copied, 0 corrupt", data.display(), local - 1);
    assert!(stdout.contains(&expect), "{stdout}");
    assert_eq!(blobs_in_bucket(&s3, "m").len(), local);
    let (ok, stdout, _) = migrate(&data);
    assert!(ok && stdout.contains(&format!("{local} already in the bucket, 0 copied")), "{stdout}");

    // A corrupt local blob is reported, not copied, and the command fails.
    let bad = p.dir.path().join("bad");
    let content = b"will be corrupted";
    let d = Digest::of(content).to_hex();
    let path = bad.join("blobs").join(&d[..2]).join(&d[2..4]).join(&d);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"not what the name says").unwrap();
    let (ok, stdout, stderr) = migrate(&bad);
    assert!(!ok && stdout.contains("0 copied, 1 corrupt") && stderr.contains("corrupt"), "{stdout}{stderr}");
    assert!(!blobs_in_bucket(&s3, "m").contains(&Digest::of(content)));

    // The control plane, moved onto the bucket, serves the old blobs.
    let control = p.control.as_ref().unwrap();
    let url = format!("{}/v1/blobs/{manifest}", control.url());
    let before = p.http.get(&url).bearer_auth(&p.edge_token).send().await.unwrap().bytes().await.unwrap();
    let mut p = p;
    p.edge.take().unwrap().stop();
    p.control.take().unwrap().stop();
    let on_s3 = Control::start_with(&data, &["--config", config.to_str().unwrap()]);
    let r = p.http.get(format!("{}/v1/blobs/{manifest}", on_s3.url())).bearer_auth(&p.edge_token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), before);
    let (status, body) = {
        let r = p.http.get(format!("{}/v1/apps/cart", on_s3.url())).bearer_auth(&acme).send().await.unwrap();
        (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
    };
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn incremental_deploys_send_only_missing_blobs_to_the_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(dir.path());
    let config = s3_config(&s3, dir.path(), "control", "blob", "inc");
    let p = Platform::start_with(&["--config", config.to_str().unwrap()]).await;
    let token = p.tenant("acme").await;
    p.app(&token, "cart").await;
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("assets")).unwrap();
    std::fs::write(site.join("index.html"), "<!doctype html><h1>cart one</h1>").unwrap();
    std::fs::write(
        site.join("assets/app.js"),
        "export const total = (xs) => xs.reduce((a, b) => a + b, 0);\n".repeat(40),
    )
    .unwrap();
    let live = format!("cart.{BASE}");
    let deploy = |promote: bool| {
        let mut args = vec!["deploy", site.to_str().unwrap(), "--app", "cart", "--json"];
        if promote {
            args.push("--promote");
        }
        let out = switchyard_testkit::run_cli(p.control().url(), &token, &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = deploy(true);
    assert_eq!((first["uploaded_files"].as_u64(), first["reused_files"].as_u64()), (Some(2), Some(0)), "{first}");
    p.wait_serving(&live, "v1").await;

    std::fs::write(site.join("index.html"), "<!doctype html><h1>cart two</h1>").unwrap();
    let second = deploy(true);
    assert_eq!((second["uploaded_files"].as_u64(), second["reused_files"].as_u64()), (Some(1), Some(1)), "{second}");
    p.wait_serving(&live, "v2").await;
    let page = p.edge_get(&live, "/").await.text().await.unwrap();
    assert_eq!(page, "<!doctype html><h1>cart two</h1>");
    let js = p.edge_get(&live, "/assets/app.js").await;
    assert_eq!(js.status(), 200);

    // Both pages, the script, its precompressed copies and two manifests are in the bucket,
    // none in the control plane's directory.
    let stored = blobs_in_bucket(&s3, "inc");
    assert!(stored.contains(&Digest::of(b"<!doctype html><h1>cart two</h1>")), "{stored:?}");
    assert!(stored.contains(&Digest::of(b"<!doctype html><h1>cart one</h1>")), "{stored:?}");
    assert!(files_under(&p.control().data.join("blobs")).is_empty());
}
