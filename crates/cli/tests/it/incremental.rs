//! Incremental (content-addressed) deploys through the real `switchyard` CLI and the real
//! control plane: only missing blobs travel, interrupted deploys resume, uploads are verified,
//! versions stay invisible until finalized; plus the project file, login, open, diff and the
//! errors merchants see.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_model::Digest;
use switchyard_testkit::{BASE, Platform, bin_path, wait_for};

/// Runs `switchyard` in `cwd` with a private config directory and only the given variables.
fn cli_in(cwd: &Path, config_home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(bin_path("switchyard"));
    cmd.args(args)
        .current_dir(cwd)
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("SWITCHYARD_API")
        .env_remove("SWITCHYARD_TOKEN")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run switchyard")
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A control plane + edge, a tenant `acme` with app `cart`, and a CLI runner with its env.
struct Setup {
    p: Platform,
    token: String,
    home: tempfile::TempDir,
}

impl Setup {
    async fn start() -> Setup {
        let p = Platform::start().await;
        let token = p.tenant("acme").await;
        p.app(&token, "cart").await;
        Setup { p, token, home: tempfile::tempdir().unwrap() }
    }

    fn cli(&self, cwd: &Path, args: &[&str]) -> Output {
        let env = [("SWITCHYARD_API", self.p.control().url()), ("SWITCHYARD_TOKEN", self.token.as_str())];
        cli_in(cwd, self.home.path(), &env, args)
    }

    fn deploy_json(&self, dir: &Path, extra: &[&str]) -> Value {
        let mut args = vec!["deploy", dir.to_str().unwrap(), "--app", "cart", "--json"];
        args.extend_from_slice(extra);
        json_of(&self.cli(dir, &args))
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.p.control().data.join("blobs").join(&hex[0..2]).join(&hex[2..4]).join(hex)
    }
}

fn write(dir: &Path, path: &str, bytes: impl AsRef<[u8]>) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn only_missing_blobs_are_uploaded() {
    let s = Setup::start().await;
    let site = tempfile::tempdir().unwrap();
    let dir = site.path();
    write(dir, "index.html", "<h1>shop</h1>");
    write(dir, "_redirects", "/old /index.html 301\n");
    for i in 0..30 {
        write(dir, &format!("assets/chunk-{i}.js"), format!("export const n{i} = {i};\n").repeat(50));
    }
    write(dir, "img/logo.png", switchyard_testkit::noise(5000, 1));
    let files = 33;

    let first = s.deploy_json(dir, &[]);
    assert_eq!(first["version"], "v1");
    assert_eq!(first["files"], files);
    assert_eq!((first["uploaded_files"].as_u64(), first["reused_files"].as_u64()), (Some(files), Some(0)));

    // Nothing changed: nothing travels.
    let second = s.deploy_json(dir, &[]);
    assert_eq!(second["version"], "v2");
    assert_eq!((second["uploaded_files"].as_u64(), second["uploaded_bytes"].as_u64()), (Some(0), Some(0)));
    assert_eq!(second["reused_files"], files);

    // One file changed: exactly that one travels.
    let changed = "export const n7 = 'seven';\n".repeat(40);
    write(dir, "assets/chunk-7.js", &changed);
    let out = s.cli(dir, &["deploy", dir.to_str().unwrap(), "--app", "cart"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.starts_with(&format!("uploaded 1 of {files} files (")), "{text}");
    assert!(text.contains(&format!("{} already stored, v3 ready in", files - 1)), "{text}");
    assert!(text.contains(&format!("http://preview--cart.{BASE}:8080/")), "{text}");
    assert!(stderr(&out).contains("uploading 1 file"), "plain progress lines off a terminal: {}", stderr(&out));

    // The edge serves v3 with the change, precompressed, and the rules travelled.
    let preview = format!("preview--cart.{BASE}");
    s.p.wait_serving(&preview, "v3").await;
    let r = s.p.edge_get(&preview, "/assets/chunk-7.js").await;
    assert_eq!(r.bytes().await.unwrap(), changed.as_bytes());
    let r =
        s.p.http
            .get(format!("{}/assets/chunk-3.js", s.p.edge().url()))
            .header("host", &preview)
            .header("accept-encoding", "br")
            .send()
            .await
            .unwrap();
    assert_eq!(r.headers()["content-encoding"], "br");
    let r = s.p.edge_get(&preview, "/old").await;
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (301, "/index.html"));

    // The three versions name the same precompressed variant for an unchanged file.
    let manifests: Vec<Value> = {
        let (status, versions) = s.p.api("GET", "apps/cart/versions", &s.token, None).await;
        assert_eq!(status, 200);
        let mut out = Vec::new();
        for v in versions.as_array().unwrap() {
            let digest: Digest = v["manifest"].as_str().unwrap().parse().unwrap();
            out.push(serde_json::from_slice(&std::fs::read(s.blob_path(&digest)).unwrap()).unwrap());
        }
        out
    };
    let enc = |m: &Value| m["files"]["assets/chunk-3.js"]["encodings"].clone();
    assert!(enc(&manifests[0]).as_array().is_some_and(|a| a.len() == 2), "{}", manifests[0]);
    assert_eq!(enc(&manifests[0]), enc(&manifests[2]));

    // diff names exactly the changed file.
    let d = json_of(&s.cli(dir, &["diff", "--app", "cart", "v1", "v3", "--json"]));
    assert_eq!(d["changed"], json!(["assets/chunk-7.js"]));
    assert_eq!((d["added"].clone(), d["removed"].clone()), (json!([]), json!([])));
    write(dir, "new.html", "new");
    std::fs::remove_file(dir.join("img/logo.png")).unwrap();
    s.deploy_json(dir, &[]);
    let out = s.cli(dir, &["diff", "--app", "cart", "v3", "v4"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("+ new.html\n") && text.contains("- img/logo.png\n"), "{text}");
    assert!(text.contains("1 added, 1 removed, 0 changed"), "{text}");
}

#[tokio::test]
async fn an_interrupted_deploy_resumes_without_uploading_finished_blobs_again() {
    let s = Setup::start().await;
    let site = tempfile::tempdir().unwrap();
    let dir = site.path();
    let total = 120u64;
    let digests: Vec<Digest> = (0..total)
        .map(|i| {
            let bytes = switchyard_testkit::noise(128 * 1024, i + 100);
            write(dir, &format!("media/{i:03}.bin"), &bytes);
            Digest::of(&bytes)
        })
        .collect();
    let stored = |s: &Setup| digests.iter().filter(|d| s.blob_path(d).is_file()).count() as u64;

    // One upload at a time; kill -9 once some blobs are stored.
    let env = [("SWITCHYARD_API", s.p.control().url()), ("SWITCHYARD_TOKEN", s.token.as_str())];
    let mut child = Command::new(bin_path("switchyard"))
        .args(["deploy", dir.to_str().unwrap(), "--app", "cart", "--jobs", "1", "--json"])
        .env("XDG_CONFIG_HOME", s.home.path())
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("some blobs to be stored", Duration::from_secs(60), || async { (stored(&s) >= 5).then_some(()) }).await;
    child.kill().unwrap();
    child.wait().unwrap();

    // Nothing is visible: no version, the revision did not move.
    let (_, versions) = s.p.api("GET", "apps/cart/versions", &s.token, None).await;
    assert_eq!(versions, json!([]));
    let r = s.p.edge_get(&format!("v1--cart.{BASE}"), "/media/000.bin").await;
    assert_eq!(r.status(), 404);

    // Blobs stored by the killed run (a request in flight at the kill may still land: the
    // rerun's own count of reused files covers it).
    let at_kill = stored(&s);
    assert!(at_kill < total, "the deploy finished before it was killed");
    let rerun = s.deploy_json(dir, &[]);
    assert_eq!(rerun["version"], "v1");
    let (uploaded, reused) = (rerun["uploaded_files"].as_u64().unwrap(), rerun["reused_files"].as_u64().unwrap());
    assert!(reused >= at_kill, "finished blobs are not uploaded again: {rerun}");
    assert_eq!(uploaded + reused, total, "{rerun}");
    assert!(uploaded < total && uploaded > 0, "{rerun}");
    assert_eq!(stored(&s), total);
}

#[tokio::test]
async fn uploads_are_verified_and_a_version_is_invisible_until_finalized() {
    let s = Setup::start().await;
    let index = b"<h1>finalized</h1>".to_vec();
    let app_js = b"console.log('x')".to_vec();
    let (di, dj) = (Digest::of(&index), Digest::of(&app_js));
    let listing = json!({ "files": [
        { "path": "index.html", "sha256": di, "size": index.len() },
        { "path": "app.js", "sha256": dj, "size": app_js.len() },
    ], "promote": true });
    let (_, health) = s.p.api("GET", "health", &s.token, None).await;
    let revision = health["revision"].clone();
    let (status, opened) = s.p.api("POST", "apps/cart/deploys", &s.token, Some(listing)).await;
    assert_eq!(status, 201, "{opened}");
    let id = opened["deploy"].as_str().unwrap().to_owned();
    let mut missing: Vec<String> = opened["missing"].as_array().unwrap().iter().map(|d| d.to_string()).collect();
    missing.sort();
    let mut want = vec![format!("\"{di}\""), format!("\"{dj}\"")];
    want.sort();
    assert_eq!(missing, want);

    let put = |digest: String, body: Vec<u8>, token: String| {
        let url = format!("{}/v1/apps/cart/deploys/{id}/blobs/{digest}", s.p.control().url());
        let http = s.p.http.clone();
        async move {
            let r = http.put(url).bearer_auth(token).body(body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // Same length, other bytes: refused, naming the digest; nothing stored.
    let mut wrong = index.clone();
    wrong[0] = b'X';
    let (status, body) = put(di.to_string(), wrong, s.token.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "digest_mismatch");
    assert!(body["error"]["message"].as_str().unwrap().contains(&di.to_string()), "{body}");
    assert!(!s.blob_path(&di).exists());
    // More bytes than listed, a digest the deploy does not list, another tenant.
    let (status, body) = put(di.to_string(), [index.clone(), b"more".to_vec()].concat(), s.token.clone()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("size_mismatch")));
    let (status, _) = put(Digest::of(b"other").to_string(), b"other".to_vec(), s.token.clone()).await;
    assert_eq!(status, 404);
    let other = s.p.tenant("globex").await;
    let (status, _) = put(di.to_string(), index.clone(), other).await;
    assert_eq!(status, 404);
    let (status, _) = put("not-a-digest".into(), index.clone(), s.token.clone()).await;
    assert_eq!(status, 400);

    // Finalize before every blob is there: refused.
    assert_eq!(put(di.to_string(), index.clone(), s.token.clone()).await.0, 201);
    let finalize = format!("apps/cart/deploys/{id}/finalize");
    let (status, body) = s.p.api("POST", &finalize, &s.token, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("incomplete")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("app.js"), "{body}");
    assert_eq!(put(dj.to_string(), app_js.clone(), s.token.clone()).await.0, 201);

    // Every blob stored, not finalized: still invisible to the API and the edge.
    let (_, versions) = s.p.api("GET", "apps/cart/versions", &s.token, None).await;
    assert_eq!(versions, json!([]));
    let (_, health) = s.p.api("GET", "health", &s.token, None).await;
    assert_eq!(health["revision"], revision);
    assert_eq!(s.p.edge_get(&format!("cart.{BASE}"), "/").await.status(), 404);

    let (status, body) = s.p.api("POST", &finalize, &s.token, None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!((body["version"].as_str(), body["files"].as_u64()), (Some("v1"), Some(2)));
    s.p.wait_serving(&format!("cart.{BASE}"), "v1").await;
    assert_eq!(s.p.edge_get(&format!("cart.{BASE}"), "/").await.bytes().await.unwrap(), &index[..]);
    let (status, _) = s.p.api("POST", &finalize, &s.token, None).await;
    assert_eq!(status, 409, "a deploy is finalized once");
}

#[tokio::test]
async fn malicious_listings_are_rejected() {
    let s = Setup::start().await;
    let d = Digest::of(b"x");
    let open = |files: Value| s.p.api("POST", "apps/cart/deploys", &s.token, Some(json!({ "files": files })));
    for bad in ["../etc/passwd", "/etc/passwd", "a\\b", "a//b", "./a", "a/../../b", "a\u{0}b", "a\nb", ""] {
        let (status, body) = open(json!([{ "path": bad, "sha256": d, "size": 1 }])).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_bundle")), "{bad:?}: {body}");
    }
    let (status, body) =
        open(json!([{ "path": "a", "sha256": d, "size": 1 }, { "path": "a", "sha256": d, "size": 1 }])).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("more than once"), "{body}");
    let (status, body) = open(json!([{ "path": "big.bin", "sha256": d, "size": 26_214_401u64 }])).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("big.bin"), "{body}");
    let (status, _) = open(json!([])).await;
    assert_eq!(status, 400);
    let (status, body) = open(json!([{ "path": "a", "sha256": "zz", "size": 1 }])).await;
    assert!((400..500).contains(&status), "{body}");
    let (status, _) = open(json!([{ "path": "a", "sha256": d, "size": 1, "mode": 7 }])).await;
    assert!((400..500).contains(&status));

    // A bad rules file fails at finalize with its line, and creates nothing.
    let rules = b"/ok /fine\n/broken\n".to_vec();
    let index = b"hi".to_vec();
    let (status, opened) = open(json!([
        { "path": "index.html", "sha256": Digest::of(&index), "size": 2 },
        { "path": "_redirects", "sha256": Digest::of(&rules), "size": rules.len() },
    ]))
    .await;
    assert_eq!(status, 201);
    let id = opened["deploy"].as_str().unwrap();
    for (digest, bytes) in [(Digest::of(&index), index), (Digest::of(&rules), rules)] {
        let url = format!("{}/v1/apps/cart/deploys/{id}/blobs/{digest}", s.p.control().url());
        let r = s.p.http.put(url).bearer_auth(&s.token).body(bytes).send().await.unwrap();
        assert_eq!(r.status(), 201);
    }
    let (status, body) = s.p.api("POST", &format!("apps/cart/deploys/{id}/finalize"), &s.token, None).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().starts_with("_redirects line 2:"), "{body}");
    let (_, versions) = s.p.api("GET", "apps/cart/versions", &s.token, None).await;
    assert_eq!(versions, json!([]));
}

#[tokio::test]
async fn project_file_login_open_and_helpful_errors() {
    let s = Setup::start().await;
    let api = s.p.control().url().to_owned();
    let project = tempfile::tempdir().unwrap();
    let root = project.path();
    write(root, "switchyard.toml", "app = \"cart\"\ndir = \"dist\"\n\n[site]\nspa_fallback = \"index.html\"\n");
    write(root, "dist/index.html", "<h1>spa</h1>");
    write(root, "src/main.ts", "not deployed");

    // login: checked, then kept with mode 0600; a wrong token is refused and not saved.
    let out = cli_in(root, s.home.path(), &[], &["login", "--api", &api, "--with-token", "sy_wrong"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!("the control plane at {api} refused the token")), "{}", stderr(&out));
    let config = s.home.path().join("switchyard/config.toml");
    assert!(!config.exists());
    let out = cli_in(root, s.home.path(), &[], &["login", "--api", &api, "--with-token", &s.token]);
    assert!(out.status.success(), "{}", stderr(&out));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o600);

    // deploy with no flags and no environment: app and dir from switchyard.toml, API and token
    // from the login; the [site] table travels with the version.
    let deployed = json_of(&cli_in(root, s.home.path(), &[], &["deploy", "--json"]));
    assert_eq!(deployed["version"], "v1");
    assert_eq!(deployed["files"], 2, "index.html and the project's switchyard.toml: {deployed}");
    let preview = format!("preview--cart.{BASE}");
    s.p.wait_serving(&preview, "v1").await;
    let r =
        s.p.http.get(format!("{}/checkout/step-2", s.p.edge().url())).header("host", &preview).send().await.unwrap();
    assert_eq!(r.status(), 200, "the SPA fallback from the project's [site] table");
    assert_eq!(r.text().await.unwrap(), "<h1>spa</h1>");

    // open prints the URL (no desktop here, so nothing is launched).
    let out = cli_in(root, s.home.path(), &[], &["open", "--channel", "preview"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("http://preview--cart.{BASE}:8080/\n"));
    let out = cli_in(root, s.home.path(), &[], &["open", "--app", "cart", "v1"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("http://v1--cart.{BASE}:8080/\n"));

    // Unknown app: did you mean. A token in the environment wins over the saved one.
    let out = cli_in(root, s.home.path(), &[], &["deploy", "--app", "crat"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("app \"crat\" not found; did you mean \"cart\"?"), "{}", stderr(&out));
    let out = cli_in(root, s.home.path(), &[("SWITCHYARD_TOKEN", "sy_revoked")], &["versions", "--app", "cart"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("refused the token"), "{}", stderr(&out));
    // Unreachable control plane: the URL tried is named.
    let out = cli_in(root, s.home.path(), &[("SWITCHYARD_API", "http://127.0.0.1:9")], &["deploy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot reach the control plane at http://127.0.0.1:9/v1/"), "{}", stderr(&out));
}
