//! The published snapshot: what edges long-poll for.
//!
//! Architecture Invariant: the snapshot is rebuilt from the store while the store's lock is
//! still held by the change that caused it, so published revisions only grow and each one
//! matches the store as of that revision.

use std::sync::Arc;

use bytes::Bytes;
use switchyard_model::Snapshot;
use tokio::sync::watch;

use crate::store::{Store, StoreError};

/// A snapshot serialized once and shared by every waiting edge.
#[derive(Debug)]
pub struct Published {
    pub revision: u64,
    pub json: Bytes,
}

#[derive(Clone)]
pub struct Publisher {
    tx: Arc<watch::Sender<Arc<Published>>>,
}

impl Publisher {
    pub fn new(store: &mut Store) -> Result<Publisher, StoreError> {
        let first = build(store)?;
        let (tx, _) = watch::channel(Arc::new(first));
        Ok(Publisher { tx: Arc::new(tx) })
    }

    /// Re-reads the store and publishes if the revision moved. Call with the store locked.
    pub fn publish(&self, store: &mut Store) -> Result<(), StoreError> {
        let next = build(store)?;
        self.tx.send_if_modified(|current| {
            if next.revision > current.revision {
                *current = Arc::new(next);
                true
            } else {
                false
            }
        });
        Ok(())
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }

    pub fn current(&self) -> Arc<Published> {
        self.tx.borrow().clone()
    }
}

fn build(store: &mut Store) -> Result<Published, StoreError> {
    let snapshot: Snapshot = store.snapshot()?;
    let json = serde_json::to_vec(&snapshot).expect("a snapshot always serializes");
    Ok(Published { revision: snapshot.revision, json: Bytes::from(json) })
}
