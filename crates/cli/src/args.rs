//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Switchyard: host shop front ends at the edge.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about, propagate_version = true)]
pub struct Cli {
    /// Control-plane URL [default: from `switchyard login`, else http://127.0.0.1:7070].
    #[arg(long, global = true, env = "SWITCHYARD_API")]
    pub api: Option<String>,
    /// API token (operator or tenant) [default: from `switchyard login`].
    #[arg(long, global = true, env = "SWITCHYARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a control plane and an edge in this process, with a sample shop deployed.
    Up(UpArgs),
    /// Manage tenants (operator).
    Tenants {
        #[command(subcommand)]
        command: TenantsCommand,
    },
    /// Manage edge tokens (operator).
    EdgeToken {
        #[command(subcommand)]
        command: EdgeTokenCommand,
    },
    /// Manage apps.
    Apps {
        #[command(subcommand)]
        command: AppsCommand,
    },
    /// Upload a directory (only the files the platform lacks) or a .tar.gz/.tgz/.zip as a new
    /// version. Without arguments, `app` and `dir` come from ./switchyard.toml.
    Deploy {
        /// A directory (its contents become the bundle root) or an archive [default: `dir` in
        /// ./switchyard.toml, else the current directory].
        path: Option<PathBuf>,
        /// The app [default: `app` in ./switchyard.toml].
        #[arg(long)]
        app: Option<String>,
        /// Uploads at once.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
        /// Channel to point at the new version [default: preview, or none with --promote].
        #[arg(long)]
        channel: Option<String>,
        /// Also send live traffic to the new version.
        #[arg(long)]
        promote: bool,
        /// A note kept with the version.
        #[arg(long)]
        message: Option<String>,
    },
    /// Point a channel (default live) at a version.
    Promote {
        #[arg(long)]
        app: String,
        /// The version, e.g. v2.
        #[arg(id = "target_version", value_name = "VERSION")]
        version: String,
        #[arg(long)]
        channel: Option<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Point a channel (default live) back where it was before its last move.
    Rollback {
        #[arg(long)]
        app: String,
        #[arg(long)]
        channel: Option<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// List the edge nodes and how far each has followed the control plane (operator).
    Edges,
    /// List an app's versions.
    Versions {
        #[arg(long)]
        app: String,
    },
    /// Send shares of new live visitors to versions (`v12=90 v13=10`: 2 to 4 versions, sum
    /// 100), sticky per visitor on every edge; without shares, show the split and its history.
    /// `switchyard promote` ends a split.
    Split {
        #[arg(long)]
        app: String,
        /// VERSION=PERCENT pairs, e.g. v12=90 v13=10.
        #[arg(value_name = "VERSION=PERCENT")]
        shares: Vec<String>,
    },
    /// List an app's pointer moves.
    Releases {
        #[arg(long)]
        app: String,
    },
    /// Per version: page views, unique visitors, conversions, conversion rate, revenue and
    /// when it was live.
    Stats {
        #[arg(long)]
        app: String,
        /// How far back, e.g. 24h, 7d (counted in whole UTC hours).
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        since: std::time::Duration,
    },
    /// Check a control-plane URL and token and keep them in the user's config file (mode 0600).
    Login {
        /// The token; read from standard input when neither this nor SWITCHYARD_TOKEN is set.
        #[arg(long = "with-token", value_name = "TOKEN", hide_env_values = true)]
        login_token: Option<String>,
    },
    /// Print (and on a desktop, open) an app's URL.
    Open {
        /// The app [default: `app` in ./switchyard.toml].
        #[arg(long)]
        app: Option<String>,
        /// A channel [default: live].
        #[arg(long, conflicts_with = "target_version")]
        channel: Option<String>,
        /// One version instead of a channel, e.g. v3.
        #[arg(id = "target_version", value_name = "VERSION")]
        version: Option<String>,
    },
    /// List the files added, removed and changed between two versions.
    Diff {
        /// The app [default: `app` in ./switchyard.toml].
        #[arg(long)]
        app: Option<String>,
        #[arg(value_name = "FROM")]
        from: String,
        #[arg(value_name = "TO")]
        to: String,
    },
    /// Manage custom domains.
    Domains {
        #[command(subcommand)]
        command: crate::domains::DomainsCommand,
    },
    /// Manage TLS certificates of custom domains.
    Certs {
        #[command(subcommand)]
        command: crate::domains::CertsCommand,
    },
    /// Share private previews: links, revocation, public channels.
    Previews {
        #[command(subcommand)]
        command: crate::previews::PreviewsCommand,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct WaitArgs {
    /// Return once every healthy edge serves the move, printing how long each took.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long (e.g. 30s, 2m), list the lagging edges, exit 1.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s", requires = "wait")]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant and print its token.
    Create { name: String },
    /// List tenants.
    List,
}

#[derive(Debug, Subcommand)]
pub enum EdgeTokenCommand {
    /// Create a token for an edge node and print it.
    Create {
        /// A note to tell tokens apart.
        #[arg(long)]
        label: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Create an app.
    Create {
        name: String,
        /// Owning tenant (operator token only; a tenant token creates in its own tenant).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List apps.
    List,
}

#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Data directory (database, blobs, edge cache, tokens).
    #[arg(long, default_value = ".switchyard")]
    pub data: PathBuf,
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub api_addr: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub edge_addr: SocketAddr,
    /// Base domain for platform host names; `localhost` works in browsers with no DNS set-up.
    #[arg(long, default_value = "localhost")]
    pub base_domain: String,
    /// Also serve HTTPS here; platform hosts use a self-signed `*.<base>` certificate made on
    /// first run under `<data>/tls/` (its path is printed), custom domains their own.
    #[arg(long)]
    pub https_addr: Option<SocketAddr>,
}
