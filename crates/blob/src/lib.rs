//! Content-addressed blob storage: the [`BlobStore`] trait and its two backends, a local
//! directory ([`LocalBlobStore`]) and any S3-compatible bucket ([`S3BlobStore`]).
//!
//! Owns the layout of blobs (`blobs/ab/cd/<sha256 hex>` on disk, `<prefix>/ab/cd/<hex>` in a
//! bucket) and the rules that make a blob durable and trustworthy. Used by the control plane
//! (the platform's blob store, either backend), by each edge (its local cache, always a
//! directory; and, optionally, the bucket it fetches from). Knows nothing of apps, versions or
//! HTTP APIs.
//!
//! Invariants:
//! - A blob is only ever visible under the name of its own SHA-256: every write hashes the
//!   bytes and a write whose bytes do not match the expected digest is refused. S3 writes carry
//!   the SHA-256 as `x-amz-checksum-sha256`, so the bucket refuses bytes altered on the way.
//! - A visible local blob is complete and durable: it is written to a temporary file,
//!   `fsync`ed, renamed into place, and its directory is `fsync`ed.
//! - Every read from a remote store is hashed and checked before the bytes are returned.
//! - Paths and keys are built from a [`Digest`] only, never from outside input.

mod backend;
mod s3;

pub use backend::{BlobStore, SharedBlobStore};
pub use s3::{MULTIPART_THRESHOLD, PART_SIZE, S3BlobStore, S3Config, S3Credentials, S3Settings, Secret};

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchyard_model::{Digest, Sha256Writer};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("blob {digest} is not stored")]
    NotFound { digest: Digest },
    #[error("blob content does not match its digest: expected {expected}, got {actual}")]
    Corrupt { expected: Digest, actual: Digest },
    #[error("blob is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("S3 configuration: {0}")]
    Config(String),
    /// A request to the S3-compatible store failed (unreachable, refused, or an error answer).
    #[error("S3 {operation} {target}: {message}")]
    S3 { operation: &'static str, target: String, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_owned(), source }
}

/// Blobs under one directory, addressed by SHA-256.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl LocalBlobStore {
    /// Opens (creating if needed) a store rooted at `dir`. Leftover temporary files of an
    /// earlier process that died mid-write are removed.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let blobs = dir.join("blobs");
        let tmp = dir.join("tmp");
        fs::create_dir_all(&blobs).map_err(io_err(&blobs))?;
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
        }
        fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        Ok(LocalBlobStore { blobs, tmp })
    }

    /// Where the blob `digest` lives (whether or not it is stored).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.blobs.join(&hex[0..2]).join(&hex[2..4]).join(hex)
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Reads a whole blob and checks it against its digest.
    pub fn read_verified(&self, digest: &Digest) -> Result<Vec<u8>, Error> {
        self.open_verified(digest).map(|(_, bytes)| bytes)
    }

    /// Opens a blob, reads it whole through the open file and checks it against its digest:
    /// the file stays open on what was verified, even if the blob is removed or written again
    /// (a write replaces the name with a new file, never changes an existing one).
    pub fn open_verified(&self, digest: &Digest) -> Result<(File, Vec<u8>), Error> {
        let path = self.path(digest);
        let io_error = |source: io::Error| match source.kind() {
            io::ErrorKind::NotFound => Error::NotFound { digest: *digest },
            _ => Error::Io { path: path.clone(), source },
        };
        let mut file = File::open(&path).map_err(io_error)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_error)?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(Error::Corrupt { expected: *digest, actual });
        }
        Ok((file, bytes))
    }

    /// Stores `bytes` and returns their digest.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, Error> {
        let digest = Digest::of(bytes);
        self.put_verified(&digest, bytes, bytes.len() as u64)?;
        Ok(digest)
    }

    /// Streams `reader` into the store as blob `expected`, refusing (and storing nothing) if
    /// the bytes hash to anything else or exceed `limit`. Returns the blob's size.
    pub fn put_verified(&self, expected: &Digest, reader: impl Read, limit: u64) -> Result<u64, Error> {
        let (tmp_path, actual, size) = write_temp(&self.tmp, reader, limit)?;
        if actual != *expected {
            let _ = fs::remove_file(&tmp_path);
            return Err(Error::Corrupt { expected: *expected, actual });
        }
        self.install(&tmp_path, expected)?;
        Ok(size)
    }

    /// Removes a blob (e.g. one found corrupt in a cache). Missing blobs are not an error.
    pub fn remove(&self, digest: &Digest) -> Result<(), Error> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::Io { path, source: e }),
            _ => Ok(()),
        }
    }

    /// Starts a staging area: blobs written there become visible only on [`Staging::commit`],
    /// and vanish if the staging area is dropped uncommitted.
    pub fn staging(&self) -> Result<Staging, Error> {
        Staging::new(Arc::new(self.clone()), &self.tmp)
    }

    /// Every digest stored, in no particular order (files whose names are not digests, such
    /// as stray temporary files, are skipped).
    pub fn list(&self) -> Result<Vec<Digest>, Error> {
        let mut out = Vec::new();
        for level1 in read_dir(&self.blobs)? {
            for level2 in read_dir(&level1)? {
                for file in read_dir(&level2)? {
                    if let Some(digest) = file.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse().ok()) {
                        out.push(digest);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Moves a complete, verified temporary file into place. If the blob already exists the
    /// temporary file is dropped: content addressing makes both copies the same bytes.
    fn install(&self, tmp_path: &Path, digest: &Digest) -> Result<bool, Error> {
        let dest = self.path(digest);
        if dest.is_file() {
            let _ = fs::remove_file(tmp_path);
            return Ok(false);
        }
        let dir = dest.parent().expect("blob paths have a parent");
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
            // Make the new fan-out directories themselves durable.
            sync_dir(dir.parent().expect("fan-out has a parent"))?;
            sync_dir(&self.blobs)?;
        }
        fs::rename(tmp_path, &dest).map_err(io_err(&dest))?;
        sync_dir(dir)?;
        Ok(true)
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        out.push(entry.map_err(io_err(dir))?.path());
    }
    Ok(out)
}

/// Blobs written during one ingest, visible in the store only once committed. Staged bytes
/// always sit in a local temporary directory, whichever backend they are committed to.
#[derive(Debug)]
pub struct Staging {
    store: SharedBlobStore,
    dir: tempfile::TempDir,
    staged: Vec<(PathBuf, Digest)>,
}

impl Staging {
    /// A staging area in a new temporary directory under `tmp`, committing to `store`.
    pub fn new(store: SharedBlobStore, tmp: &Path) -> Result<Staging, Error> {
        let dir = tempfile::Builder::new().prefix("stage-").tempdir_in(tmp).map_err(io_err(tmp))?;
        Ok(Staging { store, dir, staged: Vec::new() })
    }

    /// Streams `reader` into a staged blob, at most `limit` bytes; returns its digest and size.
    pub fn write(&mut self, reader: impl Read, limit: u64) -> Result<(Digest, u64), Error> {
        let (path, digest, size) = write_temp(self.dir.path(), reader, limit)?;
        self.staged.push((path, digest));
        Ok((digest, size))
    }

    /// Stages bytes already in memory (a manifest).
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<Digest, Error> {
        Ok(self.write(bytes, bytes.len() as u64)?.0)
    }

    /// Moves every staged blob into the store. Returns how many were new to the store. On an
    /// error, blobs committed before it stay (harmless: content-addressed, named by nothing).
    pub fn commit(self) -> Result<usize, Error> {
        self.store.commit_staged(&self.staged)
    }
}

/// Writes `reader` to a new temporary file in `dir`, hashing as it goes, and makes it durable.
fn write_temp(dir: &Path, reader: impl Read, limit: u64) -> Result<(PathBuf, Digest, u64), Error> {
    let tmp = tempfile::Builder::new().prefix("blob-").tempfile_in(dir).map_err(io_err(dir))?;
    let tmp_path = tmp.path().to_owned();
    let mut writer = Sha256Writer::new(io::BufWriter::with_capacity(128 * 1024, tmp));
    // Read one byte past the limit so that "exactly at the limit" and "over it" differ.
    let copied = io::copy(&mut reader.take(limit.saturating_add(1)), &mut writer).map_err(io_err(&tmp_path))?;
    if copied > limit {
        return Err(Error::TooLarge { limit });
    }
    let (buf, digest, size) = writer.finish();
    let file = buf.into_inner().map_err(|e| Error::Io { path: tmp_path.clone(), source: e.into_error() })?;
    file.as_file().sync_all().map_err(io_err(&tmp_path))?;
    let (_, path) = file.keep().map_err(|e| Error::Io { path: tmp_path.clone(), source: e.error })?;
    Ok((path, digest, size))
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

#[cfg(test)]
mod tests;
