//! Edge configuration: a TOML file (`--config`), `SWITCHYARD_*` environment variables and
//! flags, in rising precedence, validated into [`Config`] before anything is bound.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// TOML configuration file.
    #[arg(long, env = "SWITCHYARD_EDGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// URL of the control plane, e.g. http://10.0.0.5:7070.
    #[arg(long, env = "SWITCHYARD_CONTROL_PLANE")]
    pub control_plane: Option<String>,
    /// Edge token (from `switchyard edge-token create`).
    #[arg(long, env = "SWITCHYARD_EDGE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the edge token.
    #[arg(long, env = "SWITCHYARD_EDGE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Address to serve plain HTTP on [default: 127.0.0.1:8080].
    #[arg(long, env = "SWITCHYARD_HTTP_ADDR")]
    pub http_addr: Option<String>,
    /// Address to serve HTTPS on (custom domains' certificates by SNI; platform hosts with
    /// the default certificate) [default: none, no HTTPS].
    #[arg(long, env = "SWITCHYARD_HTTPS_ADDR")]
    pub https_addr: Option<String>,
    /// Address of the admin port serving `GET /metrics` (Prometheus) [default: none, off].
    /// Bind it to a private address.
    #[arg(long, env = "SWITCHYARD_ADMIN_ADDR")]
    pub admin_addr: Option<String>,
    /// PEM certificate chain for platform hosts (`*.<base>`), used with --tls-key.
    #[arg(long, env = "SWITCHYARD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "SWITCHYARD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Directory for the blob cache and the last applied snapshot [default: ./.switchyard-edge].
    #[arg(long, env = "SWITCHYARD_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Name this edge reports [default: the host name].
    #[arg(long, env = "SWITCHYARD_EDGE_NAME")]
    pub name: Option<String>,
    /// Region this edge reports [default: local].
    #[arg(long, env = "SWITCHYARD_REGION")]
    pub region: Option<String>,
    /// Base domain of platform host names [default: localhost].
    #[arg(long, env = "SWITCHYARD_BASE_DOMAIN")]
    pub base_domain: Option<String>,
    /// Memory for small files' bytes, in MiB; the least recently used beyond it are served
    /// from the disk cache [default: 256].
    #[arg(long, env = "SWITCHYARD_MEMORY_BUDGET_MIB")]
    pub memory_budget_mib: Option<u64>,
    /// Disk for the blob cache, in MiB: over it, blobs no retained version references are
    /// evicted after each swap [default: 10240].
    #[arg(long, env = "SWITCHYARD_CACHE_BUDGET_MIB")]
    pub cache_budget_mib: Option<u64>,
    /// Seconds a client has to send a request's headers, and that an idle keep-alive
    /// connection stays open; then the connection is closed [default: 10].
    #[arg(long, env = "SWITCHYARD_HEADER_READ_TIMEOUT_SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// Threads that accept and serve connections, each on its own and each connection on one
    /// of them, as nginx's worker processes [default: the CPUs this process may run on].
    #[arg(long, env = "SWITCHYARD_WORKERS")]
    pub workers: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    control_plane: Option<String>,
    token_file: Option<PathBuf>,
    http_addr: Option<String>,
    https_addr: Option<String>,
    admin_addr: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    name: Option<String>,
    region: Option<String>,
    base_domain: Option<String>,
    memory_budget_mib: Option<u64>,
    cache_budget_mib: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    workers: Option<usize>,
    /// `[origin]`: where blobs are fetched from.
    origin: Option<crate::origin::OriginSection>,
}

/// Validated edge configuration.
#[derive(Clone)]
pub struct Config {
    /// Without a trailing slash.
    pub control_plane: String,
    pub token: String,
    pub http_addr: SocketAddr,
    pub https_addr: Option<SocketAddr>,
    /// The admin port (`GET /metrics`), off when `None`.
    pub admin_addr: Option<SocketAddr>,
    /// The operator's certificate for platform hosts, loaded and checked at start.
    pub default_cert: Option<Arc<rustls::sign::CertifiedKey>>,
    pub cache_dir: PathBuf,
    pub name: String,
    pub region: String,
    pub base_domain: String,
    /// Bytes of small files kept in memory.
    pub memory_budget: u64,
    /// Bytes of blob cache on disk before unreferenced blobs are evicted.
    pub cache_budget: u64,
    /// How long a client has to send a request's headers (HTTP/1), idle time included.
    pub header_read_timeout: std::time::Duration,
    /// Serving threads (`accept`).
    pub workers: usize,
    /// Where blobs come from: the control plane (default) or the bucket.
    pub origin: crate::origin::OriginConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("control_plane", &self.control_plane)
            .field("token", &"<redacted>")
            .field("http_addr", &self.http_addr)
            .field("https_addr", &self.https_addr)
            .field("admin_addr", &self.admin_addr)
            .field("default_cert", &self.default_cert.as_ref().map(|_| "<loaded>"))
            .field("cache_dir", &self.cache_dir)
            .field("name", &self.name)
            .field("region", &self.region)
            .field("base_domain", &self.base_domain)
            .field("memory_budget", &self.memory_budget)
            .field("cache_budget", &self.cache_budget)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("workers", &self.workers)
            .field("origin", &self.origin)
            .finish()
    }
}

impl Config {
    pub fn load(args: Args) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text).with_context(|| format!("config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let control_plane = args
            .control_plane
            .or(file.control_plane)
            .context("the control plane's URL is required: --control-plane http://HOST:7070")?;
        if !(control_plane.starts_with("http://") || control_plane.starts_with("https://")) {
            bail!("control plane URL {control_plane:?} must start with http:// or https://");
        }
        let token = match (args.token, args.token_file.or(file.token_file)) {
            (Some(t), _) => t,
            (None, Some(path)) => read_token(&path)?,
            (None, None) => {
                bail!("an edge token is required: --token, SWITCHYARD_EDGE_TOKEN or token_file")
            }
        };
        if token.trim().is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("the edge token is empty or contains spaces");
        }
        let http_addr = args.http_addr.or(file.http_addr).unwrap_or_else(|| "127.0.0.1:8080".into());
        let http_addr: SocketAddr =
            http_addr.parse().with_context(|| format!("http_addr {http_addr:?} is not an address like 0.0.0.0:80"))?;
        let https_addr = match args.https_addr.or(file.https_addr) {
            Some(a) => Some(
                a.parse::<SocketAddr>()
                    .with_context(|| format!("https_addr {a:?} is not an address like 0.0.0.0:443"))?,
            ),
            None => None,
        };
        let admin_addr = match args.admin_addr.or(file.admin_addr) {
            Some(a) => Some(
                a.parse::<SocketAddr>()
                    .with_context(|| format!("admin_addr {a:?} is not an address like 127.0.0.1:9090"))?,
            ),
            None => None,
        };
        let default_cert = match (args.tls_cert.or(file.tls_cert), args.tls_key.or(file.tls_key)) {
            (Some(cert), Some(key)) => Some(crate::tls::load_default(&cert, &key).context("tls_cert/tls_key")?),
            (None, None) => None,
            _ => bail!("tls_cert and tls_key go together: give both or neither"),
        };
        let base_domain = args.base_domain.or(file.base_domain).unwrap_or_else(|| "localhost".into());
        if base_domain.is_empty()
            || !base_domain.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        {
            bail!("base domain {base_domain:?} is not a lowercase DNS name like shops.example.net");
        }
        let name = args.name.or(file.name).unwrap_or_else(default_name);
        let origin = crate::origin::OriginConfig::from_section(file.origin)?;
        let header_read_timeout = match args.header_read_timeout_secs.or(file.header_read_timeout_secs).unwrap_or(10) {
            secs @ 1..=3600 => std::time::Duration::from_secs(secs),
            secs => bail!("header_read_timeout_secs {secs} is out of range: give 1 to 3600 seconds"),
        };
        let workers = match args.workers.or(file.workers) {
            Some(n @ 1..=MAX_WORKERS) => n,
            Some(n) => bail!("workers {n} is out of range: give 1 to {MAX_WORKERS} threads"),
            None => std::thread::available_parallelism().map_or(1, usize::from).min(MAX_WORKERS),
        };
        Ok(Config {
            origin,
            workers,
            control_plane: control_plane.trim_end_matches('/').to_owned(),
            token,
            http_addr,
            https_addr,
            admin_addr,
            default_cert,
            cache_dir: args.cache_dir.or(file.cache_dir).unwrap_or_else(|| PathBuf::from(".switchyard-edge")),
            name,
            region: args.region.or(file.region).unwrap_or_else(|| "local".into()),
            base_domain,
            memory_budget: args.memory_budget_mib.or(file.memory_budget_mib).unwrap_or(256) * 1024 * 1024,
            cache_budget: args.cache_budget_mib.or(file.cache_budget_mib).unwrap_or(10240).saturating_mul(1024 * 1024),
            header_read_timeout,
        })
    }
}

/// More serving threads than any machine has cores would only cost memory and wake-ups.
const MAX_WORKERS: usize = 1024;

fn read_token(path: &Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("reading token file {}", path.display()))?
        .trim()
        .to_owned())
}

fn default_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "edge".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> Args {
        Args { control_plane: Some("http://127.0.0.1:7070/".into()), token: Some("sye_x".into()), ..Args::default() }
    }

    #[test]
    fn defaults_and_normalisation() {
        let c = Config::load(args()).unwrap();
        assert_eq!(c.control_plane, "http://127.0.0.1:7070");
        assert_eq!(c.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.base_domain, "localhost");
        assert_eq!(c.cache_budget, 10240 * 1024 * 1024);
        assert_eq!(c.header_read_timeout, std::time::Duration::from_secs(10));
        assert!(!format!("{c:?}").contains("sye_x"), "the token is redacted from Debug");
    }

    #[test]
    fn cache_budget_from_the_file_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("edge.toml");
        std::fs::write(&file, "cache_budget_mib = 5").unwrap();
        let c = Config::load(Args { config: Some(file.clone()), ..args() }).unwrap();
        assert_eq!(c.cache_budget, 5 * 1024 * 1024);
        let c = Config::load(Args { config: Some(file), cache_budget_mib: Some(7), ..args() }).unwrap();
        assert_eq!(c.cache_budget, 7 * 1024 * 1024);
    }

    #[test]
    fn bad_config_names_what_is_wrong() {
        let e = Config::load(Args { control_plane: None, ..args() }).unwrap_err();
        assert!(e.to_string().contains("--control-plane"), "{e}");
        let e = Config::load(Args { control_plane: Some("127.0.0.1:7070".into()), ..args() }).unwrap_err();
        assert!(e.to_string().contains("must start with http://"), "{e}");
        let e = Config::load(Args { token: None, ..args() }).unwrap_err();
        assert!(e.to_string().contains("edge token is required"), "{e}");
        let e = Config::load(Args { http_addr: Some("nope".into()), ..args() }).unwrap_err();
        assert!(e.to_string().contains("http_addr \"nope\""), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("edge.toml");
        std::fs::write(&file, "http_adr = \"x\"").unwrap();
        let e = Config::load(Args { config: Some(file), ..args() }).unwrap_err();
        assert!(format!("{e:#}").contains("unknown field `http_adr`"), "{e:#}");
    }

    #[test]
    fn header_read_timeout_from_the_file_or_flag_within_range() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("edge.toml");
        std::fs::write(&file, "header_read_timeout_secs = 30").unwrap();
        let c = Config::load(Args { config: Some(file.clone()), ..args() }).unwrap();
        assert_eq!(c.header_read_timeout, std::time::Duration::from_secs(30));
        let c = Config::load(Args { config: Some(file), header_read_timeout_secs: Some(2), ..args() }).unwrap();
        assert_eq!(c.header_read_timeout, std::time::Duration::from_secs(2), "the flag wins");
        for bad in [0, 3601] {
            let e = Config::load(Args { header_read_timeout_secs: Some(bad), ..args() }).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("header_read_timeout_secs {bad} is out of range: give 1 to 3600 seconds")
            );
        }
    }

    #[test]
    fn workers_default_to_the_cpus_and_stay_in_range() {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(Config::load(args()).unwrap().workers, cpus.min(MAX_WORKERS));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("edge.toml");
        std::fs::write(&file, "workers = 3").unwrap();
        assert_eq!(Config::load(Args { config: Some(file.clone()), ..args() }).unwrap().workers, 3);
        let c = Config::load(Args { config: Some(file), workers: Some(1), ..args() }).unwrap();
        assert_eq!(c.workers, 1, "the flag wins");
        for bad in [0, MAX_WORKERS + 1] {
            let e = Config::load(Args { workers: Some(bad), ..args() }).unwrap_err();
            assert_eq!(e.to_string(), format!("workers {bad} is out of range: give 1 to 1024 threads"));
        }
    }

    #[test]
    fn https_settings_are_checked_before_binding() {
        let e = Config::load(Args { admin_addr: Some("9090".into()), ..args() }).unwrap_err();
        assert!(e.to_string().contains("admin_addr \"9090\""), "{e}");
        let e = Config::load(Args { https_addr: Some("443".into()), ..args() }).unwrap_err();
        assert!(e.to_string().contains("https_addr \"443\""), "{e}");
        let e = Config::load(Args { tls_cert: Some("c.pem".into()), ..args() }).unwrap_err();
        assert!(e.to_string().contains("tls_cert and tls_key go together"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(&key, "not a key").unwrap();
        let e = Config::load(Args { tls_cert: Some(cert.clone()), tls_key: Some(key.clone()), ..args() }).unwrap_err();
        assert!(format!("{e:#}").contains("c.pem"), "{e:#}");

        let leaf = switchyard_testkit::tls::Ca::new("CA").leaf(&["*.localhost"]);
        std::fs::write(&cert, &leaf.chain_pem).unwrap();
        std::fs::write(&key, &leaf.key_pem).unwrap();
        let file = dir.path().join("edge.toml");
        let toml = format!("https_addr = \"127.0.0.1:8443\"\ntls_cert = {cert:?}\ntls_key = {key:?}\n");
        std::fs::write(&file, toml).unwrap();
        let c = Config::load(Args { config: Some(file), ..args() }).unwrap();
        assert_eq!(c.https_addr.unwrap().to_string(), "127.0.0.1:8443");
        assert!(c.default_cert.is_some());
        assert!(!format!("{c:?}").contains("PRIVATE"), "Debug never shows key material");
    }
}
