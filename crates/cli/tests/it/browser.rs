//! The sample shop in a real browser: headless Chromium loads it from `switchyard up`'s edge,
//! runs its JavaScript module and renders the catalogue and the serving version.

use std::process::Command;

use crate::up::Up;

#[tokio::test]
async fn chromium_renders_the_sample_shop() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
        .expect("Chromium is installed (the README's test command installs it)");
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(&dir.path().join("data"));
    let url = up.field("Sample shop (live)");
    let profile = dir.path().join("profile");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    // Written by app.js after fetching products.json: proof the module ran and the fetch worked.
    assert!(
        dom.contains("<p id=\"status\">4 products</p>"),
        "rendered DOM:\n{dom}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains("Enamel camp mug"), "{dom}");
    assert!(dom.contains("<span id=\"served-by\">shop v1</span>"), "{dom}");
    up.stop();
}
