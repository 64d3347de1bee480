//! The in-memory body cache: small blobs served from RAM within a byte budget, least recently
//! used evicted first; everything else streamed from the local cache on disk.
//!
//! The request path pays one relaxed atomic store (the access tick) and one `ArcSwapOption`
//! load per body. Decisions are made off the request path, by [`MemoryCache::maintain`], which
//! runs once a second and after every snapshot swap: it evicts the coldest resident bodies
//! while over budget and loads recently used, non-resident small bodies while there is room.
//!
//! Invariant: a body loaded into memory is read through `read_verified`, so RAM only ever holds
//! bytes that hash to their digest.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use switchyard_blob::LocalBlobStore;
use switchyard_model::Digest;

/// Blobs larger than this are always streamed from disk.
pub const IN_MEMORY_MAX: u64 = 1024 * 1024;

/// The coarse clock: advanced once per maintenance pass, read by every request.
static TICK: AtomicU64 = AtomicU64::new(1);

/// One blob's bytes: always on disk in the cache, and in memory while resident.
pub struct BlobBody {
    pub digest: Digest,
    pub path: PathBuf,
    pub size: u64,
    resident: ArcSwapOption<Bytes>,
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

    /// The bytes if resident, and a note that the body was used now.
    pub fn touch(&self) -> Option<Bytes> {
        self.last_used.store(TICK.load(Ordering::Relaxed), Ordering::Relaxed);
        self.resident.load().as_deref().cloned()
    }

    pub fn is_resident(&self) -> bool {
        self.resident.load().is_some()
    }

    fn release(&self) {
        if let Some(bytes) = self.resident.swap(None) {
            self.used.fetch_sub(bytes.len() as u64, Ordering::Relaxed);
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
    /// Admissions, evictions and maintenance passes run one at a time.
    changes: Mutex<()>,
}

impl MemoryCache {
    pub fn new(budget: u64) -> Arc<MemoryCache> {
        Arc::new(MemoryCache { budget, used: Arc::new(AtomicU64::new(0)), changes: Mutex::new(()) })
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Loads `body` into memory if it is small and fits the budget now. The bytes are read
    /// through `read_verified`: a corrupt cached blob is an error, never resident.
    pub fn admit(&self, body: &BlobBody, cache: &LocalBlobStore) -> Result<(), switchyard_blob::Error> {
        let _one_at_a_time = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        self.admit_locked(body, cache)
    }

    fn admit_locked(&self, body: &BlobBody, cache: &LocalBlobStore) -> Result<(), switchyard_blob::Error> {
        if body.size > IN_MEMORY_MAX || body.is_resident() || self.used() + body.size > self.budget {
            return Ok(());
        }
        let bytes = cache.read_verified(&body.digest)?;
        self.used.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        body.resident.store(Some(Arc::new(Bytes::from(bytes))));
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
        assert_eq!(bodies[0].touch().unwrap(), vec![0u8; 100]);
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
    fn a_corrupt_cached_blob_is_never_loaded() {
        let (_d, store, mem, bodies) = setup(1, 100, 1000);
        std::fs::write(&bodies[0].path, vec![9u8; 100]).unwrap();
        assert!(matches!(mem.admit(&bodies[0], &store), Err(switchyard_blob::Error::Corrupt { .. })));
        assert_eq!(mem.used(), 0);
    }
}
