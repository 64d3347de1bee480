//! Shared previews against the real binaries: private preview and version hosts (401 without
//! a link), a share link's 302 + cookie → 200, revocation and expiry reaching the edge, public
//! channels, and the signing key staying in the control plane.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use switchyard_testkit::archive::{file, tar_gz};
use switchyard_testkit::{ADMIN_TOKEN, BASE, Platform, run_cli, wait_for};

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// `http://preview--cart.test.example:8080/?sy_share=…` → (`preview--cart.test.example`, `/?sy_share=…`)
fn split_link(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect(url);
    let (host, path) = rest.split_once(":8080").expect(url);
    (host.to_owned(), path.to_owned())
}

fn token_of(url: &str) -> String {
    url.split("sy_share=").nth(1).expect(url).to_owned()
}

/// A private-previews platform with tenant acme's app cart: v1 live, v2 on preview, both
/// served by the edge. Returns the platform and acme's token.
async fn platform() -> (Platform, String) {
    let p = Platform::start_private_previews().await;
    let acme = p.tenant("acme").await;
    p.app(&acme, "cart").await;
    let v1 = tar_gz(&[file("index.html", "<h1>v1</h1>"), file("app.js", "let v = 1;")]);
    assert_eq!(p.deploy(&acme, "cart", "promote=true", v1).await.0, 201);
    // v2's `_headers` asks shared caches to keep its script for a year, and drops the policy
    // of `/open`: a private host keeps both for the visitor's browser only.
    let v2 = tar_gz(&[
        file("index.html", "<h1>v2</h1>"),
        file("app.js", "let v = 2;"),
        file("open.txt", "open"),
        file("_headers", "/app.js\n  Cache-Control: max-age=31536000, public\n/open.txt\n  ! Cache-Control\n"),
    ]);
    assert_eq!(p.deploy(&acme, "cart", "channel=preview", v2).await.0, 201);
    p.wait_serving(&format!("cart.{BASE}"), "v1").await;
    // The preview host exists (private) once the edge has v2.
    wait_for("the edge to gate the preview host", Duration::from_secs(10), || async {
        (p.edge_get(&format!("preview--cart.{BASE}"), "/").await.status() == 401).then_some(())
    })
    .await;
    (p, acme)
}

async fn get(p: &Platform, host: &str, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = p.http.get(format!("{}{path}", p.edge().url())).header("host", host);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

/// Opens `url` like a browser: the link answers 302 with the cookie; returns the cookie pair.
async fn open_link(p: &Platform, url: &str) -> String {
    let (host, path) = split_link(url);
    let r = get(p, &host, &path, None).await;
    assert_eq!(r.status(), 302, "{url}");
    assert_eq!(r.headers()["location"], "/");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let token = token_of(url);
    assert!(cookie.starts_with(&format!("sy_share={token}; Path=/; Max-Age=")), "{cookie}");
    assert!(cookie.ends_with("; HttpOnly; SameSite=Lax"), "{cookie}");
    format!("sy_share={token}")
}

#[tokio::test]
async fn a_private_preview_opens_with_its_link_and_closes_when_revoked() {
    let (p, acme) = platform().await;
    let api = p.control().url().to_owned();
    let cli = |args: &[&str]| run_cli(&api, &acme, args);
    let preview = format!("preview--cart.{BASE}");
    let mut answers = String::new();

    // Without a link: 401, a short page, nothing about the preview.
    let r = get(&p, &preview, "/", None).await;
    assert_eq!(r.status(), 401);
    let h = r.headers().clone();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-robots-tag"], "noindex");
    assert_eq!(h["www-authenticate"], "Switchyard-Share realm=\"preview\"");
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert!(h.get("x-switchyard-version").is_none() && h.get("set-cookie").is_none());
    let body = r.text().await.unwrap();
    assert!(body.contains("This preview is private") && body.contains("share link"), "{body}");
    assert!(!body.contains("v2"));
    assert_eq!(get(&p, &preview, "/app.js", None).await.status(), 401, "assets too");
    assert_eq!(get(&p, &format!("v2--cart.{BASE}"), "/", None).await.status(), 401, "version hosts too");
    assert_eq!(get(&p, &format!("v1--cart.{BASE}"), "/", None).await.status(), 401);
    let live = get(&p, &format!("cart.{BASE}"), "/", None).await;
    assert_eq!(
        (live.status().as_u16(), live.headers()["cache-control"].to_str().unwrap()),
        (200, "public, max-age=0, must-revalidate")
    );

    // The CLI prints a link; opening it sets the cookie, and the cookie opens the preview.
    let out = ok(&cli(&["previews", "share", "--app", "cart", "--channel", "preview", "--expires", "72h"]));
    answers += &out;
    assert!(out.starts_with("Share link to cart preview (until "), "{out}");
    let url = out.lines().find_map(|l| l.trim().strip_prefix("http://").map(|u| format!("http://{u}"))).expect(&out);
    assert!(url.starts_with(&format!("http://preview--cart.{BASE}:8080/?sy_share=")), "{url}");
    let id = out.split("switchyard previews revoke --app cart ").nth(1).unwrap().trim().to_owned();
    assert_eq!(id.len(), 32, "{out}");
    let (host, path) = split_link(&url);
    let r = get(&p, &host, &path, None).await;
    let max_age: u64 = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((259_190..=259_200).contains(&max_age), "{max_age}");
    let cookie = open_link(&p, &url).await;
    // Query parameters besides the token survive the redirect.
    let r = get(&p, &host, &format!("/cart?step=2&sy_share={}", token_of(&url)), None).await;
    assert_eq!(r.headers()["location"], "/cart?step=2");

    let r = get(&p, &preview, "/", Some(&cookie)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-version"], "v2");
    assert_eq!(r.headers()["cache-control"], "private, max-age=0, must-revalidate", "not for shared caches");
    assert_eq!(r.text().await.unwrap(), "<h1>v2</h1>");
    let r = get(&p, &preview, "/app.js", Some(&format!("a=1; {cookie}; b=2"))).await;
    assert_eq!(r.headers()["cache-control"], "private, max-age=31536000", "`_headers` made it public");
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "let v = 2;".to_owned()));
    let r = get(&p, &preview, "/open.txt", Some(&cookie)).await;
    assert_eq!(r.headers()["cache-control"], "private, max-age=0, must-revalidate", "`_headers` removed it");
    let r = get(&p, &preview, "/missing.js", Some(&cookie)).await;
    assert_eq!(
        (r.status().as_u16(), r.headers()["cache-control"].to_str().unwrap()),
        (404, "private, max-age=0, must-revalidate")
    );
    // The link's 302 stays on this host, whatever the request path looks like.
    let r = get(&p, &host, &format!("//evil.example/?sy_share={}", token_of(&url)), None).await;
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (302, "/evil.example/"));
    // The preview's link opens neither the version hosts nor another app.
    assert_eq!(get(&p, &format!("v2--cart.{BASE}"), "/", Some(&cookie)).await.status(), 401);

    // A second link, as JSON; the listing shows both and no token.
    let second =
        json(&cli(&["previews", "share", "--app", "cart", "--channel", "preview", "--expires", "1h", "--json"]));
    answers += &second.to_string();
    assert_eq!((second["app"].as_str(), second["scope"].as_str()), (Some("cart"), Some("preview")));
    let second_cookie = open_link(&p, second["url"].as_str().unwrap()).await;
    let listed = json(&cli(&["previews", "list", "--app", "cart", "--json"]));
    answers += &listed.to_string();
    assert_eq!(listed["shares"].as_array().unwrap().len(), 2);
    assert!(
        listed["shares"].as_array().unwrap().iter().all(|s| s["state"] == "active" && s["created_by"] == "tenant:acme"),
        "{listed}"
    );
    assert!(!listed.to_string().contains(&token_of(&url)), "a listing never shows a link");
    let text = ok(&cli(&["previews", "list", "--app", "cart"]));
    assert!(text.starts_with("Public channels of cart (besides live): none\nID "), "{text}");
    assert!(text.contains(&id));

    // Another tenant cannot see, share or revoke cart's previews.
    let bolt = p.tenant("bolt").await;
    let out = run_cli(&api, &bolt, &["previews", "revoke", "--app", "cart", &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("app \"cart\" not found"), "{out:?}");
    let out = run_cli(&api, &bolt, &["previews", "share", "--app", "cart", "--channel", "preview"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("app \"cart\" not found"), "{out:?}");

    // Revoked: once the edge has the new revision, neither the cookie nor the link works.
    let out = ok(&cli(&["previews", "revoke", "--app", "cart", &id]));
    assert_eq!(out, format!("Revoked share link {id} to cart preview; edges refuse it from their next sync.\n"));
    wait_for("the edge to refuse the revoked link", Duration::from_secs(10), || async {
        (get(&p, &preview, "/", Some(&cookie)).await.status() == 401).then_some(())
    })
    .await;
    let r = get(&p, &host, &path, None).await;
    assert_eq!(r.status(), 401, "the link itself");
    assert!(r.text().await.unwrap().contains("expired, was revoked"));
    let r = get(&p, &preview, "/", Some(&cookie)).await;
    assert_eq!(
        r.headers()["set-cookie"],
        "sy_share=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
        "the dead cookie is cleared"
    );
    assert_eq!(get(&p, &preview, "/", Some(&second_cookie)).await.status(), 200, "the other link still works");
    let listed = json(&cli(&["previews", "list", "--app", "cart", "--json"]));
    let states: Vec<&str> = listed["shares"].as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap()).collect();
    assert_eq!(states.iter().filter(|s| **s == "revoked").count(), 1, "{listed}");

    // The signing key never left the control plane: not in an answer, a log line or the
    // edge's persisted snapshot (which holds the public half only).
    let key_path = p.control().data.join("keys/preview-signing.pk8");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(key_path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    let pk8 = std::fs::read(&key_path).unwrap();
    assert_eq!(pk8.len(), 83, "an Ed25519 PKCS#8 v2 document from ring");
    let seed = &pk8[16..48];
    let (_, snapshot) = p.api("GET", "edge/snapshot?after=0&wait=0", ADMIN_TOKEN, None).await;
    let public = snapshot["previews"]["key"].as_str().unwrap().to_owned();
    let persisted = std::fs::read_to_string(p.edge().cache.join("snapshot.json")).unwrap();
    assert!(persisted.contains(&public), "edges get the public key");
    answers += &snapshot.to_string();
    let (_, app) = p.api("GET", "apps/cart", &acme, None).await;
    answers += &app.to_string();
    let everything = [answers, p.control().logs(), p.edge().logs(), persisted].concat();
    for secret in [hex(seed), b64(seed, false), b64(seed, true), b64(&pk8, false), b64(&pk8, true)] {
        assert!(!everything.contains(&secret), "the signing key leaked: {secret}");
    }
    assert!(!p.control().logs().contains(&token_of(&url)), "a link's token is not logged");
}

#[tokio::test]
async fn an_expired_link_stops_working() {
    let (p, acme) = platform().await;
    let api = p.control().url().to_owned();
    let preview = format!("preview--cart.{BASE}");
    let link = json(&run_cli(
        &api,
        &acme,
        &["previews", "share", "--app", "cart", "--channel", "preview", "--expires", "3s", "--json"],
    ));
    let url = link["url"].as_str().unwrap();
    let cookie = open_link(&p, url).await;
    assert_eq!(get(&p, &preview, "/", Some(&cookie)).await.status(), 200, "valid before it expires");
    wait_for("the link to expire", Duration::from_secs(10), || async {
        (get(&p, &preview, "/", Some(&cookie)).await.status() == 401).then_some(())
    })
    .await;
    let (host, path) = split_link(url);
    assert_eq!(get(&p, &host, &path, None).await.status(), 401, "the link too");
    let listed = json(&run_cli(&api, &acme, &["previews", "list", "--app", "cart", "--json"]));
    assert_eq!(listed["shares"][0]["state"], "expired");
    // Bad expiries are refused by name.
    for bad in ["0s", "31days"] {
        let out =
            run_cli(&api, &acme, &["previews", "share", "--app", "cart", "--channel", "preview", "--expires", bad]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("a link lives from 1 second to 30 days"), "{out:?}");
    }
}

#[tokio::test]
async fn public_channels_and_version_links() {
    let (p, acme) = platform().await;
    let api = p.control().url().to_owned();
    let cli = |args: &[&str]| run_cli(&api, &acme, args);
    let preview = format!("preview--cart.{BASE}");

    let out = ok(&cli(&["previews", "share", "--app", "cart", "--channel", "preview", "--public"]));
    assert_eq!(out, format!("cart preview is public: anyone can open it, no link needed.\n  http://{preview}:8080/\n"));
    wait_for("the preview to be public", Duration::from_secs(10), || async {
        let r = get(&p, &preview, "/", None).await;
        (r.status() == 200 && r.headers()["x-switchyard-version"] == "v2").then_some(())
    })
    .await;
    assert_eq!(get(&p, &preview, "/", None).await.headers()["cache-control"], "public, max-age=0, must-revalidate");
    assert_eq!(get(&p, &format!("v2--cart.{BASE}"), "/", None).await.status(), 401, "version hosts stay private");
    let listed = json(&cli(&["previews", "list", "--app", "cart", "--json"]));
    assert_eq!(listed["public"], serde_json::json!(["preview"]));

    let out = json(&cli(&["previews", "share", "--app", "cart", "--channel", "preview", "--private", "--json"]));
    assert_eq!(out["public"], false);
    wait_for("the preview to be private again", Duration::from_secs(10), || async {
        (get(&p, &preview, "/", None).await.status() == 401).then_some(())
    })
    .await;

    // A version's link opens that version's host only.
    let link = json(&cli(&["previews", "share", "--app", "cart", "--version", "v1", "--expires", "10m", "--json"]));
    assert_eq!(link["scope"], "v1");
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("http://v1--cart.{BASE}:8080/?sy_share=")), "{url}");
    let cookie = open_link(&p, url).await;
    let r = get(&p, &format!("v1--cart.{BASE}"), "/", Some(&cookie)).await;
    assert_eq!((r.status().as_u16(), r.headers()["x-switchyard-version"].to_str().unwrap()), (200, "v1"));
    assert_eq!(get(&p, &preview, "/", Some(&cookie)).await.status(), 401);

    // A custom domain of a private channel is as private as the channel's host.
    let body = serde_json::json!({ "name": "preview.shop.example", "app": "cart", "channel": "preview" });
    assert_eq!(p.api("POST", "domains", &acme, Some(body)).await.0, 201);
    wait_for("the edge to gate the custom domain", Duration::from_secs(10), || async {
        (get(&p, "preview.shop.example", "/", None).await.status() == 401).then_some(())
    })
    .await;
    let link = json(&cli(&["previews", "share", "--app", "cart", "--channel", "preview", "--json"]));
    let token = token_of(link["url"].as_str().unwrap());
    let r = get(&p, "preview.shop.example", &format!("/?sy_share={token}"), None).await;
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (302, "/"));
    let r = get(&p, "preview.shop.example", "/", Some(&format!("sy_share={token}"))).await;
    assert_eq!((r.status().as_u16(), r.headers()["x-switchyard-version"].to_str().unwrap()), (200, "v2"));

    // live is always public; unknown channels and versions are named.
    for (args, message) in [
        (vec!["--channel", "live"], "the live channel is always public"),
        (vec!["--channel", "nope"], "app \"cart\" has no channel \"nope\""),
        (vec!["--version", "v9"], "app \"cart\" has no version v9"),
        (vec!["--channel", "live", "--public"], "the live channel is always public"),
    ] {
        let mut full = vec!["previews", "share", "--app", "cart"];
        full.extend(args);
        let out = cli(&full);
        assert!(!out.status.success(), "{full:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(message), "{full:?}: {out:?}");
    }
}

#[tokio::test]
async fn a_deploy_says_which_of_its_urls_are_private_and_how_to_open_them() {
    let (p, acme) = platform().await;
    let api = p.control().url().to_owned();
    let cli = |args: &[&str]| run_cli(&api, &acme, args);
    let site = tempfile::tempdir().unwrap();
    let dir = site.path().to_str().unwrap();
    let url = |host: &str| format!("http://{host}.{BASE}:8080/");

    // To preview (the default): the version's host and the preview's are private, each shown
    // with the command that makes its link.
    std::fs::write(site.path().join("index.html"), "<h1>v3</h1>").unwrap();
    let text = ok(&cli(&["deploy", dir, "--app", "cart"]));
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "Channels now on v3: preview".to_owned(),
            format!(
                "  {}  (private: `switchyard previews share --app cart --version v3` prints a link)",
                url("v3--cart")
            ),
            format!(
                "  {}  (private: `switchyard previews share --app cart --channel preview` prints a link)",
                url("preview--cart")
            ),
        ],
        "{text}"
    );
    // The printed command's link opens the version's host.
    let v3 = format!("v3--cart.{BASE}");
    wait_for("the edge to gate v3's host", Duration::from_secs(10), || async {
        (get(&p, &v3, "/", None).await.status() == 401).then_some(())
    })
    .await;
    let link = json(&cli(&["previews", "share", "--app", "cart", "--version", "v3", "--json"]));
    let cookie = open_link(&p, link["url"].as_str().unwrap()).await;
    let r = get(&p, &v3, "/", Some(&cookie)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "<h1>v3</h1>");

    // Promoted: live is public, the version's host is not.
    let deployed = json(&cli(&["deploy", dir, "--app", "cart", "--promote", "--json"]));
    assert_eq!(deployed["urls"], serde_json::json!([url("v4--cart"), url("cart")]));
    assert_eq!(deployed["private_urls"], serde_json::json!([url("v4--cart")]));

    // A public channel's URL needs no link.
    ok(&cli(&["previews", "share", "--app", "cart", "--channel", "preview", "--public"]));
    let deployed = json(&cli(&["deploy", dir, "--app", "cart", "--json"]));
    assert_eq!(deployed["urls"], serde_json::json!([url("v5--cart"), url("preview--cart")]));
    assert_eq!(deployed["private_urls"], serde_json::json!([url("v5--cart")]));
}

#[tokio::test]
async fn previews_stay_private_on_an_edge_restarted_without_the_control_plane_and_links_survive_a_restart() {
    let (mut p, acme) = platform().await;
    let api = p.control().url().to_owned();
    let share = |expires: &str| {
        let out = run_cli(
            &api,
            &acme,
            &["previews", "share", "--app", "cart", "--channel", "preview", "--expires", expires, "--json"],
        );
        json(&out)
    };
    let (kept, revoked) = (share("1h"), share("1h"));
    let kept_cookie = format!("sy_share={}", token_of(kept["url"].as_str().unwrap()));
    let revoked_cookie = format!("sy_share={}", token_of(revoked["url"].as_str().unwrap()));
    let id = revoked["id"].as_str().unwrap();
    ok(&run_cli(&api, &acme, &["previews", "revoke", "--app", "cart", id]));
    let preview = format!("preview--cart.{BASE}");
    wait_for("the edge to refuse the revoked link", Duration::from_secs(10), || async {
        (get(&p, &preview, "/", Some(&revoked_cookie)).await.status() == 401).then_some(())
    })
    .await;

    // The edge alone, from its persisted snapshot: still private, the revocation still holds.
    let (_, before) = p.api("GET", "edge/snapshot?after=0&wait=0", ADMIN_TOKEN, None).await;
    let (control_data, edge_cache) = (p.control().data.clone(), p.edge().cache.clone());
    p.edge.take().unwrap().stop();
    p.control.take().unwrap().stop();
    p.edge = Some(switchyard_testkit::Edge::start("http://127.0.0.1:9", &p.edge_token, &edge_cache, BASE));
    assert_eq!(get(&p, &preview, "/", None).await.status(), 401);
    assert_eq!(get(&p, &preview, "/", Some(&revoked_cookie)).await.status(), 401);
    assert_eq!(get(&p, &preview, "/", Some(&kept_cookie)).await.status(), 200);
    p.edge.take().unwrap().stop();

    // The control plane restarted on its data keeps its key: links handed out still work.
    p.control = Some(switchyard_testkit::Control::start_private_previews(&control_data, &[]));
    p.edge = Some(switchyard_testkit::Edge::start(p.control().url(), &p.edge_token, &edge_cache, BASE));
    let (_, snapshot) = p.api("GET", "edge/snapshot?after=0&wait=0", ADMIN_TOKEN, None).await;
    assert_eq!(snapshot["previews"]["revoked"], serde_json::json!([id]));
    assert_eq!(snapshot["previews"]["key"], before["previews"]["key"], "the same key after a restart");
    assert_eq!(snapshot["revision"], before["revision"], "nothing changed, nothing to publish");
    assert_eq!(get(&p, &preview, "/", Some(&kept_cookie)).await.status(), 200);
    assert_eq!(get(&p, &preview, "/", Some(&revoked_cookie)).await.status(), 401);
}

#[tokio::test]
async fn a_corrupt_signing_key_stops_the_control_plane_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("keys/preview-signing.pk8");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, b"garbage").unwrap();
    let out = std::process::Command::new(switchyard_testkit::bin_path("switchyard-control"))
        .args(["--api-addr", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env("SWITCHYARD_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("SWITCHYARD_PUBLIC_PREVIEWS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&key.display().to_string()) && stderr.contains("not an Ed25519 PKCS#8 key"), "{stderr}");
    assert_eq!(std::fs::read(&key).unwrap(), b"garbage", "never replaced behind the operator's back");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Base64 of `bytes`, standard or URL-safe alphabet, without padding (a prefix of any padded
/// form too).
fn b64(bytes: &[u8], url: bool) -> String {
    let alphabet: &[u8; 64] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
