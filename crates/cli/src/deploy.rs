//! `switchyard deploy DIR`: the content-addressed protocol. Hash every file on all cores,
//! send the listing, upload only the blobs the control plane lacks (several at once, retried
//! with back-off on transient failures, never on a 4xx), then finalize the version. A rerun
//! after an interruption uploads only what is still missing, because finished blobs are
//! already stored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde::Serialize;
use switchyard_client::{Client, DeployOptions, Deployed, ListedFile};
use switchyard_model::Digest;

use crate::output::{human_bytes, thousands};
use crate::progress::Progress;
use crate::project::{self, Project};

/// How many times a blob upload or the finalize is tried before giving up.
const ATTEMPTS: u32 = 6;

/// What `deploy --json` prints.
#[derive(Debug, Serialize)]
pub(crate) struct Summary {
    pub(crate) app: String,
    pub(crate) version: String,
    pub(crate) number: u64,
    /// Files in the listing (configuration files included).
    pub(crate) files: u64,
    pub(crate) bytes: u64,
    pub(crate) uploaded_files: u64,
    pub(crate) uploaded_bytes: u64,
    /// Files whose content the control plane already held.
    pub(crate) reused_files: u64,
    pub(crate) channels: Vec<String>,
    pub(crate) urls: Vec<String>,
    pub(crate) private_urls: Vec<String>,
    pub(crate) manifest: String,
    pub(crate) revision: u64,
    pub(crate) seconds: f64,
}

impl Summary {
    /// `uploaded 1 of 5,000 files (4.2 KiB), 4,999 already stored, v7 ready in 0.6 s`
    pub(crate) fn human(&self) -> String {
        let mut s = format!(
            "uploaded {} of {} files ({}), {} already stored, {} ready in {:.1} s\n",
            thousands(self.uploaded_files),
            thousands(self.files),
            human_bytes(self.uploaded_bytes),
            thousands(self.reused_files),
            self.version,
            self.seconds,
        );
        s += &where_to_open(&self.app, &self.version, &self.channels, &self.urls, &self.private_urls);
        s
    }
}

/// The lines after a deploy's first: the channels now on `version`, then each URL (the
/// version's host, then each channel's), a private one with the command that makes its link:
///
/// ```text
/// Channels now on v7: preview
///   http://v7--cart.example.com/  (private: `switchyard previews share --app cart --version v7` prints a link)
///   http://preview--cart.example.com/  (private: `switchyard previews share --app cart --channel preview` prints a link)
/// ```
pub(crate) fn where_to_open(
    app: &str,
    version: &str,
    channels: &[String],
    urls: &[String],
    private: &[String],
) -> String {
    let mut s = String::new();
    if !channels.is_empty() {
        s += &format!("Channels now on {version}: {}\n", channels.join(", "));
    }
    // `urls` is the version's host, then the channels' in order.
    let scopes = (urls.len() == channels.len() + 1).then(|| {
        std::iter::once(format!("--version {version}")).chain(channels.iter().map(|c| format!("--channel {c}")))
    });
    let mut scopes = scopes.into_iter().flatten();
    for url in urls {
        let scope = scopes.next();
        if !private.contains(url) {
            s += &format!("  {url}\n");
        } else if let Some(scope) = scope {
            s += &format!("  {url}  (private: `switchyard previews share --app {app} {scope}` prints a link)\n");
        } else {
            s += &format!("  {url}  (private: opens with a link from `switchyard previews share`)\n");
        }
    }
    s
}

/// A file to deploy: its path in the bundle and where to read it.
struct Local {
    path: String,
    source: Source,
}

enum Source {
    Disk(PathBuf),
    /// The project's `switchyard.toml`, sent as the bundle's.
    Bytes(Vec<u8>),
}

impl Source {
    fn read(&self) -> std::io::Result<Vec<u8>> {
        match self {
            Source::Disk(p) => std::fs::read(p),
            Source::Bytes(b) => Ok(b.clone()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Source::Disk(p) => p.display().to_string(),
            Source::Bytes(_) => project::FILE.to_owned(),
        }
    }
}

pub(crate) async fn deploy_dir(
    client: &Client,
    app: &str,
    dir: &Path,
    project: &Project,
    opts: &DeployOptions,
    jobs: usize,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    // An unknown app or a refused token fails before a large site is hashed.
    client.app(app).await?;
    let progress = Progress::new();
    let mut files = Vec::new();
    walk(dir, "", &mut files)?;
    // The project's switchyard.toml travels with the version, unless the build output has one.
    if let Some(bytes) = &project.file
        && !files.iter().any(|f| f.path == project::FILE)
    {
        files.push(Local { path: project::FILE.to_owned(), source: Source::Bytes(bytes.clone()) });
    }
    if files.is_empty() {
        bail!("{} has no files to deploy", dir.display());
    }

    let listed = hash_all(&files, &progress).await?;
    let total_bytes: u64 = listed.iter().map(|f| f.size).sum();
    progress.line(&format!(
        "hashed {} files ({}) in {:.1} s",
        thousands(listed.len() as u64),
        human_bytes(total_bytes),
        started.elapsed().as_secs_f64()
    ));

    let opened = retry("opening the deploy", || client.open_deploy(app, &listed, opts)).await?;
    let missing: std::collections::HashSet<Digest> = opened.missing.iter().copied().collect();
    let reused_files = listed.iter().filter(|f| !missing.contains(&f.sha256)).count() as u64;
    // One local source per missing digest (identical files are uploaded once).
    let mut todo: HashMap<Digest, (usize, u64)> = HashMap::new();
    for (i, f) in listed.iter().enumerate() {
        if missing.contains(&f.sha256) {
            todo.entry(f.sha256).or_insert((i, f.size));
        }
    }
    let mut todo: Vec<(Digest, usize, u64)> = todo.into_iter().map(|(d, (i, s))| (d, i, s)).collect();
    todo.sort_by_key(|(_, i, _)| *i);
    let upload_bytes: u64 = todo.iter().map(|(_, _, s)| s).sum();
    progress.line(&format!(
        "uploading {} ({}); {} already stored",
        crate::output::plural(todo.len() as u64, "file"),
        human_bytes(upload_bytes),
        thousands(reused_files)
    ));

    let bar = progress.bytes("uploading", upload_bytes);
    let files = &files;
    let results: Vec<anyhow::Result<()>> = futures_util::stream::iter(todo.iter().map(|&(digest, i, size)| {
        let (bar, deploy) = (bar.clone(), opened.deploy.as_str());
        async move {
            let source = &files[i].source;
            let bytes = read_source(source).await?;
            if bytes.len() as u64 != size || Digest::of(&bytes) != digest {
                bail!("{} changed while deploying; run the deploy again", source.describe());
            }
            retry(&format!("uploading {}", files[i].path), || client.upload_blob(app, deploy, &digest, bytes.clone()))
                .await?;
            bar.inc(size);
            Ok(())
        }
    }))
    .buffer_unordered(jobs)
    .collect()
    .await;
    bar.finish();
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;

    let deployed: Deployed = retry("finalizing the version", || client.finalize_deploy(app, &opened.deploy)).await?;
    Ok(Summary {
        app: deployed.app,
        version: deployed.version,
        number: deployed.number,
        files: listed.len() as u64,
        bytes: total_bytes,
        uploaded_files: todo.len() as u64,
        uploaded_bytes: upload_bytes,
        reused_files,
        channels: deployed.channels,
        urls: deployed.urls,
        private_urls: deployed.private_urls,
        manifest: deployed.manifest,
        revision: deployed.revision,
        seconds: started.elapsed().as_secs_f64(),
    })
}

async fn read_source(source: &Source) -> anyhow::Result<Vec<u8>> {
    match source {
        Source::Disk(p) => tokio::fs::read(p).await.with_context(|| format!("reading {}", p.display())),
        Source::Bytes(b) => Ok(b.clone()),
    }
}

/// Runs `call` until it succeeds, fails with a final error, or [`ATTEMPTS`] run out; waits
/// 250 ms, 500 ms, 1 s, … (at most 8 s, with jitter) between tries.
async fn retry<T, F, Fut>(what: &str, mut call: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, switchyard_client::Error>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                let base = Duration::from_millis(250 * (1 << (attempt - 1).min(5))).min(Duration::from_secs(8));
                let jitter = Duration::from_millis(rand::random::<u64>() % (base.as_millis() as u64 / 2 + 1));
                note_retry(what, attempt, &e);
                tokio::time::sleep(base + jitter).await;
            }
            Err(e) => return Err(anyhow::Error::new(e).context(what.to_owned())),
        }
    }
}

fn note_retry(what: &str, attempt: u32, e: &switchyard_client::Error) {
    eprintln!("{what}: {e}; trying again (attempt {} of {ATTEMPTS})", attempt + 1);
}

/// Lists `dir` recursively in a stable order, skipping VCS directories; symbolic links are
/// followed, so the bundle holds what the browser would see.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<Local>) -> anyhow::Result<()> {
    for entry in crate::pack::bundle_entries(dir)? {
        let name = entry.file_name();
        let path = entry.path();
        let Some(name) = name.to_str() else {
            bail!("{}: file names must be UTF-8", path.display());
        };
        let rel = format!("{prefix}{name}");
        let meta = std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            walk(&path, &format!("{rel}/"), out)?;
        } else if meta.is_file() {
            out.push(Local { path: rel, source: Source::Disk(path) });
        }
    }
    Ok(())
}

/// Hashes every file on all cores.
async fn hash_all(files: &[Local], progress: &Progress) -> anyhow::Result<Vec<ListedFile>> {
    let bar = progress.files("hashing", files.len() as u64);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<ListedFile>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    let failed: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(files.len()).max(1);
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else { return };
                        match file.source.read() {
                            Ok(bytes) => {
                                let listed = ListedFile {
                                    path: file.path.clone(),
                                    sha256: Digest::of(&bytes),
                                    size: bytes.len() as u64,
                                };
                                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(listed);
                                bar.inc(1);
                            }
                            Err(e) => {
                                let e = anyhow::Error::new(e).context(format!("reading {}", file.source.describe()));
                                *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                                next.store(files.len(), Ordering::Relaxed);
                                return;
                            }
                        }
                    }
                });
            }
        })
    });
    bar.finish();
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten().collect())
}

#[cfg(test)]
mod tests;
