//! `switchyard-control`: parses configuration, starts tracing, runs the control plane (or a
//! maintenance subcommand).

use clap::Parser;

/// The Switchyard control plane.
#[derive(Parser)]
#[command(name = "switchyard-control", version, about)]
struct Cli {
    #[command(flatten)]
    args: switchyard_control::Args,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Copies every blob of a local blob store into the S3 bucket of the config's `[blob]`
    /// section (`kind = "s3"`). Resumable: blobs already there are skipped; hashes are checked.
    MigrateBlobs {
        /// The target kind; only `s3`.
        #[arg(long, value_parser = ["s3"])]
        to: String,
        /// Directory of the local store to copy from [default: the data directory].
        #[arg(long)]
        from: Option<std::path::PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let admin_token = std::env::var("SWITCHYARD_ADMIN_TOKEN").ok();
    let config = switchyard_control::Config::load(cli.args, admin_token)?;
    if let Some(Command::MigrateBlobs { to: _, from }) = cli.command {
        let from = from.unwrap_or_else(|| config.data.clone());
        let m = switchyard_control::blobs::migrate(&config, &from).await?;
        println!(
            "migrate-blobs: {} blobs in {}: {} already in the bucket, {} copied, {} corrupt (not copied)",
            m.total,
            from.display(),
            m.already,
            m.copied,
            m.corrupt
        );
        if m.corrupt > 0 {
            anyhow::bail!("{} local blobs are corrupt and were not copied; see the log", m.corrupt);
        }
        return Ok(());
    }
    let bound = switchyard_control::bind(config).await?;
    println!("switchyard-control listening on http://{}", bound.local_addr());
    bound.serve(switchyard_control::shutdown_signal()).await
}
