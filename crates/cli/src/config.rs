//! The user's CLI settings: the control-plane URL and token `switchyard login` keeps in
//! `$XDG_CONFIG_HOME/switchyard/config.toml` (else `~/.config/switchyard/config.toml`), mode
//! 0600. Flags win over `SWITCHYARD_API`/`SWITCHYARD_TOKEN`, which win over the file.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

pub(crate) const DEFAULT_API: &str = "http://127.0.0.1:7070";

/// The file's shape. Unknown keys are an error.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Saved {
    pub(crate) api: Option<String>,
    pub(crate) token: Option<String>,
}

impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saved")
            .field("api", &self.api)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Where the settings live, if a home or config directory is known.
pub(crate) fn path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".config"),
    };
    Some(base.join("switchyard").join("config.toml"))
}

/// The saved settings; none when the file does not exist.
pub(crate) fn load() -> anyhow::Result<Saved> {
    let Some(path) = path() else { return Ok(Saved::default()) };
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Saved::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the settings (directory 0700, file 0600, replaced atomically). Returns the path.
pub(crate) fn save(saved: &Saved) -> anyhow::Result<PathBuf> {
    let Some(path) = path() else { bail!("neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the login") };
    let dir = path.parent().expect("the config file has a directory");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(".config.toml.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    let text = toml::to_string(saved).context("serializing the settings")?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
