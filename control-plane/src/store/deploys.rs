//! Open content-addressed deploys (see `api::uploads`) and the precompression memo.
//!
//! Invariants:
//! - An open deploy is not a version: nothing an edge sees changes until
//!   [`Store::finalize_deploy`] creates the version row, in one transaction with marking the
//!   deploy finalized.
//! - `encodings` maps a file's digest to its precompressed variants; a row is written only
//!   after every variant blob is stored, so a remembered variant is never missing (the caller
//!   still checks, should blobs ever be collected).

use std::collections::HashMap;

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use switchyard_model::{Digest, Encoded};

use super::{App, NewVersion, Result, Store, StoreError, insert_version, now};

/// Deploys (open or finalized) older than this are dropped when the next one opens.
const OPEN_DEPLOY_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// An open deploy as stored: the request it was opened with (JSON, parsed by the API).
pub struct OpenDeploy {
    pub request: String,
    pub missing: u64,
    /// Set once finalized.
    pub version: Option<u64>,
}

impl Store {
    /// Records an open deploy of `app` naming `blobs` (digest, size).
    pub fn open_deploy(
        &mut self,
        app: &App,
        id: &str,
        request: &str,
        blobs: &[(Digest, u64)],
        missing: u64,
        actor: &str,
    ) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let cutoff = std::time::SystemTime::now() - OPEN_DEPLOY_TTL;
        let cutoff = humantime::format_rfc3339_seconds(cutoff).to_string();
        tx.execute("DELETE FROM deploys WHERE created_at < ?1", [cutoff])?;
        tx.execute(
            "INSERT INTO deploys (id, app_id, request, missing, actor, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, app.id, request, missing, actor, now()],
        )?;
        {
            let mut insert =
                tx.prepare("INSERT OR IGNORE INTO deploy_blobs (deploy_id, sha256, size) VALUES (?1, ?2, ?3)")?;
            for (digest, size) in blobs {
                insert.execute(params![id, digest.to_hex(), size])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The open deploy `id` of `app`; another app's deploy is "not found".
    pub fn find_deploy(&self, app: &App, id: &str) -> Result<OpenDeploy> {
        self.conn
            .query_row(
                "SELECT request, missing, version FROM deploys WHERE id = ?1 AND app_id = ?2",
                params![id, app.id],
                |r| Ok(OpenDeploy { request: r.get(0)?, missing: r.get(1)?, version: r.get(2)? }),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("deploy {id:?} of app {:?} not found", app.name)))
    }

    /// The size deploy `id` declared for blob `digest`, if it names it.
    pub fn deploy_blob_size(&self, id: &str, digest: &Digest) -> Result<Option<u64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT size FROM deploy_blobs WHERE deploy_id = ?1 AND sha256 = ?2",
                params![id, digest.to_hex()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Creates the version of deploy `id` (see [`Store::create_version`]) and marks the deploy
    /// finalized, in one transaction. A deploy is finalized at most once.
    pub fn finalize_deploy(&mut self, app: &App, id: &str, v: NewVersion<'_>) -> Result<(u64, u64)> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: Option<Option<u64>> = tx
            .query_row("SELECT version FROM deploys WHERE id = ?1 AND app_id = ?2", params![id, app.id], |r| r.get(0))
            .optional()?;
        match version {
            None => return Err(StoreError::NotFound(format!("deploy {id:?} of app {:?} not found", app.name))),
            Some(Some(n)) => return Err(StoreError::Conflict(format!("deploy {id:?} was already finalized as v{n}"))),
            Some(None) => {}
        }
        let (number, revision) = insert_version(&tx, app, v)?;
        tx.execute("UPDATE deploys SET version = ?1 WHERE id = ?2", params![number, id])?;
        tx.execute("DELETE FROM deploy_blobs WHERE deploy_id = ?1", [id])?;
        tx.commit()?;
        Ok((number, revision))
    }

    /// The remembered precompressed variants of each of `sources` that has them (an empty
    /// list means "tried; nothing smaller").
    pub fn cached_encodings(&self, sources: &[Digest]) -> Result<HashMap<Digest, Vec<Encoded>>> {
        let mut stmt = self.conn.prepare_cached("SELECT variants FROM encodings WHERE source = ?1")?;
        let mut out = HashMap::new();
        for source in sources {
            let row: Option<String> = stmt.query_row([source.to_hex()], |r| r.get(0)).optional()?;
            if let Some(json) = row
                && let Ok(variants) = serde_json::from_str::<Vec<Encoded>>(&json)
            {
                out.insert(*source, variants);
            }
        }
        Ok(out)
    }

    /// Remembers precompressed variants whose blobs are stored.
    pub fn remember_encodings(&mut self, items: &[(Digest, Vec<Encoded>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare("INSERT OR REPLACE INTO encodings (source, variants) VALUES (?1, ?2)")?;
            for (source, variants) in items {
                let json = serde_json::to_string(variants).expect("encodings serialize");
                insert.execute(params![source.to_hex(), json])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
