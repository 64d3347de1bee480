//! Shared previews in the metadata store: share links (`shares`), public channels
//! (`public_channels`) and what the snapshot last published about them (`preview_access`).
//!
//! Invariants:
//! - A share row holds the link's id and metadata, never its token (a bearer secret, shown
//!   once when the link is made); the signing key is not in SQLite either (`crate::previews`).
//! - Creating a link changes nothing an edge sees (edges verify signatures), so it does not
//!   bump the revision. Revoking a live link, making a channel public or private, and changing
//!   the verification key or the operator's `public_previews` setting each bump the revision
//!   once, in the same transaction.
//! - A revoked id stays in the snapshot until the link's expiry; after that the signature's
//!   expiry refuses it anyway.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use switchyard_model::share::{Previews, ShareInfo};
use switchyard_model::{AppState, PreviewAccess};

use super::{App, Result, Store, StoreError, bump_revision, now};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS shares (
    id         TEXT PRIMARY KEY,
    app_id     INTEGER NOT NULL REFERENCES apps (id),
    scope      TEXT NOT NULL,
    expires    INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS shares_by_app ON shares (app_id, created_at);
CREATE TABLE IF NOT EXISTS public_channels (
    app_id  INTEGER NOT NULL REFERENCES apps (id),
    channel TEXT NOT NULL,
    PRIMARY KEY (app_id, channel)
);
CREATE TABLE IF NOT EXISTS preview_access (
    one       INTEGER PRIMARY KEY CHECK (one = 1),
    published TEXT NOT NULL
);
"#;

/// What `preview_access.published` holds when every host is public.
const PUBLIC: &str = "public";

/// What a share link opens: a channel or one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareScope {
    Channel(String),
    Version(u64),
}

impl ShareScope {
    /// The scope string of the token and the listing: `preview`, `v3`.
    pub fn label(&self) -> String {
        match self {
            ShareScope::Channel(c) => c.clone(),
            ShareScope::Version(n) => switchyard_model::version_label(*n),
        }
    }
}

/// A share link to record.
pub struct NewShare<'a> {
    pub id: &'a str,
    pub scope: ShareScope,
    /// Unix seconds.
    pub expires: u64,
    pub actor: &'a str,
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// RFC 3339 of Unix seconds `t`.
pub(crate) fn rfc3339(t: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t)).to_string()
}

fn share_from_row(r: &rusqlite::Row<'_>, now: u64) -> rusqlite::Result<ShareInfo> {
    let expires: u64 = r.get(2)?;
    let revoked_at: Option<String> = r.get(5)?;
    let state = match (&revoked_at, expires <= now) {
        (Some(_), _) => "revoked",
        (None, true) => "expired",
        (None, false) => "active",
    };
    Ok(ShareInfo {
        id: r.get(0)?,
        scope: r.get(1)?,
        expires_at: rfc3339(expires),
        created_at: r.get(3)?,
        created_by: r.get(4)?,
        revoked_at,
        state: state.to_owned(),
    })
}

const SHARE_COLUMNS: &str = "id, scope, expires, created_at, created_by, revoked_at FROM shares";

impl Store {
    /// Sets what the snapshot publishes about previews: `Some(key)` (the Ed25519 verification
    /// key, base64url) makes preview and version hosts private; `None` makes every host
    /// public. If that differs from what was published before, bumps the revision so that
    /// edges learn it (a first start publishes nothing before, so it bumps nothing).
    pub fn set_preview_access(&mut self, key: Option<String>) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let wanted = key.as_deref().unwrap_or(PUBLIC);
        // Before this table existed, snapshots carried no key: every host was public.
        let before: String = tx
            .query_row("SELECT published FROM preview_access WHERE one = 1", [], |r| r.get(0))
            .optional()?
            .unwrap_or_else(|| PUBLIC.to_owned());
        let revision: u64 = tx.query_row("SELECT value FROM meta WHERE key = 'revision'", [], |r| r.get(0))?;
        if before != wanted && revision > 0 {
            bump_revision(&tx)?;
        }
        tx.execute(
            "INSERT INTO preview_access (one, published) VALUES (1, ?1)
             ON CONFLICT (one) DO UPDATE SET published = excluded.published",
            [wanted],
        )?;
        tx.commit()?;
        self.preview_key = key;
        Ok(())
    }

    /// Records a share link for `app`; its channel or version must exist. Edges verify links
    /// by signature, so this does not bump the revision.
    pub fn create_share(&mut self, app: &App, s: NewShare<'_>) -> Result<ShareInfo> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = match &s.scope {
            ShareScope::Channel(c) => tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM channels WHERE app_id = ?1 AND name = ?2)",
                params![app.id, c],
                |r| r.get(0),
            )?,
            ShareScope::Version(n) => tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM versions WHERE app_id = ?1 AND number = ?2)",
                params![app.id, n],
                |r| r.get(0),
            )?,
        };
        if !exists {
            return Err(StoreError::NotFound(match &s.scope {
                ShareScope::Channel(c) => format!("app {:?} has no channel {c:?}", app.name),
                ShareScope::Version(n) => format!("app {:?} has no version v{n}", app.name),
            }));
        }
        tx.execute(
            "INSERT INTO shares (id, app_id, scope, expires, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![s.id, app.id, s.scope.label(), s.expires, now(), s.actor],
        )?;
        let info =
            tx.query_row(&format!("SELECT {SHARE_COLUMNS} WHERE id = ?1"), [s.id], |r| share_from_row(r, unix_now()))?;
        tx.commit()?;
        Ok(info)
    }

    /// The app's public channels and share links, newest first.
    pub fn previews(&self, app: &App) -> Result<Previews> {
        let now = unix_now();
        let mut stmt =
            self.conn.prepare(&format!("SELECT {SHARE_COLUMNS} WHERE app_id = ?1 ORDER BY created_at DESC, id"))?;
        let shares = stmt.query_map([app.id], |r| share_from_row(r, now))?.collect::<Result<_, _>>()?;
        Ok(Previews { app: app.name.clone(), public: self.public_channels(app)?, shares })
    }

    /// The channels of `app` made public, by name.
    fn public_channels(&self, app: &App) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("SELECT channel FROM public_channels WHERE app_id = ?1 ORDER BY channel")?;
        let public = stmt.query_map([app.id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(public)
    }

    /// The channels of `app` that anyone may open (besides `live`, always public), or `None`
    /// when every host is public (the operator's `public_previews`): what tells a deploy's
    /// answer which of its URLs need a share link.
    pub fn open_channels(&self, app: &App) -> Result<Option<Vec<String>>> {
        if self.preview_key.is_none() {
            return Ok(None);
        }
        self.public_channels(app).map(Some)
    }

    /// Revokes share link `id` of `app`. Bumps the revision when the link was still active
    /// (revoking it again, or revoking an expired one, changes nothing edges see).
    pub fn revoke_share(&mut self, app: &App, id: &str) -> Result<ShareInfo> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(u64, Option<String>)> = tx
            .query_row(
                "SELECT expires, revoked_at FROM shares WHERE id = ?1 AND app_id = ?2",
                params![id, app.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((expires, revoked_at)) = row else {
            return Err(StoreError::NotFound(format!("app {:?} has no share link {id:?}", app.name)));
        };
        let now = unix_now();
        if revoked_at.is_none() {
            tx.execute("UPDATE shares SET revoked_at = ?1 WHERE id = ?2", params![super::now(), id])?;
            if expires > now {
                bump_revision(&tx)?;
            }
        }
        let info = tx.query_row(&format!("SELECT {SHARE_COLUMNS} WHERE id = ?1"), [id], |r| share_from_row(r, now))?;
        tx.commit()?;
        Ok(info)
    }

    /// Makes `channel` of `app` public or private; the channel must exist. Bumps the revision
    /// when that changes anything.
    pub fn set_public(&mut self, app: &App, channel: &str, public: bool) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM channels WHERE app_id = ?1 AND name = ?2)",
            params![app.id, channel],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(StoreError::NotFound(format!("app {:?} has no channel {channel:?}", app.name)));
        }
        let changed = if public {
            tx.execute(
                "INSERT OR IGNORE INTO public_channels (app_id, channel) VALUES (?1, ?2)",
                params![app.id, channel],
            )?
        } else {
            tx.execute("DELETE FROM public_channels WHERE app_id = ?1 AND channel = ?2", params![app.id, channel])?
        };
        if changed > 0 {
            bump_revision(&tx)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Fills each app's public channels and returns the verification material for the snapshot,
/// read in the snapshot's transaction. `key` is `None` when every host is public.
pub(super) fn snapshot_parts(
    tx: &rusqlite::Connection,
    apps: &mut BTreeMap<String, AppState>,
    key: Option<&str>,
) -> Result<Option<PreviewAccess>> {
    let Some(key) = key else { return Ok(None) };
    let mut stmt = tx.prepare("SELECT a.name, p.channel FROM public_channels p JOIN apps a ON a.id = p.app_id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let app: String = r.get(0)?;
        if let Some(state) = apps.get_mut(&app) {
            state.public.insert(r.get(1)?);
        }
    }
    let mut stmt = tx.prepare("SELECT id FROM shares WHERE revoked_at IS NOT NULL AND expires > ?1 ORDER BY id")?;
    let revoked = stmt.query_map([unix_now()], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(Some(PreviewAccess { key: key.to_owned(), revoked }))
}

#[cfg(test)]
mod tests;
