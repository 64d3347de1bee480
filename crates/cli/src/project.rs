//! The project file: `switchyard.toml` in the current directory may name the `app` and the
//! build output `dir` to deploy, so `switchyard deploy` needs no flags. Its `[site]` table
//! travels with every version as if it were at the bundle root. Parsed by the same function
//! the control plane uses (`switchyard_bundle::rules`), so a file the CLI accepts is one the
//! deploy accepts.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

pub(crate) const FILE: &str = "switchyard.toml";

#[derive(Debug, Default)]
pub(crate) struct Project {
    /// The directory holding `switchyard.toml`.
    pub(crate) root: PathBuf,
    pub(crate) app: Option<String>,
    pub(crate) dir: Option<PathBuf>,
    /// The file's bytes, when there is one.
    pub(crate) file: Option<Vec<u8>>,
}

impl Project {
    /// Reads `./switchyard.toml` if it exists.
    pub(crate) fn load() -> anyhow::Result<Project> {
        let root = std::env::current_dir().context("finding the current directory")?;
        Self::load_from(&root)
    }

    pub(crate) fn load_from(root: &Path) -> anyhow::Result<Project> {
        let path = root.join(FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Project { root: root.to_owned(), ..Project::default() });
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let text = std::str::from_utf8(&bytes).with_context(|| format!("{} is not UTF-8", path.display()))?;
        let parsed = switchyard_bundle::rules::parse_project(text).with_context(|| format!("in {}", path.display()))?;
        let dir = parsed.dir.map(|d| root.join(d));
        Ok(Project { root: root.to_owned(), app: parsed.app, dir, file: Some(bytes) })
    }

    /// `--app`, else the project's `app`.
    pub(crate) fn app(&self, flag: Option<String>) -> anyhow::Result<String> {
        match flag.or_else(|| self.app.clone()) {
            Some(app) => Ok(app),
            None => bail!("which app? pass --app NAME or set `app = \"NAME\"` in {FILE}"),
        }
    }
}
