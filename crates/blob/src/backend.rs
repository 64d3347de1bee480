//! The [`BlobStore`] trait: what the control plane needs of a blob store, whichever backend
//! holds the bytes.
//!
//! The methods are blocking, like [`LocalBlobStore`]'s, so code written against the local
//! store ports by changing a type: call them from a blocking context (`spawn_blocking`, or a
//! multi-threaded runtime's worker, where the S3 backend uses `block_in_place`).

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use switchyard_model::Digest;

use crate::{Error, LocalBlobStore, Staging};

/// A store shared by every handler.
pub type SharedBlobStore = Arc<dyn BlobStore>;

/// A content-addressed blob store.
///
/// Architecture Invariant: a blob becomes visible only under its own SHA-256 (writes are
/// verified), and `read_verified` never returns bytes that do not hash to the digest asked for.
pub trait BlobStore: fmt::Debug + Send + Sync + 'static {
    /// Where the blobs live, for logs and messages: a directory or `s3://bucket/prefix`.
    fn describe(&self) -> String;

    /// Whether blob `digest` is stored.
    fn contains(&self, digest: &Digest) -> Result<bool, Error>;

    /// [`BlobStore::contains`] for many digests at once (the S3 backend asks concurrently);
    /// the answer is in the order asked.
    fn contains_many(&self, digests: &[Digest]) -> Result<Vec<bool>, Error> {
        digests.iter().map(|d| self.contains(d)).collect()
    }

    /// Reads a whole blob and checks it against its digest.
    fn read_verified(&self, digest: &Digest) -> Result<Vec<u8>, Error>;

    /// Streams `reader` into the store as blob `expected`, refusing (and storing nothing) if
    /// the bytes hash to anything else or exceed `limit`. Returns the blob's size.
    fn put_verified(&self, expected: &Digest, reader: &mut dyn Read, limit: u64) -> Result<u64, Error>;

    /// Stores bytes already in memory under their digest, which it returns.
    fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, Error> {
        let digest = Digest::of(bytes);
        self.put_verified(&digest, &mut &bytes[..], bytes.len() as u64)?;
        Ok(digest)
    }

    /// Starts a staging area (see [`Staging`]).
    fn staging(&self) -> Result<Staging, Error>;

    /// The local directory backend, when this is one: lets a caller stream a blob's file.
    fn as_local(&self) -> Option<&LocalBlobStore> {
        None
    }

    /// Makes staged files (complete, already hashed as named) visible; returns how many were
    /// new to the store. Called by [`Staging::commit`].
    fn commit_staged(&self, staged: &[(PathBuf, Digest)]) -> Result<usize, Error>;
}

impl BlobStore for LocalBlobStore {
    fn describe(&self) -> String {
        self.blobs.display().to_string()
    }

    fn contains(&self, digest: &Digest) -> Result<bool, Error> {
        Ok(LocalBlobStore::contains(self, digest))
    }

    fn read_verified(&self, digest: &Digest) -> Result<Vec<u8>, Error> {
        LocalBlobStore::read_verified(self, digest)
    }

    fn put_verified(&self, expected: &Digest, reader: &mut dyn Read, limit: u64) -> Result<u64, Error> {
        LocalBlobStore::put_verified(self, expected, reader, limit)
    }

    fn staging(&self) -> Result<Staging, Error> {
        LocalBlobStore::staging(self)
    }

    fn as_local(&self) -> Option<&LocalBlobStore> {
        Some(self)
    }

    fn commit_staged(&self, staged: &[(PathBuf, Digest)]) -> Result<usize, Error> {
        let mut new = 0;
        for (path, digest) in staged {
            if self.install(path, digest)? {
                new += 1;
            }
        }
        Ok(new)
    }
}
