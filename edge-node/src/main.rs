//! `switchyard-edge`: parses configuration, starts tracing, runs the edge.

use clap::Parser;

/// mimalloc: the request path allocates a few small blocks per request (header maps, the
/// response), which glibc's malloc serves at several times the cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Switchyard edge node.
#[derive(Parser)]
#[command(name = "switchyard-edge", version, about)]
struct Cli {
    #[command(flatten)]
    args: switchyard_edge::Args,
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
    let config = switchyard_edge::Config::load(cli.args)?;
    tracing::info!(?config, "starting");
    let bound = switchyard_edge::bind(config).await?;
    if let Some(addr) = bound.admin_addr() {
        println!("switchyard-edge metrics at http://{addr}/metrics");
    }
    if let Some(addr) = bound.https_addr() {
        println!("switchyard-edge serving https at https://{addr}");
    }
    println!("switchyard-edge listening on http://{}", bound.local_addr());
    bound.serve(switchyard_edge::shutdown_signal()).await
}
