//! The in-memory body cache: small blobs served from RAM within a byte budget, least recently
//! used evicted first; everything else streamed from the local cache on disk.
//!
//! The request path pays one relaxed atomic store (the access tick) and one `ArcSwapOption`
//! load per body. Decisions are made off the request path, by [`MemoryCache::maintain`], which
//! runs once a second and after every snapshot swap: it evicts the coldest resident bodies
//! while over budget and loads recently used, non-resident small bodies while there is room.
//!
//! A resident body of [`SENDFILE_MIN`] bytes or more also keeps open the cache file its bytes
//! were read from, within a share of the process's open-file limit, so that plain connections
//! can send it with `sendfile` (`zerocopy`).
//!
//! Invariant: a body loaded into memory is read through `open_verified`, so RAM only ever holds
//! bytes that hash to their digest, and a resident's open file is the one those bytes came from.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use switchyard_blob::LocalBlobStore;
use switchyard_model::Digest;

/// Blobs larger than this are always streamed from disk.
pub const IN_MEMORY_MAX: u64 = 1024 * 1024;

/// Resident bodies this large or larger keep their file open for `sendfile`. Below it, copying
/// the bytes into the socket costs about what the second system call does (`benches/README.md`,
/// 2026-12-03: 1 % fewer requests/s with `sendfile` at 8 KiB, 5 % more at 14.6 KB).
pub const SENDFILE_MIN: u64 = 12 * 1024;

/// The share of the open-file limit that resident bodies' files may take (the rest is for
/// connections and everything else).
const OPEN_FILES_SHARE: u64 = 4;

/// A resident body: its verified bytes and, when it is large enough and the open-file allowance
/// has room, the cache file they were read from.
pub struct Resident {
    pub bytes: Bytes,
    pub file: Option<OpenFile>,
}

/// A cache file held open by a resident body; counted against the allowance while it is.
pub struct OpenFile {
    file: File,
    open: Arc<AtomicU64>,
}

impl OpenFile {
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The coarse clock: advanced once per maintenance pass, read by every request.
static TICK: AtomicU64 = AtomicU64::new(1);

/// One blob's bytes: always on disk in the cache, and in memory while resident.
pub struct BlobBody {
    pub digest: Digest,
    pub path: PathBuf,
    pub size: u64,
    resident: ArcSwapOption<Resident>,
    last_used: AtomicU64,
    /// The cache's usage counter: a resident body gives its bytes back when evicted or dropped,
    /// so the count is always the sum of resident bodies that still exist.
    used: Arc<AtomicU64>,
}

impl BlobBody {
    pub fn new(digest: Digest, path: PathBuf, size: u64, memory: &MemoryCache) -> BlobBody {
        BlobBody {
            digest,
            path,
            size,
            resident: ArcSwapOption::empty(),
            last_used: AtomicU64::new(0),
            used: memory.used.clone(),
        }
    }

    /// The bytes (and open file) if resident, and a note that the body was used now.
    pub fn touch(&self) -> arc_swap::Guard<Option<Arc<Resident>>> {
        self.last_used.store(TICK.load(Ordering::Relaxed), Ordering::Relaxed);
        self.resident.load()
    }

    pub fn is_resident(&self) -> bool {
        self.resident.load().is_some()
    }

    fn release(&self) {
        if let Some(resident) = self.resident.swap(None) {
            self.used.fetch_sub(resident.bytes.len() as u64, Ordering::Relaxed);
        }
    }
}

impl Drop for BlobBody {
    fn drop(&mut self) {
        self.release();
    }
}

/// The budget and how much of it resident bodies use.
pub struct MemoryCache {
    budget: u64,
    used: Arc<AtomicU64>,
    /// Resident bodies' open files, and how many there may be.
    open_files: Arc<AtomicU64>,
    max_open_files: u64,
    /// Admissions, evictions and maintenance passes run one at a time.
    changes: Mutex<()>,
}

impl MemoryCache {
    /// A cache of `budget` bytes whose resident bodies may hold a quarter of the open-file
    /// limit (`RLIMIT_NOFILE`) as it is now.
    pub fn new(budget: u64) -> Arc<MemoryCache> {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current.unwrap_or(u64::MAX);
        MemoryCache::with_open_files(budget, (limit / OPEN_FILES_SHARE).min(1 << 16))
    }

    pub fn with_open_files(budget: u64, max_open_files: u64) -> Arc<MemoryCache> {
        Arc::new(MemoryCache {
            budget,
            used: Arc::new(AtomicU64::new(0)),
            open_files: Arc::new(AtomicU64::new(0)),
            max_open_files,
            changes: Mutex::new(()),
        })
    }

    /// How many cache files resident bodies hold open.
    pub fn open_files(&self) -> u64 {
        self.open_files.load(Ordering::Relaxed)
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Loads `body` into memory if it is small and fits the budget now. The bytes are read
    /// through `open_verified`: a corrupt cached blob is an error, never resident.
    pub fn admit(&self, body: &BlobBody, cache: &LocalBlobStore) -> Result<(), switchyard_blob::Error> {
        let _one_at_a_time = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        self.admit_locked(body, cache)
    }

    fn admit_locked(&self, body: &BlobBody, cache: &LocalBlobStore) -> Result<(), switchyard_blob::Error> {
        if body.size > IN_MEMORY_MAX || body.is_resident() || self.used() + body.size > self.budget {
            return Ok(());
        }
        let (file, bytes) = cache.open_verified(&body.digest)?;
        // Only admissions add to `open_files`, one at a time: the check and the add agree.
        let file = (body.size >= SENDFILE_MIN && self.open_files() < self.max_open_files).then(|| {
            self.open_files.fetch_add(1, Ordering::Relaxed);
            OpenFile { file, open: self.open_files.clone() }
        });
        self.used.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        body.resident.store(Some(Arc::new(Resident { bytes: Bytes::from(bytes), file })));
        Ok(())
    }

    /// One maintenance pass over every body the current routes hold (and `dropped`, bodies no
    /// routes hold any more, which are evicted). Advances the clock.
    pub fn maintain<'a>(
        &self,
        live: impl Iterator<Item = &'a Arc<BlobBody>>,
        dropped: impl Iterator<Item = &'a Arc<BlobBody>>,
        cache: &LocalBlobStore,
    ) {
        let _one_at_a_time = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        for body in dropped {
            body.release();
        }
        let now = TICK.fetch_add(1, Ordering::Relaxed);
        // Snapshot the access ticks first: requests keep updating them while we sort.
        let mut bodies: Vec<(u64, &Arc<BlobBody>)> =
            live.filter(|b| b.size <= IN_MEMORY_MAX).map(|b| (b.last_used.load(Ordering::Relaxed), b)).collect();
        bodies.sort_by_key(|(tick, _)| *tick);
        let mut coldest = bodies.iter();
        while self.used() > self.budget {
            let Some((_, body)) = coldest.next() else { break };
            body.release();
        }
        // Then bring in what was used in the last tick, hottest first, while it fits; make
        // room by evicting resident bodies colder than the one coming in.
        for (heat, body) in bodies.iter().rev().filter(|(t, b)| !b.is_resident() && t + 1 >= now) {
            let mut victims = bodies.iter().filter(|(t, b)| b.is_resident() && t < heat);
            while self.used() + body.size > self.budget {
                let Some((_, victim)) = victims.next() else { break };
                victim.release();
            }
            if let Err(error) = self.admit_locked(body, cache) {
                tracing::warn!(%error, digest = %body.digest, "cannot load a cached blob into memory");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(
        n: usize,
        size: usize,
        budget: u64,
    ) -> (tempfile::TempDir, LocalBlobStore, Arc<MemoryCache>, Vec<Arc<BlobBody>>) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        let mem = MemoryCache::new(budget);
        let bodies = (0..n)
            .map(|i| {
                let bytes = vec![i as u8; size];
                let digest = store.put_bytes(&bytes).unwrap();
                Arc::new(BlobBody::new(digest, store.path(&digest), size as u64, &mem))
            })
            .collect();
        (dir, store, mem, bodies)
    }

    #[test]
    fn admission_respects_the_budget() {
        let (_d, store, mem, bodies) = setup(4, 100, 250);
        for b in &bodies {
            mem.admit(b, &store).unwrap();
            mem.admit(b, &store).unwrap();
        }
        assert_eq!(mem.used(), 200, "admitting twice counts once");
        assert_eq!(bodies.iter().filter(|b| b.is_resident()).count(), 2);
        assert_eq!(bodies[0].touch().as_ref().unwrap().bytes, vec![0u8; 100]);
        assert!(bodies[0].touch().as_ref().unwrap().file.is_none(), "too small to keep its file open");
        assert!(bodies[3].touch().is_none(), "not resident: served from disk");
    }

    #[test]
    fn the_least_recently_used_make_room_for_hot_ones() {
        let (_d, store, mem, bodies) = setup(4, 100, 200);
        mem.admit(&bodies[0], &store).unwrap();
        mem.admit(&bodies[1], &store).unwrap();
        // Only bodies 2 and 3 are requested now.
        mem.maintain(bodies.iter(), std::iter::empty(), &store);
        bodies[2].touch();
        bodies[3].touch();
        mem.maintain(bodies.iter(), std::iter::empty(), &store);
        let resident: Vec<bool> = bodies.iter().map(|b| b.is_resident()).collect();
        assert_eq!(resident, [false, false, true, true]);
        assert_eq!(mem.used(), 200);
        // Bodies no routes hold are dropped from memory.
        mem.maintain(bodies[..2].iter(), bodies[2..].iter(), &store);
        assert_eq!(mem.used(), 0);
    }

    #[test]
    fn dropping_a_resident_body_gives_its_bytes_back() {
        let (_d, store, mem, mut bodies) = setup(2, 100, 1000);
        mem.admit(&bodies[0], &store).unwrap();
        mem.admit(&bodies[1], &store).unwrap();
        assert_eq!(mem.used(), 200);
        bodies.pop();
        assert_eq!(mem.used(), 100, "routes that failed to build, or old routes, leave no phantom usage");
    }

    #[test]
    fn large_resident_bodies_keep_their_file_open_within_the_allowance() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        let mem = MemoryCache::with_open_files(1 << 20, 2);
        let size = SENDFILE_MIN as usize;
        let bodies: Vec<Arc<BlobBody>> = (0..3u8)
            .map(|i| {
                let digest = store.put_bytes(&vec![i; size]).unwrap();
                Arc::new(BlobBody::new(digest, store.path(&digest), size as u64, &mem))
            })
            .collect();
        for b in &bodies {
            mem.admit(b, &store).unwrap();
        }
        assert!(bodies.iter().all(|b| b.is_resident()));
        let with_file: Vec<bool> = bodies.iter().map(|b| b.touch().as_ref().unwrap().file.is_some()).collect();
        assert_eq!(with_file, [true, true, false], "two files allowed");
        assert_eq!(mem.open_files(), 2);
        // The open file holds the resident's bytes.
        let resident = bodies[1].touch().as_ref().unwrap().clone();
        let mut on_disk = vec![0; size];
        resident.file.as_ref().unwrap().file().read_exact_at(&mut on_disk, 0).unwrap();
        assert!(on_disk == resident.bytes);
        // Evicted, a body closes its file once nothing else holds it.
        mem.maintain(bodies[2..].iter(), bodies[..2].iter(), &store);
        assert_eq!(mem.open_files(), 1, "body 1's file is still held here");
        drop(resident);
        assert_eq!(mem.open_files(), 0);
    }

    #[test]
    fn a_corrupt_cached_blob_is_never_loaded() {
        let (_d, store, mem, bodies) = setup(1, 100, 1000);
        std::fs::write(&bodies[0].path, vec![9u8; 100]).unwrap();
        assert!(matches!(mem.admit(&bodies[0], &store), Err(switchyard_blob::Error::Corrupt { .. })));
        assert_eq!(mem.used(), 0);
    }
}
