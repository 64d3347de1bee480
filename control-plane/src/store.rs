//! The metadata store: tenants, tokens, apps, versions, channel pointers, releases and the
//! global revision, in SQLite.
//!
//! Invariants:
//! - Every change an edge can see (a new version, a pointer move) bumps `revision` in the same
//!   transaction, so a snapshot built from the store is consistent with its revision.
//! - The database runs in WAL mode with `synchronous=FULL`: once a call returns, its change
//!   survives a crash or power loss.
//! - A channel only ever points at a version row, and a version row is only written after its
//!   manifest and every blob it names are stored (the caller's duty, see `api::deploy`).
//! - Tokens are stored as SHA-256 hashes; the plaintext never reaches this module.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use switchyard_model::api::{Release, VersionInfo};
use switchyard_model::{AppState, Digest, Snapshot, VersionRef};

use crate::auth::{Principal, TokenHash, TokenKind};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("metadata store: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0), ('schema', 1);
CREATE TABLE IF NOT EXISTS tenants (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('admin', 'tenant', 'edge')),
    tenant_id  INTEGER REFERENCES tenants (id),
    label      TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS apps (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id),
    name         TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    next_version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS versions (
    app_id     INTEGER NOT NULL REFERENCES apps (id),
    number     INTEGER NOT NULL,
    manifest   TEXT NOT NULL,
    files      INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    message    TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (app_id, number)
);
CREATE TABLE IF NOT EXISTS channels (
    app_id     INTEGER NOT NULL REFERENCES apps (id),
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (app_id, name),
    FOREIGN KEY (app_id, version) REFERENCES versions (app_id, number)
);
CREATE TABLE IF NOT EXISTS releases (
    id           INTEGER PRIMARY KEY,
    app_id       INTEGER NOT NULL REFERENCES apps (id),
    channel      TEXT NOT NULL,
    from_version INTEGER,
    to_version   INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('deploy', 'promote', 'rollback')),
    actor        TEXT NOT NULL,
    at           TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    undone       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS releases_by_channel ON releases (app_id, channel, id);
CREATE TABLE IF NOT EXISTS domains (
    name            TEXT PRIMARY KEY,
    app_id          INTEGER NOT NULL REFERENCES apps (id),
    channel         TEXT NOT NULL,
    https_redirect  INTEGER NOT NULL DEFAULT 1,
    hsts_max_age    INTEGER,
    hsts_subdomains INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
    id          TEXT PRIMARY KEY,
    domain      TEXT NOT NULL UNIQUE REFERENCES domains (name),
    subject     TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    not_before  TEXT NOT NULL,
    not_after   TEXT NOT NULL,
    sans        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    chain_len   INTEGER NOT NULL,
    chain_pem   TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deploys (
    id         TEXT PRIMARY KEY,
    app_id     INTEGER NOT NULL REFERENCES apps (id),
    request    TEXT NOT NULL,
    missing    INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    version    INTEGER
);
CREATE TABLE IF NOT EXISTS deploy_blobs (
    deploy_id TEXT NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    sha256    TEXT NOT NULL,
    size      INTEGER NOT NULL,
    PRIMARY KEY (deploy_id, sha256)
);
CREATE TABLE IF NOT EXISTS encodings (
    source   TEXT PRIMARY KEY,
    variants TEXT NOT NULL
);
"#;

pub(crate) fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct App {
    pub id: i64,
    pub name: String,
    pub tenant: String,
    pub created_at: String,
}

/// A new version to record, with the channels it goes to.
pub struct NewVersion<'a> {
    pub manifest: Digest,
    pub files: u64,
    pub bytes: u64,
    pub message: Option<&'a str>,
    pub actor: &'a str,
    pub channels: &'a [String],
}

pub struct Store {
    conn: Connection,
    /// The share-link verification key the snapshot publishes (`previews`); `None`: every
    /// host is public. Set at start by `set_preview_access`.
    preview_key: Option<String>,
    /// Skew protection: how long versions that left a channel stay in snapshots (`splits`).
    skew_window: std::time::Duration,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(previews::SCHEMA)?;
        conn.execute_batch(splits::SCHEMA)?;
        conn.execute_batch(stats::SCHEMA)?;
        Ok(Store { conn, preview_key: None, skew_window: splits::DEFAULT_SKEW_WINDOW })
    }

    pub fn revision(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = 'revision'", [], |r| r.get(0))?)
    }

    /// Makes `hash` the one operator token (replacing any earlier one, so rotation works).
    pub fn set_admin_token(&mut self, hash: &TokenHash) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM tokens WHERE kind = 'admin'", [])?;
        tx.execute(
            "INSERT INTO tokens (hash, kind, label, created_at) VALUES (?1, 'admin', 'operator', ?2)",
            params![hash.as_str(), now()],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn authenticate(&self, hash: &TokenHash) -> Result<Option<Principal>> {
        let row = self
            .conn
            .query_row(
                "SELECT t.kind, t.tenant_id, n.name, t.label FROM tokens t
                 LEFT JOIN tenants n ON n.id = t.tenant_id WHERE t.hash = ?1",
                [hash.as_str()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.and_then(|(kind, tenant_id, tenant_name, label)| match kind.as_str() {
            "admin" => Some(Principal::Admin),
            "tenant" => Some(Principal::Tenant { id: tenant_id?, name: tenant_name? }),
            "edge" => Some(Principal::Edge { label: label.unwrap_or_default() }),
            _ => None,
        }))
    }

    pub fn create_tenant(&mut self, name: &str, token: &TokenHash) -> Result<Tenant> {
        let tx = self.conn.transaction()?;
        let exists: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM tenants WHERE name = ?1)", [name], |r| r.get(0))?;
        if exists {
            return Err(StoreError::Conflict(format!("tenant {name:?} already exists")));
        }
        let created_at = now();
        tx.execute("INSERT INTO tenants (name, created_at) VALUES (?1, ?2)", params![name, created_at])?;
        let id = tx.last_insert_rowid();
        insert_token(&tx, token, TokenKind::Tenant, Some(id), name)?;
        tx.commit()?;
        Ok(Tenant { name: name.to_owned(), created_at })
    }

    pub fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let mut stmt = self.conn.prepare("SELECT name, created_at FROM tenants ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok(Tenant { name: r.get(0)?, created_at: r.get(1)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn tenant_id(&self, name: &str) -> Result<i64> {
        self.conn
            .query_row("SELECT id FROM tenants WHERE name = ?1", [name], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("tenant {name:?} not found")))
    }

    pub fn create_edge_token(&mut self, token: &TokenHash, label: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        insert_token(&tx, token, TokenKind::Edge, None, label)?;
        tx.commit()?;
        Ok(())
    }

    pub fn create_app(&mut self, tenant_id: i64, name: &str) -> Result<App> {
        let tx = self.conn.transaction()?;
        let exists: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM apps WHERE name = ?1)", [name], |r| r.get(0))?;
        if exists {
            // App names are global because they are host names; say so without saying whose.
            return Err(StoreError::Conflict(format!(
                "app name {name:?} is taken; app names are global, pick another"
            )));
        }
        let created_at = now();
        tx.execute(
            "INSERT INTO apps (tenant_id, name, created_at) VALUES (?1, ?2, ?3)",
            params![tenant_id, name, created_at],
        )?;
        let id = tx.last_insert_rowid();
        let tenant = tx.query_row("SELECT name FROM tenants WHERE id = ?1", [tenant_id], |r| r.get(0))?;
        tx.commit()?;
        Ok(App { id, name: name.to_owned(), tenant, created_at })
    }

    /// The app `name` as `who` may see it: another tenant's app is "not found".
    pub fn find_app(&self, who: &Principal, name: &str) -> Result<App> {
        let app = self
            .conn
            .query_row(
                "SELECT a.id, a.name, t.name, a.created_at, a.tenant_id FROM apps a JOIN tenants t ON t.id = a.tenant_id
                 WHERE a.name = ?1",
                [name],
                |r| Ok((App { id: r.get(0)?, name: r.get(1)?, tenant: r.get(2)?, created_at: r.get(3)? }, r.get::<_, i64>(4)?)),
            )
            .optional()?;
        match (app, who) {
            (Some((app, _)), Principal::Admin) => Ok(app),
            (Some((app, owner)), Principal::Tenant { id, .. }) if owner == *id => Ok(app),
            _ => Err(StoreError::NotFound(format!("app {name:?} not found"))),
        }
    }

    pub fn list_apps(&self, who: &Principal) -> Result<Vec<(App, BTreeMap<String, u64>)>> {
        let tenant_filter = match who {
            Principal::Tenant { id, .. } => Some(*id),
            _ => None,
        };
        let mut stmt = self.conn.prepare(
            "SELECT a.id, a.name, t.name, a.created_at FROM apps a JOIN tenants t ON t.id = a.tenant_id
             WHERE ?1 IS NULL OR a.tenant_id = ?1 ORDER BY a.name",
        )?;
        let apps = stmt
            .query_map([tenant_filter], |r| {
                Ok(App { id: r.get(0)?, name: r.get(1)?, tenant: r.get(2)?, created_at: r.get(3)? })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        apps.into_iter()
            .map(|app| {
                let channels = self.channels(app.id)?;
                Ok((app, channels))
            })
            .collect()
    }

    pub fn channels(&self, app_id: i64) -> Result<BTreeMap<String, u64>> {
        let mut stmt = self.conn.prepare("SELECT name, version FROM channels WHERE app_id = ?1")?;
        let rows = stmt.query_map([app_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a version whose manifest and blobs are already stored, points `channels` at
    /// it, and bumps the revision, all in one transaction. Returns (number, revision).
    pub fn create_version(&mut self, app: &App, v: NewVersion<'_>) -> Result<(u64, u64)> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let created = insert_version(&tx, app, v)?;
        tx.commit()?;
        Ok(created)
    }

    pub fn list_versions(&self, app: &App) -> Result<Vec<VersionInfo>> {
        let channels = self.channels(app.id)?;
        let mut stmt = self.conn.prepare(
            "SELECT number, manifest, files, bytes, message, created_by, created_at FROM versions
             WHERE app_id = ?1 ORDER BY number",
        )?;
        let rows = stmt.query_map([app.id], |r| {
            let number: u64 = r.get(0)?;
            Ok(VersionInfo {
                version: switchyard_model::version_label(number),
                number,
                manifest: r.get(1)?,
                files: r.get(2)?,
                bytes: r.get(3)?,
                message: r.get(4)?,
                created_by: r.get(5)?,
                created_at: r.get(6)?,
                channels: channels.iter().filter(|(_, v)| **v == number).map(|(c, _)| c.clone()).collect(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Points `channel` at `version`. The version must exist (and so is fully stored).
    pub fn promote(&mut self, app: &App, channel: &str, version: u64, actor: &str) -> Result<Release> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM versions WHERE app_id = ?1 AND number = ?2)",
            params![app.id, version],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(StoreError::NotFound(format!("app {:?} has no version v{version}", app.name)));
        }
        let revision = bump_revision(&tx)?;
        let release = move_pointer(&tx, app.id, channel, version, "promote", actor, &now(), revision)?;
        tx.commit()?;
        Ok(release)
    }

    /// Points `channel` back where it was before its latest move that has not been rolled back
    /// yet, and marks that move undone, so repeated rollbacks walk back the history.
    pub fn rollback(&mut self, app: &App, channel: &str, actor: &str) -> Result<Release> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last: Option<(i64, Option<u64>, u64)> = tx
            .query_row(
                "SELECT id, from_version, to_version FROM releases
                 WHERE app_id = ?1 AND channel = ?2 AND kind != 'rollback' AND undone = 0
                 ORDER BY id DESC LIMIT 1",
                params![app.id, channel],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((id, Some(previous), _)) = last else {
            return Err(StoreError::Conflict(format!(
                "channel {channel:?} of app {:?} has no earlier version to roll back to",
                app.name
            )));
        };
        tx.execute("UPDATE releases SET undone = 1 WHERE id = ?1", [id])?;
        let revision = bump_revision(&tx)?;
        let release = move_pointer(&tx, app.id, channel, previous, "rollback", actor, &now(), revision)?;
        tx.commit()?;
        Ok(release)
    }

    pub fn list_releases(&self, app: &App) -> Result<Vec<Release>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, channel, from_version, to_version, kind, actor, at, revision FROM releases
             WHERE app_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([app.id], release_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Everything edges route by, at the current revision, read in one transaction.
    pub fn snapshot(&mut self) -> Result<Snapshot> {
        let tx = self.conn.transaction()?;
        let revision = tx.query_row("SELECT value FROM meta WHERE key = 'revision'", [], |r| r.get(0))?;
        let mut apps: BTreeMap<String, AppState> = BTreeMap::new();
        {
            let mut stmt = tx.prepare(
                "SELECT a.name, v.number, v.manifest, v.created_at FROM versions v JOIN apps a ON a.id = v.app_id",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let manifest: String = r.get(2)?;
                let bad = |i, e: Box<dyn std::error::Error + Send + Sync>| {
                    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e)
                };
                let manifest = manifest.parse().map_err(|e| bad(2, Box::new(e)))?;
                let created_at: String = r.get(3)?;
                let created = humantime::parse_rfc3339(&created_at).map_err(|e| bad(3, Box::new(e)))?;
                let created = created.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                apps.entry(r.get(0)?).or_default().versions.insert(r.get(1)?, VersionRef { manifest, created });
            }
            let mut stmt =
                tx.prepare("SELECT a.name, c.name, c.version FROM channels c JOIN apps a ON a.id = c.app_id")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                apps.entry(r.get(0)?).or_default().channels.insert(r.get(1)?, r.get(2)?);
            }
        }
        splits::fill_snapshot(&tx, &mut apps, self.skew_window, SystemTime::now())?;
        let (domains, certs) = domains::snapshot_parts(&tx)?;
        let previews = previews::snapshot_parts(&tx, &mut apps, self.preview_key.as_deref())?;
        tx.commit()?;
        Ok(Snapshot { revision, apps, domains, certs, previews })
    }
}

fn insert_token(
    tx: &rusqlite::Transaction<'_>,
    hash: &TokenHash,
    kind: TokenKind,
    tenant: Option<i64>,
    label: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO tokens (hash, kind, tenant_id, label, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![hash.as_str(), kind.as_str(), tenant, label, now()],
    )?;
    Ok(())
}

/// Creates the version row, points `v.channels` at it and bumps the revision, inside `tx`.
/// Returns (number, revision).
fn insert_version(tx: &rusqlite::Transaction<'_>, app: &App, v: NewVersion<'_>) -> Result<(u64, u64)> {
    let number: u64 = tx.query_row("SELECT next_version FROM apps WHERE id = ?1", [app.id], |r| r.get(0))?;
    tx.execute("UPDATE apps SET next_version = next_version + 1 WHERE id = ?1", [app.id])?;
    let at = now();
    tx.execute(
        "INSERT INTO versions (app_id, number, manifest, files, bytes, message, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![app.id, number, v.manifest.to_hex(), v.files, v.bytes, v.message, v.actor, at],
    )?;
    let revision = bump_revision(tx)?;
    for channel in v.channels {
        move_pointer(tx, app.id, channel, number, "deploy", v.actor, &at, revision)?;
    }
    Ok((number, revision))
}

fn bump_revision(tx: &rusqlite::Transaction<'_>) -> Result<u64> {
    Ok(tx.query_row("UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value", [], |r| r.get(0))?)
}

#[allow(clippy::too_many_arguments)]
fn move_pointer(
    tx: &rusqlite::Transaction<'_>,
    app_id: i64,
    channel: &str,
    to: u64,
    kind: &str,
    actor: &str,
    at: &str,
    revision: u64,
) -> Result<Release> {
    let from: Option<u64> = tx
        .query_row("SELECT version FROM channels WHERE app_id = ?1 AND name = ?2", params![app_id, channel], |r| {
            r.get(0)
        })
        .optional()?;
    tx.execute(
        "INSERT INTO channels (app_id, name, version, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (app_id, name) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
        params![app_id, channel, to, at],
    )?;
    tx.execute(
        "INSERT INTO releases (app_id, channel, from_version, to_version, kind, actor, at, revision)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![app_id, channel, from, to, kind, actor, at, revision],
    )?;
    let id = tx.last_insert_rowid();
    let ended = splits::on_move(tx, app_id, channel, at)?;
    let release = tx.query_row(
        "SELECT id, channel, from_version, to_version, kind, actor, at, revision FROM releases WHERE id = ?1",
        [id],
        release_from_row,
    )?;
    Ok(Release { ended_split: ended.as_deref().map(splits::weights_of), ..release })
}

fn release_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Release> {
    Ok(Release {
        id: r.get(0)?,
        channel: r.get(1)?,
        from: r.get::<_, Option<u64>>(2)?.map(switchyard_model::version_label),
        to: switchyard_model::version_label(r.get(3)?),
        kind: r.get(4)?,
        actor: r.get(5)?,
        at: r.get(6)?,
        revision: r.get(7)?,
        app: None,
        url: None,
        ended_split: None,
    })
}

mod domains;
pub use domains::NewDomain;
mod deploys;
pub use deploys::OpenDeploy;
mod previews;
pub use previews::{NewShare, ShareScope};
pub mod splits;
mod stats;
pub use stats::{Applied, MetricTotals};

#[cfg(test)]
mod tests;
