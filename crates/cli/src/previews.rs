//! `switchyard previews …`: share links to private preview and version hosts, and public
//! channels.

use clap::Subcommand;
use switchyard_client::{Client, ShareTarget};

use crate::output::{self, Output};

#[derive(Debug, Subcommand)]
pub enum PreviewsCommand {
    /// Print a link that opens a private channel (or one version) until it expires; or, with
    /// --public / --private, make a channel open to anyone or private again.
    #[command(disable_version_flag = true)]
    Share {
        #[arg(long)]
        app: String,
        /// The channel, e.g. preview (not live: it is always public).
        #[arg(long, required_unless_present = "target_version")]
        channel: Option<String>,
        /// One version instead of a channel, e.g. v3.
        #[arg(long = "version", id = "target_version", value_name = "VERSION", conflicts_with_all = ["channel", "public", "private"])]
        version: Option<String>,
        /// How long the link works (e.g. 2h, 72h, 7d; at most 30 days).
        #[arg(long, value_parser = humantime::parse_duration, default_value = "72h", conflicts_with_all = ["public", "private"])]
        expires: std::time::Duration,
        /// Make the channel public: anyone may open it, no link needed.
        #[arg(long, requires = "channel", conflicts_with = "private")]
        public: bool,
        /// Make the channel private again: only share links open it.
        #[arg(long, requires = "channel")]
        private: bool,
    },
    /// List an app's public channels and share links (never the links themselves).
    List {
        #[arg(long)]
        app: String,
    },
    /// Revoke a share link; edges refuse it once they have the next revision.
    Revoke {
        #[arg(long)]
        app: String,
        /// The link's id (`switchyard previews list`).
        id: String,
    },
}

pub(crate) async fn previews(client: &Client, out: &Output, command: PreviewsCommand) -> anyhow::Result<()> {
    match command {
        PreviewsCommand::Share { app, channel: Some(channel), public: true, .. } => {
            let v = client.set_public(&app, &channel, true).await?;
            out.print(&v, || {
                format!("{} {} is public: anyone can open it, no link needed.\n  {}\n", v.app, v.channel, v.url)
            });
        }
        PreviewsCommand::Share { app, channel: Some(channel), private: true, .. } => {
            let v = client.set_public(&app, &channel, false).await?;
            out.print(&v, || {
                format!(
                    "{} {} is private: only share links open it. Make one with:\n  switchyard previews share --app {} --channel {}\n",
                    v.app, v.channel, v.app, v.channel
                )
            });
        }
        PreviewsCommand::Share { app, channel, version, expires, .. } => {
            let target = match (channel, version) {
                (_, Some(v)) => ShareTarget::Version(v),
                (Some(c), None) => ShareTarget::Channel(c),
                (None, None) => anyhow::bail!("name a --channel or a --version to share"),
            };
            let s = client.create_share(&app, &target, expires).await?;
            out.print(&s, || {
                format!(
                    "Share link to {} {} (until {}):\n  {}\nAnyone with the link can open it until then. Revoke it with:\n  switchyard previews revoke --app {} {}\n",
                    s.app, s.scope, s.expires_at, s.url, s.app, s.id
                )
            });
        }
        PreviewsCommand::List { app } => {
            let p = client.previews(&app).await?;
            out.print(&p, || {
                let public = if p.public.is_empty() { "none".to_owned() } else { p.public.join(", ") };
                let mut s = format!("Public channels of {} (besides live): {public}\n", p.app);
                if p.shares.is_empty() {
                    s += "No share links.\n";
                } else {
                    s += &output::table(
                        &["ID", "SCOPE", "STATE", "EXPIRES", "CREATED", "BY"],
                        p.shares.iter().map(|l| {
                            vec![
                                l.id.clone(),
                                l.scope.clone(),
                                l.state.clone(),
                                l.expires_at.clone(),
                                l.created_at.clone(),
                                l.created_by.clone(),
                            ]
                        }),
                    );
                }
                s
            });
        }
        PreviewsCommand::Revoke { app, id } => {
            let l = client.revoke_share(&app, &id).await?;
            out.print(&l, || {
                format!("Revoked share link {} to {app} {}; edges refuse it from their next sync.\n", l.id, l.scope)
            });
        }
    }
    Ok(())
}
