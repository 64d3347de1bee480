//! Control-plane configuration: a TOML file (`--config`), `SWITCHYARD_*` environment variables
//! and flags, in rising precedence, validated into [`Config`] before anything is bound.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use switchyard_bundle::Limits;

/// Flags and environment variables. Every field is optional so that the file and the defaults
/// can fill what is not given.
#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// TOML configuration file.
    #[arg(long, env = "SWITCHYARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address the API listens on [default: 127.0.0.1:7070].
    #[arg(long, env = "SWITCHYARD_API_ADDR")]
    pub api_addr: Option<String>,
    /// Directory for the metadata database and the blob store [default: ./.switchyard].
    #[arg(long, env = "SWITCHYARD_DATA")]
    pub data: Option<PathBuf>,
    /// Base domain of platform host names, `<app>.<base>` [default: localhost].
    #[arg(long, env = "SWITCHYARD_BASE_DOMAIN")]
    pub base_domain: Option<String>,
    /// Public URL prefix shoppers reach edges at, for printed links, e.g. `http://{host}:8080`
    /// [default: http://{host}:8080].
    #[arg(long, env = "SWITCHYARD_EDGE_URL")]
    pub edge_url: Option<String>,
    /// File holding the operator token (read at start).
    #[arg(long, env = "SWITCHYARD_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Make every preview and version host public (no share link needed). Without it (and
    /// without `public_previews = true` in the file), they are private.
    #[arg(long, env = "SWITCHYARD_PUBLIC_PREVIEWS")]
    pub public_previews: bool,
    /// Skew protection: how long a version that left a channel keeps serving assets to the
    /// visitors whose page it served, e.g. `12h`, `30m` [default: 12h].
    #[arg(long, env = "SWITCHYARD_SKEW_WINDOW")]
    pub skew_window: Option<String>,
}

/// The file's shape. Unknown keys are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    api_addr: Option<String>,
    data: Option<PathBuf>,
    base_domain: Option<String>,
    edge_url: Option<String>,
    admin_token_file: Option<PathBuf>,
    public_previews: Option<bool>,
    skew_window: Option<String>,
    #[serde(default)]
    limits: FileLimits,
    /// `[blob]`: where blobs are kept.
    blob: Option<crate::blobs::BlobSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_files: Option<usize>,
    max_file_bytes: Option<u64>,
    max_total_bytes: Option<u64>,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub api_addr: SocketAddr,
    pub data: PathBuf,
    pub base_domain: String,
    /// With `{host}` where the platform host name goes.
    pub edge_url: String,
    /// The operator token, if given; otherwise one is kept in `<data>/admin.token`.
    pub admin_token: Option<String>,
    pub limits: Limits,
    /// The blob store: a local directory (default: the data directory) or an S3 bucket.
    pub blob: crate::blobs::BlobConfig,
    /// Every preview and version host is public: the snapshot carries no share-link key.
    pub public_previews: bool,
    /// Skew protection window (see `store::splits`).
    pub skew_window: std::time::Duration,
}

impl Config {
    /// Merges file, environment and flags (`admin_token` comes from `SWITCHYARD_ADMIN_TOKEN`)
    /// and validates the result.
    pub fn load(args: Args, admin_token: Option<String>) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let api_addr = args.api_addr.or(file.api_addr).unwrap_or_else(|| "127.0.0.1:7070".into());
        let api_addr: SocketAddr =
            api_addr.parse().with_context(|| format!("api_addr {api_addr:?} is not an address like 127.0.0.1:7070"))?;
        let base_domain = args.base_domain.or(file.base_domain).unwrap_or_else(|| "localhost".into());
        check_domain(&base_domain)?;
        let edge_url = args.edge_url.or(file.edge_url).unwrap_or_else(|| "http://{host}:8080".into());
        if !edge_url.contains("{host}") || !(edge_url.starts_with("http://") || edge_url.starts_with("https://")) {
            bail!("edge_url {edge_url:?} must start with http:// or https:// and contain {{host}}");
        }
        let admin_token = match (admin_token.filter(|t| !t.is_empty()), args.admin_token_file.or(file.admin_token_file))
        {
            (Some(t), _) => Some(t),
            (None, Some(path)) => Some(read_token_file(&path)?),
            (None, None) => None,
        };
        if let Some(t) = &admin_token
            && (t.len() < 16 || t.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            bail!("the operator token must be at least 16 characters with no spaces");
        }
        let defaults = Limits::default();
        let limits = Limits {
            max_files: file.limits.max_files.unwrap_or(defaults.max_files),
            max_file_bytes: file.limits.max_file_bytes.unwrap_or(defaults.max_file_bytes),
            max_total_bytes: file.limits.max_total_bytes.unwrap_or(defaults.max_total_bytes),
        };
        if limits.max_files == 0 || limits.max_file_bytes == 0 || limits.max_total_bytes == 0 {
            bail!("limits must be greater than zero");
        }
        let data = args.data.or(file.data).unwrap_or_else(|| PathBuf::from(".switchyard"));
        let blob = crate::blobs::BlobConfig::from_section(file.blob, &data)?;
        let public_previews = args.public_previews || file.public_previews.unwrap_or(false);
        let skew_window = match args.skew_window.or(file.skew_window) {
            Some(text) => humantime::parse_duration(&text)
                .with_context(|| format!("skew_window {text:?} is not a duration like 12h or 30m"))?,
            None => crate::store::splits::DEFAULT_SKEW_WINDOW,
        };
        Ok(Config { api_addr, blob, data, base_domain, edge_url, admin_token, limits, public_previews, skew_window })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

fn read_token_file(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading admin token file {}", path.display()))?;
    Ok(text.trim().to_owned())
}

/// A base domain: dot-separated DNS labels.
pub fn check_domain(domain: &str) -> anyhow::Result<()> {
    let ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !ok {
        bail!("base domain {domain:?} is not a lowercase DNS name like shops.example.net");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_flags_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "api_addr = \"127.0.0.1:9000\"\nbase_domain = \"shops.test\"\n[limits]\nmax_files = 7\n")
            .unwrap();
        let args = Args { config: Some(file), api_addr: Some("127.0.0.1:9001".into()), ..Args::default() };
        let c = Config::load(args, None).unwrap();
        assert_eq!(c.api_addr.to_string(), "127.0.0.1:9001");
        assert_eq!(c.base_domain, "shops.test");
        assert_eq!(c.limits.max_files, 7);
        assert_eq!(c.limits.max_file_bytes, Limits::default().max_file_bytes);
        assert_eq!(c.data, PathBuf::from(".switchyard"));
        assert!(!c.public_previews, "previews are private unless the operator says otherwise");
        std::fs::write(dir.path().join("p.toml"), "public_previews = true\n").unwrap();
        let c = Config::load(Args { config: Some(dir.path().join("p.toml")), ..Args::default() }, None).unwrap();
        assert!(c.public_previews);
        assert!(Config::load(Args { public_previews: true, ..Args::default() }, None).unwrap().public_previews);
        assert_eq!(c.skew_window, std::time::Duration::from_secs(12 * 3600));
    }

    #[test]
    fn skew_window_from_file_flag_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "skew_window = \"30m\"\n").unwrap();
        let c = Config::load(Args { config: Some(file.clone()), ..Args::default() }, None).unwrap();
        assert_eq!(c.skew_window, std::time::Duration::from_secs(1800));
        let args = Args { config: Some(file), skew_window: Some("2s".into()), ..Args::default() };
        assert_eq!(Config::load(args, None).unwrap().skew_window, std::time::Duration::from_secs(2));
        let err = Config::load(Args { skew_window: Some("soon".into()), ..Args::default() }, None).unwrap_err();
        assert!(err.to_string().contains("skew_window \"soon\""), "{err}");
    }

    #[test]
    fn bad_config_is_refused_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "api_adr = \"127.0.0.1:9000\"\n").unwrap();
        let err = Config::load(Args { config: Some(file), ..Args::default() }, None).unwrap_err();
        assert!(format!("{err:#}").contains("unknown field `api_adr`"), "{err:#}");

        let err = Config::load(Args { api_addr: Some("localhost".into()), ..Args::default() }, None).unwrap_err();
        assert!(err.to_string().contains("api_addr \"localhost\""), "{err}");
        let err = Config::load(Args { base_domain: Some("Bad_Domain".into()), ..Args::default() }, None).unwrap_err();
        assert!(err.to_string().contains("base domain \"Bad_Domain\""), "{err}");
        let err = Config::load(Args::default(), Some("short".into())).unwrap_err();
        assert!(err.to_string().contains("at least 16 characters"), "{err}");
        let err = Config::load(Args { edge_url: Some("http://x".into()), ..Args::default() }, None).unwrap_err();
        assert!(err.to_string().contains("{host}"), "{err}");
    }
}
