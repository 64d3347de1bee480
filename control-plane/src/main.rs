//! `switchyard-control`: parses configuration, starts tracing, runs the control plane.

use clap::Parser;

/// The Switchyard control plane.
#[derive(Parser)]
#[command(name = "switchyard-control", version, about)]
struct Cli {
    #[command(flatten)]
    args: switchyard_control::Args,
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
    let bound = switchyard_control::bind(config).await?;
    println!("switchyard-control listening on http://{}", bound.local_addr());
    bound.serve(switchyard_control::shutdown_signal()).await
}
