//! The `switchyard` command against a real control plane and edge: the interface acceptance
//! checks use (names, `--json` shapes, exit codes).

use std::process::Output;

use serde_json::Value;
use switchyard_testkit::{ADMIN_TOKEN, BASE, Platform, run_cli};

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test]
async fn cli_walks_the_whole_flow_with_json_output() {
    let p = Platform::start().await;
    let api = p.control().url().to_owned();
    let cli = move |token: &str, args: &[&str]| run_cli(&api, token, args);

    let created = json(&cli(ADMIN_TOKEN, &["tenants", "create", "acme", "--json"]));
    assert_eq!(created["tenant"], "acme");
    let tenant = created["token"].as_str().unwrap().to_owned();
    let edge = json(&cli(ADMIN_TOKEN, &["edge-token", "create", "--json"]));
    assert!(edge["token"].as_str().unwrap().starts_with("sye_"));

    let out = cli(&tenant, &["apps", "create", "cart"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Created app cart"));
    let apps = json(&cli(&tenant, &["apps", "list", "--json"]));
    assert_eq!(apps[0]["name"], "cart");

    // Deploy a directory (with a nested folder and a .git to skip) and promote it.
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("assets")).unwrap();
    std::fs::create_dir_all(site.path().join(".git")).unwrap();
    std::fs::write(site.path().join("index.html"), "<h1>dir deploy</h1>").unwrap();
    std::fs::write(site.path().join("assets/app.js"), "let a = 1;").unwrap();
    std::fs::write(site.path().join(".git/HEAD"), "ref: refs/heads/main").unwrap();
    let dir = site.path().to_str().unwrap();
    let deployed = json(&cli(&tenant, &["deploy", dir, "--app", "cart", "--promote", "--message", "hello", "--json"]));
    assert_eq!(deployed["version"], "v1");
    assert_eq!(deployed["files"], 2, ".git is not deployed");
    assert!(deployed["urls"].as_array().unwrap().iter().any(|u| u == &format!("http://cart.{BASE}:8080/")));
    assert_eq!(deployed["private_urls"], serde_json::json!([]), "every host is public on this platform");
    p.wait_serving(&format!("cart.{BASE}"), "v1").await;
    assert_eq!(p.edge_get(&format!("cart.{BASE}"), "/").await.text().await.unwrap(), "<h1>dir deploy</h1>");

    // Human output of a preview deploy names the version and the URLs.
    std::fs::write(site.path().join("index.html"), "<h1>v2</h1>").unwrap();
    let out = cli(&tenant, &["deploy", dir, "--app", "cart"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.starts_with("uploaded 1 of 2 files (") && text.contains("1 already stored, v2 ready in"), "{text}");
    assert!(text.contains(&format!("http://preview--cart.{BASE}:8080/")), "{text}");

    // Archives deploy too.
    let tgz = site.path().join("../site.tgz");
    std::fs::write(
        &tgz,
        switchyard_testkit::archive::tar_gz(&[switchyard_testkit::archive::file("index.html", "tgz")]),
    )
    .unwrap();
    let deployed =
        json(&cli(&tenant, &["deploy", tgz.to_str().unwrap(), "--app", "cart", "--channel", "holiday", "--json"]));
    assert_eq!((deployed["version"].as_str(), &deployed["channels"]), (Some("v3"), &serde_json::json!(["holiday"])));

    let versions = json(&cli(&tenant, &["versions", "--app", "cart", "--json"]));
    let summary: Vec<(String, u64, Value)> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_str().unwrap().to_owned(), v["files"].as_u64().unwrap(), v["channels"].clone()))
        .collect();
    assert_eq!(summary[0], ("v1".into(), 2, serde_json::json!(["live"])));
    assert_eq!(summary[1], ("v2".into(), 2, serde_json::json!(["preview"])));
    assert_eq!(summary[2], ("v3".into(), 1, serde_json::json!(["holiday"])));
    assert!(versions[0]["bytes"].as_u64().unwrap() > 0 && versions[0]["created_at"].is_string());

    let out = cli(&tenant, &["promote", "--app", "cart", "v2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("live now serves v2 (was v1"));
    p.wait_serving(&format!("cart.{BASE}"), "v2").await;
    let release = json(&cli(&tenant, &["rollback", "--app", "cart", "--json"]));
    assert_eq!((release["from"].as_str(), release["to"].as_str()), (Some("v2"), Some("v1")));
    p.wait_serving(&format!("cart.{BASE}"), "v1").await;
    let releases = json(&cli(&tenant, &["releases", "--app", "cart", "--json"]));
    assert_eq!(releases.as_array().unwrap().len(), 5);
    let out = cli(&tenant, &["releases", "--app", "cart"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("WHEN"));

    // Errors: a message on stderr and a non-zero exit.
    let out = cli(&tenant, &["promote", "--app", "nope", "v1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("app \"nope\" not found"));
    let out = cli("wrong-token", &["apps", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown or revoked token"));
    let out = run_cli("http://127.0.0.1:9", &tenant, &["apps", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot reach the control plane at http://127.0.0.1:9/v1/apps")
    );
    let out = cli("", &["apps", "list"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no token"));
    let out = cli(&tenant, &["deploy", "/etc/hostname", "--app", "cart"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a directory, .tar.gz, .tgz or .zip"));
}
