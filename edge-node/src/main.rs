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

/// Requests are served on `--workers` threads of their own (`Bound::serve`); this runtime
/// follows the control plane, reports, and answers the admin port, for which two threads do.
#[tokio::main(worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    raise_open_file_limit();
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

/// Raises the soft open-file limit to the hard one, as Go's runtime does at start and nginx's
/// `worker_rlimit_nofile` is set for: connections and the memory cache's open files (a quarter
/// of the limit, `memory`) share it, and a default soft limit of 1,024 is a few hundred
/// connections.
fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    let (Some(current), Some(maximum)) = (current, maximum) else { return };
    if current >= maximum {
        return;
    }
    match setrlimit(Resource::Nofile, Rlimit { current: Some(maximum), maximum: Some(maximum) }) {
        Ok(()) => tracing::info!(from = current, to = maximum, "raised the open-file limit"),
        Err(error) => tracing::warn!(%error, limit = current, "cannot raise the open-file limit"),
    }
}
