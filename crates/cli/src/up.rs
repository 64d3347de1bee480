//! `switchyard up`: a control plane and one edge in this process on embedded defaults (local
//! blob directory + SQLite under `--data`), with the sample shop deployed and promoted on first
//! start. Restarting on the same data directory keeps every app, version and pointer.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use switchyard_client::{Client, DeployOptions};
use tokio_util::sync::CancellationToken;

use crate::args::UpArgs;
use crate::sample;

const SAMPLE_TENANT: &str = "demo";
const SAMPLE_APP: &str = "shop";

pub(crate) async fn run(args: UpArgs) -> anyhow::Result<()> {
    init_tracing();
    std::fs::create_dir_all(&args.data).with_context(|| format!("creating {}", args.data.display()))?;
    let data = std::fs::canonicalize(&args.data).with_context(|| format!("resolving {}", args.data.display()))?;

    // Bind both sockets first, so each side's configuration names the real addresses even
    // when a port of 0 was asked for.
    let api_listener = tokio::net::TcpListener::bind(args.api_addr)
        .await
        .with_context(|| format!("binding the API to {}", args.api_addr))?;
    let edge_listener = tokio::net::TcpListener::bind(args.edge_addr)
        .await
        .with_context(|| format!("binding the edge to {}", args.edge_addr))?;
    let https_listener = match args.https_addr {
        Some(addr) => {
            Some(tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding HTTPS to {addr}"))?)
        }
        None => None,
    };
    let https_addr = https_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let platform_cert = match https_addr {
        Some(_) => Some(platform_cert(&data, &args.base_domain)?),
        None => None,
    };
    let api_addr = api_listener.local_addr()?;
    let edge_addr = edge_listener.local_addr()?;
    let api_url = format!("http://{api_addr}");

    let control_args = switchyard_control::Args {
        data: Some(data.clone()),
        base_domain: Some(args.base_domain.clone()),
        edge_url: Some(format!("http://{{host}}:{}", edge_addr.port())),
        ..Default::default()
    };
    let control_config = switchyard_control::Config::load(control_args, std::env::var("SWITCHYARD_ADMIN_TOKEN").ok())?;
    let control = switchyard_control::bind_on(control_config, api_listener)?;
    let admin_token = control.admin_token().to_owned();
    let stop = CancellationToken::new();
    let control_task = tokio::spawn(control.serve(stop.clone().cancelled_owned()));

    let admin = Client::new(&api_url, &admin_token);
    let edge_token = edge_token(&admin, &data).await?;
    let edge_config = switchyard_edge::Config::load(switchyard_edge::Args {
        control_plane: Some(api_url.clone()),
        token: Some(edge_token),
        cache_dir: Some(data.join("edge-cache")),
        name: Some("up".into()),
        base_domain: Some(args.base_domain.clone()),
        https_addr: https_addr.map(|a| a.to_string()),
        tls_cert: platform_cert.as_ref().map(|(cert, _)| cert.clone()),
        tls_key: platform_cert.as_ref().map(|(_, key)| key.clone()),
        ..Default::default()
    })?;
    // The edge's Prometheus metrics, on a free loopback port.
    let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the metrics port")?;
    let metrics_addr = metrics_listener.local_addr()?;
    let edge = switchyard_edge::bind_on(edge_config, edge_listener)?
        .with_https(https_listener)
        .with_admin(Some(metrics_listener));
    let edge_task = tokio::spawn(edge.serve(stop.clone().cancelled_owned()));

    let first_run = ensure_sample(&admin).await?;
    let app = admin.app(SAMPLE_APP).await?;
    wait_until_served(&edge_addr.to_string(), &app).await?;

    let mut out = String::new();
    out += "\nSwitchyard is running.\n\n";
    out += &format!("  Sample shop (live)   {}\n", app.url);
    for (channel, version) in &app.channels {
        if channel != "live" {
            // Previews are private: the URL opens with a share link only.
            out += &format!(
                "  {channel:<20} {}  ({version}, private: `switchyard previews share --app {SAMPLE_APP} --channel {channel}` prints a link)\n",
                app.url.replacen("://", &format!("://{channel}--"), 1)
            );
        }
    }
    if let (Some(addr), Some((cert, _))) = (https_addr, &platform_cert) {
        let https = app.url.replacen("http://", "https://", 1).replacen(
            &format!(":{}/", edge_addr.port()),
            &format!(":{}/", addr.port()),
            1,
        );
        out += &format!("  Sample shop (HTTPS)  {https}\n");
        out +=
            &format!("  Platform certificate {}  (self-signed; trust it to skip browser warnings)\n", cert.display());
    }
    out += &format!("  Control plane API    {api_url}\n");
    out += &format!("  Operator token       {admin_token}\n");
    out += &format!("  Metrics              http://{metrics_addr}/metrics (edge), {api_url}/metrics (control plane)\n");
    if let Some(tenant) = first_run {
        out += &format!("  Tenant {SAMPLE_TENANT:?} token  {}  (shown once)\n", tenant);
    }
    out += &format!(
        "\nUse the CLI from another terminal:\n  export SWITCHYARD_API={api_url} SWITCHYARD_TOKEN={admin_token}\n  switchyard apps list\n  switchyard deploy ./dist --app {SAMPLE_APP}\n\nData in {}. Press Ctrl-C to stop.\n",
        data.display()
    );
    print!("{out}");
    let _ = std::io::stdout().flush();

    tokio::select! {
        () = switchyard_control::shutdown_signal() => {}
        result = async { tokio::try_join!(control_task, edge_task) } => {
            stop.cancel();
            match result {
                Ok((c, e)) => { c?; e?; }
                Err(e) => bail!("a server task failed: {e}"),
            }
            return Ok(());
        }
    }
    eprintln!("stopping…");
    stop.cancel();
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// The edge token kept in `<data>/edge.token`, created through the API on first start.
async fn edge_token(admin: &Client, data: &Path) -> anyhow::Result<String> {
    let path = data.join("edge.token");
    if let Ok(token) = std::fs::read_to_string(&path)
        && !token.trim().is_empty()
    {
        return Ok(token.trim().to_owned());
    }
    let token = admin.create_edge_token(Some("switchyard up")).await.context("creating an edge token")?.token;
    write_secret(&path, &token)?;
    Ok(token)
}

fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(f, "{secret}").and_then(|()| f.sync_all()).with_context(|| format!("writing {}", path.display()))
}

/// The self-signed certificate for `*.<base>` that platform hosts use over HTTPS, made with
/// rcgen in `<data>/tls/` on first run (key mode 0600) and reused after.
fn platform_cert(data: &Path, base: &str) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
    let dir = data.join("tls");
    let (cert, key) = (dir.join("platform.pem"), dir.join("platform.key"));
    if cert.is_file() && key.is_file() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // Clients refuse a wildcard one label above a top-level name (`*.localhost`), so the
    // sample shop's hosts are named too.
    let names = vec![
        format!("*.{base}"),
        base.to_owned(),
        format!("{SAMPLE_APP}.{base}"),
        format!("preview--{SAMPLE_APP}.{base}"),
    ];
    let generated = rcgen::generate_simple_self_signed(names).context("generating a self-signed certificate")?;
    write_secret(&key, generated.signing_key.serialize_pem().trim_end())?;
    std::fs::write(&cert, generated.cert.pem()).with_context(|| format!("writing {}", cert.display()))?;
    Ok((cert, key))
}

/// Creates the demo tenant and the sample shop, deploys and promotes it, unless the app
/// exists. Returns the new tenant's token on first run.
async fn ensure_sample(admin: &Client) -> anyhow::Result<Option<String>> {
    if admin.list_apps().await?.iter().any(|a| a.name == SAMPLE_APP) {
        return Ok(None);
    }
    let tenant_token = if admin.list_tenants().await?.iter().any(|t| t.name == SAMPLE_TENANT) {
        None
    } else {
        Some(admin.create_tenant(SAMPLE_TENANT).await?.token)
    };
    admin.create_app(SAMPLE_APP, Some(SAMPLE_TENANT)).await?;
    let opts = DeployOptions { promote: true, message: Some("sample shop".into()), ..Default::default() };
    admin.deploy(SAMPLE_APP, sample::archive(), &opts).await.context("deploying the sample shop")?;
    Ok(tenant_token)
}

/// Waits until the edge serves the app's live version, so the printed URLs work when shown.
async fn wait_until_served(edge_addr: &str, app: &switchyard_client::App) -> anyhow::Result<()> {
    let Some(live) = app.channels.get("live") else {
        return Ok(());
    };
    let host = app.url.trim_start_matches("http://").split('/').next().unwrap_or_default().to_owned();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let served = http
            .get(format!("http://{edge_addr}/"))
            .header("host", &host)
            .send()
            .await
            .ok()
            .and_then(|r| r.headers().get("x-switchyard-version").map(|v| v.as_bytes() == live.as_bytes()));
        if served == Some(true) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the edge did not start serving {} {live} within 10 s", app.name);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
