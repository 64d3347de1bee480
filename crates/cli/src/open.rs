//! `switchyard open`: prints an app's URL (live, a channel or one version) and opens it in a
//! browser when there is a desktop session (`DISPLAY` or `WAYLAND_DISPLAY`).

use anyhow::bail;
use switchyard_client::Client;
use switchyard_model::hosts::{Selector, platform_host};
use switchyard_model::{LIVE, parse_version_label};

pub(crate) async fn open(
    client: &Client,
    app: &str,
    channel: Option<String>,
    version: Option<String>,
) -> anyhow::Result<()> {
    let info = client.app(app).await?;
    let (Some(edge_url), Some(base)) = (&info.edge_url, &info.base_domain) else {
        bail!("this control plane does not say where its edges are; upgrade it");
    };
    let selector = match (&version, &channel) {
        (Some(v), _) => match parse_version_label(v) {
            Some(n) => Selector::Version(n),
            None => bail!("version {v:?}: expected v<N>, like v3"),
        },
        (None, Some(c)) if c != LIVE => Selector::Channel(c.clone()),
        _ => Selector::Channel(LIVE.to_owned()),
    };
    if let Selector::Channel(c) = &selector
        && !info.channels.contains_key(c)
    {
        eprintln!("note: channel {c} of {app} points at no version yet");
    }
    let host = platform_host(app, &selector, base);
    let url = format!("{}/", edge_url.replace("{host}", &host));
    println!("{url}");
    let desktop = ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
    if desktop {
        let spawned = std::process::Command::new("xdg-open")
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if let Err(e) = spawned {
            eprintln!("note: could not start xdg-open: {e}");
        }
    }
    Ok(())
}
