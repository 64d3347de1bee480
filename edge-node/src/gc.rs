//! The cache's size budget: after a swap that fetched blobs, off the request path, blobs that
//! no version of the applied snapshot references are removed, least recently written first,
//! until the cache fits its budget.
//!
//! Architecture Invariant: a blob that the applied snapshot references (every version of every
//! app, including apps held back on an earlier state) is never evicted, even over budget; so
//! the current routes never lose a body, and a rollback to any retained version needs no fetch.

use std::collections::HashSet;
use std::path::Path;
use std::time::SystemTime;

use switchyard_blob::LocalBlobStore;
use switchyard_model::{Digest, Manifest, Snapshot};

/// Evicts unreferenced blobs while the cache is over `budget` bytes; returns what it removed.
pub(crate) fn collect(cache: &LocalBlobStore, dir: &Path, applied: &Snapshot, budget: u64) -> Vec<Digest> {
    let mut referenced: HashSet<Digest> = HashSet::new();
    for digest in applied.manifest_digests() {
        referenced.insert(digest);
        match cache.read_verified(&digest).map(|b| Manifest::from_json(&b)) {
            Ok(Ok(manifest)) => referenced.extend(manifest.blobs()),
            // Without the manifest the blobs it references are unknown: evict nothing.
            _ => {
                tracing::warn!(%digest, "cannot read a retained manifest; skipping cache eviction");
                return Vec::new();
            }
        }
    }
    let mut total = 0u64;
    let mut candidates: Vec<(SystemTime, u64, Digest)> = Vec::new();
    for (digest, size, modified) in cached_blobs(&dir.join("blobs")) {
        total += size;
        if !referenced.contains(&digest) {
            candidates.push((modified, size, digest));
        }
    }
    if total <= budget {
        return Vec::new();
    }
    candidates.sort_unstable();
    let mut evicted = Vec::new();
    for (_, size, digest) in candidates {
        if total <= budget {
            break;
        }
        match cache.remove(&digest) {
            Ok(()) => {
                total -= size;
                evicted.push(digest);
            }
            Err(error) => tracing::warn!(%error, %digest, "cannot evict a cached blob"),
        }
    }
    if total > budget {
        tracing::warn!(bytes = total, budget, "the versions held need more than the cache budget");
    }
    tracing::info!(evicted = evicted.len(), bytes = total, budget, "cache over budget: evicted unreferenced blobs");
    evicted
}

/// Every blob file under `blobs/ab/cd/<hex>`: digest, size, modification time.
fn cached_blobs(root: &Path) -> Vec<(Digest, u64, SystemTime)> {
    let mut out = Vec::new();
    let entries = |dir: &Path| std::fs::read_dir(dir).into_iter().flatten().flatten();
    for a in entries(root) {
        for b in entries(&a.path()) {
            for blob in entries(&b.path()) {
                let (Some(digest), Ok(meta)) =
                    (blob.file_name().to_str().and_then(|n| n.parse::<Digest>().ok()), blob.metadata())
                else {
                    continue;
                };
                if meta.is_file() {
                    out.push((digest, meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
