//! Bundle ingest: turns a merchant's uploaded archive (`.tar.gz` or `.zip`) into staged blobs
//! and a [`Manifest`], enforcing every limit while it streams.
//!
//! Owns archive formats, entry validation and content types. Knows nothing of apps, versions,
//! HTTP or SQLite: the caller decides what the manifest becomes.
//!
//! Invariants:
//! - Nothing is extracted to a directory tree: each entry's bytes are streamed into a
//!   [`Staging`] area of the blob store and hashed on the way. Entry names never become
//!   filesystem paths.
//! - Any rejected entry fails the whole ingest with an error naming the entry; the caller drops
//!   the staging area, so nothing becomes visible.
//! - Limits are counted on the bytes actually decompressed, not on sizes the archive claims,
//!   so a decompression bomb stops at the limit.

mod content_type;
mod limits;
mod listing;
pub mod precompress;
pub mod rules;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::Path;
use std::rc::Rc;

use switchyard_blob::Staging;
use switchyard_model::{Digest, Encoded, FileEntry, Manifest, ManifestError, SiteRules};

pub use content_type::content_type_for;
pub use limits::Limits;
pub use listing::{check_listing, config_file, config_text, site_rules};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a .tar.gz or .zip archive")]
    UnknownFormat,
    #[error("the archive is corrupt or truncated: {0}")]
    Corrupt(String),
    #[error("entry {entry:?} is corrupt or truncated: {reason}")]
    CorruptEntry { entry: String, reason: String },
    #[error("entry {entry:?}: {reason}")]
    BadPath { entry: String, reason: ManifestError },
    #[error("entry name {entry:?} is not valid UTF-8")]
    NotUtf8 { entry: String },
    #[error("entry {entry:?} is a {kind}; only regular files and directories are allowed")]
    NotAFile { entry: String, kind: &'static str },
    #[error("entry {entry:?} is encrypted; encrypted archives are not supported")]
    Encrypted { entry: String },
    #[error("entry {entry:?} appears more than once")]
    Duplicate { entry: String },
    #[error("the archive has more than {limit} files")]
    TooManyFiles { limit: usize },
    #[error("entry {entry:?} is larger than the limit of {limit} bytes per file")]
    FileTooLarge { entry: String, limit: u64 },
    #[error("the archive expands to more than the limit of {limit} bytes")]
    TotalTooLarge { limit: u64 },
    #[error("the archive contains no files")]
    Empty,
    #[error(transparent)]
    Rules(#[from] rules::RuleError),
    #[error(transparent)]
    Store(switchyard_blob::Error),
}

impl Error {
    /// Whether the uploader caused this error (a 4xx), as opposed to the server (a 5xx).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Error::Store(_))
    }
}

/// The archive formats Switchyard accepts, told apart by their first bytes (never by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TarGz,
    Zip,
}

impl Format {
    pub fn sniff(head: &[u8]) -> Option<Format> {
        match head {
            [0x1f, 0x8b, ..] => Some(Format::TarGz),
            [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] => Some(Format::Zip),
            _ => None,
        }
    }
}

/// Reads the archive at `path`, stages every file's bytes and returns the manifest.
pub fn ingest(path: &Path, staging: &mut Staging, limits: &Limits) -> Result<Manifest, Error> {
    let mut file = File::open(path).map_err(|e| Error::Corrupt(e.to_string()))?;
    let mut head = [0u8; 4];
    let n = read_up_to(&mut file, &mut head).map_err(|e| Error::Corrupt(e.to_string()))?;
    file.rewind().map_err(|e| Error::Corrupt(e.to_string()))?;
    let mut files = Files::new(staging, limits);
    match Format::sniff(&head[..n]) {
        Some(Format::TarGz) => ingest_tar_gz(file, &mut files)?,
        Some(Format::Zip) => ingest_zip(file, &mut files)?,
        None => return Err(Error::UnknownFormat),
    }
    if files.entries.is_empty() {
        return Err(Error::Empty);
    }
    let site = files.site_rules()?;
    let mut manifest = Manifest::new(files.entries);
    manifest.site = site;
    Ok(manifest)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The manifest being built, with the running totals the limits apply to.
struct Files<'a> {
    staging: &'a mut Staging,
    limits: &'a Limits,
    entries: BTreeMap<String, FileEntry>,
    /// `_redirects`, `_headers`, `switchyard.toml`: (name, text).
    configs: Vec<(&'static str, String)>,
    total: u64,
}

impl<'a> Files<'a> {
    fn new(staging: &'a mut Staging, limits: &'a Limits) -> Self {
        Files { staging, limits, entries: BTreeMap::new(), configs: Vec::new(), total: 0 }
    }

    /// Stages one regular file. `declared` is the size the archive claims (checked early so a
    /// huge entry is refused before it is read); the real count is enforced while reading.
    fn add(&mut self, name: String, declared: u64, reader: impl Read) -> Result<(), Error> {
        if self.entries.contains_key(&name) || self.configs.iter().any(|(n, _)| *n == name) {
            return Err(Error::Duplicate { entry: name });
        }
        if let Some(config) = rules::CONFIG_FILES.into_iter().find(|c| *c == name) {
            return self.add_config(config, reader);
        }
        if self.entries.len() >= self.limits.max_files {
            return Err(Error::TooManyFiles { limit: self.limits.max_files });
        }
        if declared > self.limits.max_file_bytes {
            return Err(Error::FileTooLarge { entry: name, limit: self.limits.max_file_bytes });
        }
        let remaining = self.limits.max_total_bytes - self.total;
        if declared > remaining {
            return Err(Error::TotalTooLarge { limit: self.limits.max_total_bytes });
        }
        let limit = self.limits.max_file_bytes.min(remaining);
        let read_failed = Rc::new(Cell::new(false));
        let reader = FlagReadErrors { inner: reader, failed: read_failed.clone() };
        let content_type = content_type_for(&name);
        let staged = if precompress::worth_trying(content_type) {
            self.stage_with_encodings(reader, limit)
        } else {
            self.staging.write(reader, limit).map(|(sha256, size)| (sha256, size, Vec::new()))
        };
        let (sha256, size, encodings) = match staged {
            Ok(ok) => ok,
            Err(switchyard_blob::Error::TooLarge { .. }) if limit < self.limits.max_file_bytes => {
                return Err(Error::TotalTooLarge { limit: self.limits.max_total_bytes });
            }
            Err(switchyard_blob::Error::TooLarge { limit }) => {
                return Err(Error::FileTooLarge { entry: name, limit });
            }
            Err(switchyard_blob::Error::Io { source, .. }) if read_failed.get() => {
                return Err(Error::CorruptEntry { entry: name, reason: source.to_string() });
            }
            Err(e) => return Err(Error::Store(e)),
        };
        self.total += size;
        self.entries.insert(name, FileEntry { sha256, size, content_type: content_type.to_owned(), encodings });
        Ok(())
    }

    /// Reads a compressible file into memory, stages it, and stages each precompressed
    /// variant that is smaller than the file.
    fn stage_with_encodings(
        &mut self,
        reader: impl Read,
        limit: u64,
    ) -> Result<(Digest, u64, Vec<Encoded>), switchyard_blob::Error> {
        let mut bytes = Vec::new();
        let io = |source| switchyard_blob::Error::Io { path: "upload".into(), source };
        reader.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() as u64 > limit {
            return Err(switchyard_blob::Error::TooLarge { limit });
        }
        let sha256 = self.staging.write_bytes(&bytes)?;
        let mut encodings = Vec::new();
        for (encoding, encoded) in precompress::variants(&bytes) {
            let digest = self.staging.write_bytes(&encoded)?;
            encodings.push(Encoded { encoding, sha256: digest, size: encoded.len() as u64 });
        }
        Ok((sha256, bytes.len() as u64, encodings))
    }

    fn add_config(&mut self, name: &'static str, reader: impl Read) -> Result<(), Error> {
        let mut bytes = Vec::new();
        reader
            .take(rules::MAX_RULES_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::CorruptEntry { entry: name.to_owned(), reason: e.to_string() })?;
        self.configs.push((name, config_text(name, bytes)?));
        Ok(())
    }

    /// Parses the configuration files and checks the paths they name against the files.
    fn site_rules(&self) -> Result<SiteRules, Error> {
        site_rules(&self.configs, &self.entries)
    }
}

/// Remembers whether an error came from reading (a bad archive) rather than writing (our disk).
struct FlagReadErrors<R> {
    inner: R,
    failed: Rc<Cell<bool>>,
}

impl<R: Read> Read for FlagReadErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|_| self.failed.set(true))
    }
}

/// Turns an entry's raw name into a manifest path: UTF-8, a leading `./` dropped, then
/// checked by [`Manifest::check_path`]. Directories (trailing `/`) are reported as `None`.
fn entry_path(raw: &[u8], is_dir: bool) -> Result<Option<String>, Error> {
    let name =
        std::str::from_utf8(raw).map_err(|_| Error::NotUtf8 { entry: String::from_utf8_lossy(raw).into_owned() })?;
    let mut path = name;
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    if is_dir || path.ends_with('/') {
        let dir = path.trim_end_matches('/');
        if dir.is_empty() || dir == "." {
            return Ok(None);
        }
        Manifest::check_path(dir).map_err(|reason| Error::BadPath { entry: name.to_owned(), reason })?;
        return Ok(None);
    }
    Manifest::check_path(path).map_err(|reason| Error::BadPath { entry: name.to_owned(), reason })?;
    Ok(Some(path.to_owned()))
}

/// Counts decompressed bytes and fails the stream once they pass `limit`.
struct CountingReader<R> {
    inner: R,
    count: Rc<Cell<u64>>,
    limit: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        if self.count.get() > self.limit {
            return Err(io::Error::other("decompressed size limit reached"));
        }
        Ok(n)
    }
}

fn ingest_tar_gz(file: File, files: &mut Files<'_>) -> Result<(), Error> {
    let limits = *files.limits;
    // Headers and padding take at most two 512-byte blocks per entry beyond the file data.
    let stream_limit = limits.max_total_bytes + (limits.max_entries() as u64 + 2) * 1024;
    let count = Rc::new(Cell::new(0));
    let gz = flate2::read::GzDecoder::new(BufReader::with_capacity(64 * 1024, file));
    let counted = CountingReader { inner: gz, count: count.clone(), limit: stream_limit };
    let mut archive = tar::Archive::new(counted);
    let over = |count: &Rc<Cell<u64>>| count.get() > stream_limit;
    let entries = archive.entries().map_err(|e| Error::Corrupt(e.to_string()))?;
    let mut seen = 0usize;
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(_) if over(&count) => {
                return Err(Error::TotalTooLarge { limit: limits.max_total_bytes });
            }
            Err(e) => return Err(Error::Corrupt(e.to_string())),
        };
        seen += 1;
        if seen > limits.max_entries() {
            return Err(Error::TooManyFiles { limit: limits.max_files });
        }
        let raw = entry.path_bytes().into_owned();
        let display = String::from_utf8_lossy(&raw).into_owned();
        use tar::EntryType as T;
        let kind = entry.header().entry_type();
        let not_a_file = |kind| Err(Error::NotAFile { entry: display.clone(), kind });
        match kind {
            T::Regular | T::Continuous => {}
            T::Directory => {
                entry_path(&raw, true)?;
                continue;
            }
            T::Symlink => return not_a_file("symbolic link"),
            T::Link => return not_a_file("hard link"),
            T::Char => return not_a_file("character device"),
            T::Block => return not_a_file("block device"),
            T::Fifo => return not_a_file("named pipe"),
            T::GNUSparse => return not_a_file("sparse file"),
            // Extension headers are folded into the next entry by the tar crate.
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => continue,
            _ => return not_a_file("special entry"),
        }
        let Some(path) = entry_path(&raw, false)? else {
            continue;
        };
        let declared =
            entry.header().size().map_err(|e| Error::CorruptEntry { entry: display.clone(), reason: e.to_string() })?;
        match files.add(path, declared, entry) {
            Err(Error::CorruptEntry { .. }) if over(&count) => {
                return Err(Error::TotalTooLarge { limit: limits.max_total_bytes });
            }
            other => other?,
        }
    }
    if over(&count) {
        return Err(Error::TotalTooLarge { limit: limits.max_total_bytes });
    }
    Ok(())
}

fn ingest_zip(file: File, files: &mut Files<'_>) -> Result<(), Error> {
    let limits = *files.limits;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| Error::Corrupt(e.to_string()))?;
    if archive.len() > limits.max_entries() {
        return Err(Error::TooManyFiles { limit: limits.max_files });
    }
    for i in 0..archive.len() {
        let name_hint = archive.name_for_index(i).and_then(Result::ok).map(|n| n.into_owned()).unwrap_or_default();
        let entry = match archive.by_index(i) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::UnsupportedArchive(msg)) if msg.to_ascii_lowercase().contains("password") => {
                return Err(Error::Encrypted { entry: name_hint });
            }
            Err(e) => return Err(Error::Corrupt(e.to_string())),
        };
        let raw = entry.name_raw().to_vec();
        let display = String::from_utf8_lossy(&raw).into_owned();
        if entry.encrypted() {
            return Err(Error::Encrypted { entry: display });
        }
        if let Some(mode) = entry.unix_mode() {
            const S_IFMT: u32 = 0o170000;
            let kind = match mode & S_IFMT {
                0 | 0o100000 | 0o040000 => None,
                0o120000 => Some("symbolic link"),
                0o020000 => Some("character device"),
                0o060000 => Some("block device"),
                0o010000 => Some("named pipe"),
                0o140000 => Some("socket"),
                _ => Some("special entry"),
            };
            if let Some(kind) = kind {
                return Err(Error::NotAFile { entry: display, kind });
            }
        }
        let Some(path) = entry_path(&raw, entry.is_dir())? else {
            continue;
        };
        let declared = entry.size();
        files.add(path, declared, entry)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
