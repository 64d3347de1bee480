//! What `deploy PATH` uploads: an archive as it is, or a directory packed into a `.tar.gz`.

use std::path::Path;

use anyhow::{Context, bail};

/// Directory entries never deployed.
const SKIPPED: &[&str] = &[".git", ".DS_Store", ".svn", ".hg"];

pub(crate) fn archive_for(path: &Path) -> anyhow::Result<Vec<u8>> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_dir() {
        return pack_dir(path);
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    if !(name.ends_with(".tar.gz") || name.ends_with(".tgz") || name.ends_with(".zip")) {
        bail!("{} is not a directory, .tar.gz, .tgz or .zip", path.display());
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Packs `dir`'s contents (not `dir` itself) into a gzip'd tar, in a stable order. Symbolic
/// links are followed, so the bundle holds what the browser would see.
fn pack_dir(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(true);
    let mut count = 0;
    add_dir(&mut tar, dir, Path::new(""), &mut count)?;
    if count == 0 {
        bail!("{} has no files to deploy", dir.display());
    }
    let gz = tar.into_inner().context("finishing the archive")?;
    gz.finish().context("compressing the archive")
}

fn add_dir<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    dir: &Path,
    rel: &Path,
    count: &mut usize,
) -> anyhow::Result<()> {
    for entry in bundle_entries(dir)? {
        let name = entry.file_name();
        let path = entry.path();
        let meta = std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        let rel = rel.join(&name);
        if meta.is_dir() {
            add_dir(tar, &path, &rel, count)?;
        } else if meta.is_file() {
            tar.append_path_with_name(&path, &rel).with_context(|| format!("adding {}", path.display()))?;
            *count += 1;
        }
    }
    Ok(())
}

/// The entries of `dir` that belong in a bundle (VCS directories skipped), sorted by name so
/// that bundles and listings come out in a stable order.
pub(crate) fn bundle_entries(dir: &Path) -> anyhow::Result<Vec<std::fs::DirEntry>> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    entries.retain(|e| !SKIPPED.iter().any(|s| e.file_name() == *s));
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}
