//! The `switchyard` command: merchant and operator CLI over the control-plane API, and
//! `switchyard up`, which runs a control plane and an edge in one process with a sample shop.
//!
//! Owns: argument parsing, packing a directory into an archive, human and `--json` output.
//! Must not know: the API's storage or the edge's serving; it talks HTTP through
//! `switchyard-client` (and links the control plane and edge libraries only for `up`).

mod args;
mod config;
mod deploy;
mod diff;
mod domains;
mod explain;
mod fleet;
mod login;
mod open;
mod output;
mod pack;
mod previews;
mod progress;
mod project;
mod sample;
mod split;
mod stats;
mod up;

use std::process::ExitCode;

use anyhow::Context;
use switchyard_client::{Client, DeployOptions};

pub use args::Cli;
use args::{AppsCommand, Command, EdgeTokenCommand, TenantsCommand};
use output::{Output, human_bytes};

/// Runs the CLI; errors are printed to stderr and give exit code 1.
pub fn main(cli: Cli) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let out = Output { json: cli.json };
    if let Command::Up(args) = cli.command {
        return up::run(args).await;
    }
    let saved = config::load()?;
    let api = cli.api.clone().or(saved.api).unwrap_or_else(|| config::DEFAULT_API.to_owned());
    if let Command::Login { login_token } = cli.command {
        return login::login(&api, login_token.or(cli.token)).await;
    }
    let token = cli.token.clone().or(saved.token).filter(|t| !t.trim().is_empty()).context(
        "no token: run `switchyard login`, pass --token or set SWITCHYARD_TOKEN (`switchyard up` prints the \
         operator token; `switchyard tenants create` prints a tenant's)",
    )?;
    let client = Client::new(&api, &token);
    match dispatch(cli.command, &client, &out).await {
        Ok(()) => Ok(()),
        Err(e) => Err(explain::explain(e, &client, &api).await),
    }
}

async fn dispatch(command: Command, client: &Client, out: &Output) -> anyhow::Result<()> {
    match command {
        Command::Up(_) | Command::Login { .. } => unreachable!("handled above"),
        Command::Tenants { command: TenantsCommand::Create { name } } => {
            let created = client.create_tenant(&name).await?;
            out.print(&created, || {
                format!(
                    "Created tenant {}.\nIts token (shown once, keep it safe):\n  {}\n",
                    created.tenant, created.token
                )
            });
        }
        Command::Tenants { command: TenantsCommand::List } => {
            let tenants = client.list_tenants().await?;
            out.print(&tenants, || {
                output::table(
                    &["TENANT", "CREATED"],
                    tenants.iter().map(|t| vec![t.name.clone(), t.created_at.clone()]),
                )
            });
        }
        Command::EdgeToken { command: EdgeTokenCommand::Create { label } } => {
            let created = client.create_edge_token(label.as_deref()).await?;
            out.print(&created, || format!("{}\n", created.token));
        }
        Command::Apps { command: AppsCommand::Create { name, tenant } } => {
            let app = client.create_app(&name, tenant.as_deref()).await?;
            out.print(&app, || {
                format!(
                    "Created app {} (tenant {}). Deploy with:\n  switchyard deploy ./dist --app {}\n",
                    app.name, app.tenant, app.name
                )
            });
        }
        Command::Apps { command: AppsCommand::List } => {
            let apps = client.list_apps().await?;
            out.print(&apps, || {
                output::table(
                    &["APP", "TENANT", "LIVE", "CHANNELS", "URL"],
                    apps.iter().map(|a| {
                        let channels: Vec<String> = a.channels.iter().map(|(c, v)| format!("{c}={v}")).collect();
                        vec![
                            a.name.clone(),
                            a.tenant.clone(),
                            a.channels.get("live").cloned().unwrap_or_else(|| "-".into()),
                            channels.join(" "),
                            a.url.clone(),
                        ]
                    }),
                )
            });
        }
        Command::Deploy { path, app, channel, promote, message, jobs } => {
            let project = project::Project::load()?;
            let app = project.app(app)?;
            let path = match path.or_else(|| project.dir.clone()) {
                Some(path) => path,
                None => project.root.clone(),
            };
            let opts = DeployOptions { channel, promote, message };
            let meta = std::fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
            if meta.is_dir() {
                let summary = deploy::deploy_dir(client, &app, &path, &project, &opts, usize::from(jobs)).await?;
                out.print(&summary, || summary.human());
                return Ok(());
            }
            let archive = pack::archive_for(&path)?;
            let deployed = client.deploy(&app, archive, &opts).await?;
            out.print(&deployed, || {
                let mut s = format!(
                    "Deployed {} {} ({}, {}; {} stored, the rest already held)\n",
                    deployed.app,
                    deployed.version,
                    output::plural(deployed.files, "file"),
                    human_bytes(deployed.bytes),
                    output::plural(deployed.new_blobs, "new file"),
                );
                s += &deploy::where_to_open(
                    &deployed.app,
                    &deployed.version,
                    &deployed.channels,
                    &deployed.urls,
                    &deployed.private_urls,
                );
                s
            });
        }
        Command::Open { app, channel, version } => {
            let app = project::Project::load()?.app(app)?;
            open::open(client, &app, channel, version).await?;
        }
        Command::Diff { app, from, to } => {
            let app = project::Project::load()?.app(app)?;
            diff::diff(client, out, &app, &from, &to).await?;
        }
        Command::Promote { app, version, channel, wait } => {
            let release = client.promote(&app, &version, channel.as_deref()).await?;
            fleet::print_release(client, out, &app, &release, &wait).await?;
        }
        Command::Rollback { app, channel, wait } => {
            let release = client.rollback(&app, channel.as_deref()).await?;
            fleet::print_release(client, out, &app, &release, &wait).await?;
        }
        Command::Edges => fleet::edges(client, out).await?,
        Command::Split { app, shares } => split::split(client, out, &app, &shares).await?,
        Command::Versions { app } => {
            let versions = client.versions(&app).await?;
            out.print(&versions, || {
                output::table(
                    &["VERSION", "CREATED", "FILES", "SIZE", "CHANNELS", "MESSAGE"],
                    versions.iter().map(|v| {
                        vec![
                            v.version.clone(),
                            v.created_at.clone(),
                            v.files.to_string(),
                            human_bytes(v.bytes),
                            v.channels.join(","),
                            v.message.clone().unwrap_or_default(),
                        ]
                    }),
                )
            });
        }
        Command::Domains { command } => domains::domains(client, out, command).await?,
        Command::Certs { command } => domains::certs(client, out, command).await?,
        Command::Previews { command } => previews::previews(client, out, command).await?,
        Command::Stats { app, since } => stats::stats(client, out, &app, since).await?,
        Command::Releases { app } => {
            let releases = client.releases(&app).await?;
            out.print(&releases, || {
                output::table(
                    &["WHEN", "WHO", "CHANNEL", "FROM", "TO", "KIND"],
                    releases.iter().map(|r| {
                        vec![
                            r.at.clone(),
                            r.actor.clone(),
                            r.channel.clone(),
                            r.from.clone().unwrap_or_else(|| "-".into()),
                            r.to.clone(),
                            r.kind.clone(),
                        ]
                    }),
                )
            });
        }
    }
    Ok(())
}
