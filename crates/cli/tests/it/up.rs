//! `switchyard up`: control plane, edge and the sample shop in one process, printing the URLs
//! to open; restarting on the same data keeps everything.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use switchyard_testkit::bin_path;

/// A running `switchyard up` and the lines it printed up to "Press Ctrl-C".
pub(crate) struct Up {
    child: Child,
    pub(crate) banner: String,
}

impl Up {
    pub(crate) fn start(data: &std::path::Path) -> Up {
        let mut child = Command::new(bin_path("switchyard"))
            .args(["up", "--api-addr", "127.0.0.1:0", "--edge-addr", "127.0.0.1:0", "--data"])
            .arg(data)
            .env_remove("SWITCHYARD_ADMIN_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut banner = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                banner += &line;
                banner.push('\n');
                if line.contains("Press Ctrl-C") {
                    let _ = tx.send(std::mem::take(&mut banner));
                }
            }
        });
        let banner = rx.recv_timeout(Duration::from_secs(30)).expect("`switchyard up` printed its banner");
        Up { child, banner }
    }

    /// The value printed after `label` on its line.
    pub(crate) fn field(&self, label: &str) -> String {
        let line = self
            .banner
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("{label} in {}", self.banner));
        line.trim_start()[label.len()..].split_whitespace().next().unwrap().to_owned()
    }

    /// `http://shop.localhost:PORT/` → (`127.0.0.1:PORT`, `shop.localhost`)
    pub(crate) fn live(&self) -> (String, String) {
        let url = self.field("Sample shop (live)");
        let hostport = url.trim_start_matches("http://").trim_end_matches('/');
        let (host, port) = hostport.rsplit_once(':').unwrap();
        (format!("127.0.0.1:{port}"), host.to_owned())
    }

    pub(crate) fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/sample-shop").join(path)).unwrap()
}

#[tokio::test]
async fn up_serves_the_sample_shop_and_keeps_state_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let up = Up::start(&data);
    let (edge, host) = up.live();
    assert_eq!(host, "shop.localhost");
    let token = up.field("Operator token");
    assert!(token.starts_with("sya_"), "{}", up.banner);
    assert!(up.banner.contains("Tenant \"demo\" token"), "{}", up.banner);
    let api = up.field("Control plane API");

    let http = reqwest::Client::new();
    for (path, file, content_type) in [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/assets/app.js", "assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/style.css", "assets/style.css", "text/css; charset=utf-8"),
        ("/assets/logo.svg", "assets/logo.svg", "image/svg+xml"),
        ("/products.json", "products.json", "application/json"),
    ] {
        let r = http.get(format!("http://{edge}{path}")).header("host", &host).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], content_type, "{path}");
        assert_eq!(r.headers()["x-switchyard-version"], "v1");
        assert_eq!(r.bytes().await.unwrap(), sample(file), "{path} is served byte for byte");
    }
    // switchyard.toml makes it a single-page app: client-side routes load index.html.
    let r = http.get(format!("http://{edge}/cart")).header("host", &host).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), sample("index.html"));
    let admin_file = std::fs::read_to_string(data.join("admin.token")).unwrap();
    assert_eq!(admin_file.trim(), token, "the generated token is kept in the data dir");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(data.join("admin.token")).unwrap().permissions().mode() & 0o777, 0o600);

    // A second deploy through the API, then restart: everything is still there.
    let archive = switchyard_testkit::archive::tar_gz(&[switchyard_testkit::archive::file("index.html", "new")]);
    let r = http.post(format!("{api}/v1/apps/shop/versions")).bearer_auth(&token).body(archive).send().await.unwrap();
    assert_eq!(r.status(), 201);
    up.stop();

    let up = Up::start(&data);
    assert_eq!(up.field("Operator token"), token, "the same operator token");
    assert!(!up.banner.contains("Tenant \"demo\" token"), "the sample is not deployed twice");
    let (edge, host) = up.live();
    let r = http.get(format!("http://{edge}/")).header("host", &host).send().await.unwrap();
    assert_eq!(r.headers()["x-switchyard-version"], "v1");
    let api = up.field("Control plane API");
    let versions: serde_json::Value = http
        .get(format!("{api}/v1/apps/shop/versions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 2);
    let preview = format!("preview--{host}");
    assert!(up.banner.contains("private: `switchyard previews share --app shop --channel preview`"), "{}", up.banner);
    // Previews are private under `up`: a share link's token opens it.
    let share: serde_json::Value = http
        .post(format!("{api}/v1/apps/shop/shares"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "channel": "preview", "expires_in": 600 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cookie = format!("sy_share={}", share["url"].as_str().unwrap().split("sy_share=").nth(1).unwrap());
    let served =
        switchyard_testkit::wait_for("the preview to be served after the restart", Duration::from_secs(10), || async {
            let r = http
                .get(format!("http://{edge}/"))
                .header("host", &preview)
                .header("cookie", &cookie)
                .send()
                .await
                .ok()?;
            if r.status() != 200 {
                return None;
            }
            Some(r.text().await.unwrap())
        })
        .await;
    assert_eq!(served, "new");
    let r = http.get(format!("http://{edge}/")).header("host", &preview).send().await.unwrap();
    assert_eq!(r.status(), 401, "no link, no preview");
}
