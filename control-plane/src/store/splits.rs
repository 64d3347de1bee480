//! Traffic splits of the live channel and the skew-protection retention edges get in the
//! snapshot (`AppState.split`, `AppState.recent`).
//!
//! Invariants:
//! - An app has at most one split in force: the `splits` row without `ended_unix`. Setting a
//!   split ends the one in force and starts the new one in the same transaction; any move of
//!   the `live` pointer (promote, rollback, deploy with `--promote`) ends it in the move's
//!   transaction. Rows are never deleted: they are the history of who got which share when.
//! - Setting a split bumps the revision once; ending one rides on the move's bump.
//! - `recent` never holds a channel's current version (nor, for `live`, a version of the split
//!   in force), holds each version once (with its latest `until`), and only versions that left
//!   the channel (or an ended split) within the skew window of the snapshot's build time.
//!   Edges compare `until` with their own clock per request, because the snapshot is rebuilt
//!   only when the revision moves.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use switchyard_model::api::{SplitInfo, SplitState, SplitWeight};
use switchyard_model::{AppState, LIVE, Retained, SplitShare, version_label};

use super::{App, Result, Store, bump_revision, now};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS splits (
    id          INTEGER PRIMARY KEY,
    app_id      INTEGER NOT NULL REFERENCES apps (id),
    weights     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    ended_unix  INTEGER,
    revision    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS splits_by_app ON splits (app_id, id);
"#;

/// How long a version that left a channel keeps serving assets to its visitors by default.
pub const DEFAULT_SKEW_WINDOW: Duration = Duration::from_secs(12 * 3600);

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn shares_json(shares: &[SplitShare]) -> String {
    serde_json::to_string(shares).expect("shares serialize")
}

pub(super) fn shares_from(text: &str) -> rusqlite::Result<Vec<SplitShare>> {
    serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

/// The API's view of stored shares: `v12` labels.
pub fn weights_of(shares: &[SplitShare]) -> Vec<SplitWeight> {
    shares.iter().map(|s| SplitWeight { version: version_label(s.version), weight: i64::from(s.weight) }).collect()
}

fn split_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SplitInfo> {
    let weights: String = r.get(0)?;
    Ok(SplitInfo {
        weights: weights_of(&shares_from(&weights)?),
        actor: r.get(1)?,
        started_at: r.get(2)?,
        ended_at: r.get(3)?,
        revision: r.get(4)?,
    })
}

const SPLIT_COLUMNS: &str = "weights, actor, started_at, ended_at, revision FROM splits";

/// Why a split was refused, beyond the shape checks the API makes first.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    UnknownVersion(u64),
    NoLive,
}

impl Store {
    /// How long versions that left a channel stay in the snapshot's `recent` (default 12 h).
    pub fn set_skew_window(&mut self, window: Duration) {
        self.skew_window = window;
    }

    /// Starts `shares` (already checked for shape: 2 to 4 distinct versions, weights 1..=99
    /// summing to 100) as `app`'s live split, ending the one in force. Every version must
    /// exist and the app must have a live channel; otherwise nothing changes.
    pub fn set_split(
        &mut self,
        app: &App,
        shares: &[SplitShare],
        actor: &str,
    ) -> Result<std::result::Result<SplitInfo, Refused>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for share in shares {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM versions WHERE app_id = ?1 AND number = ?2)",
                params![app.id, share.version],
                |r| r.get(0),
            )?;
            if !exists {
                return Ok(Err(Refused::UnknownVersion(share.version)));
            }
        }
        let live: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM channels WHERE app_id = ?1 AND name = ?2)",
            params![app.id, LIVE],
            |r| r.get(0),
        )?;
        if !live {
            return Ok(Err(Refused::NoLive));
        }
        let at = now();
        end(&tx, app.id, &at)?;
        let revision = bump_revision(&tx)?;
        tx.execute(
            "INSERT INTO splits (app_id, weights, actor, started_at, revision) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![app.id, shares_json(shares), actor, at, revision],
        )?;
        tx.commit()?;
        Ok(Ok(SplitInfo {
            weights: weights_of(shares),
            started_at: at,
            ended_at: None,
            actor: actor.to_owned(),
            revision,
        }))
    }

    /// The split in force for the app with id `app_id`, if any.
    pub fn current_split(&self, app_id: i64) -> Result<Option<SplitInfo>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {SPLIT_COLUMNS} WHERE app_id = ?1 AND ended_unix IS NULL"),
                [app_id],
                split_from_row,
            )
            .optional()?)
    }

    /// The split in force and every split `app` had, oldest first.
    pub fn split_state(&self, app: &App) -> Result<SplitState> {
        let mut stmt = self.conn.prepare(&format!("SELECT {SPLIT_COLUMNS} WHERE app_id = ?1 ORDER BY id"))?;
        let history = stmt.query_map([app.id], split_from_row)?.collect::<Result<Vec<_>, _>>()?;
        let split = history.iter().rev().find(|s| s.ended_at.is_none()).cloned();
        Ok(SplitState { app: app.name.clone(), split, history })
    }
}

/// Ends the split in force of app `app_id` at `at` (RFC 3339), inside the caller's
/// transaction. Returns its shares if one was on.
pub(super) fn end(tx: &rusqlite::Transaction<'_>, app_id: i64, at: &str) -> Result<Option<Vec<SplitShare>>> {
    let current: Option<(i64, String)> = tx
        .query_row("SELECT id, weights FROM splits WHERE app_id = ?1 AND ended_unix IS NULL", [app_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((id, weights)) = current else { return Ok(None) };
    let ended = humantime::parse_rfc3339(at).map_or_else(|_| unix(SystemTime::now()), unix);
    tx.execute("UPDATE splits SET ended_at = ?1, ended_unix = ?2 WHERE id = ?3", params![at, ended, id])?;
    Ok(Some(shares_from(&weights)?))
}

/// Called for every pointer move: a move of `live` ends the app's split.
pub(super) fn on_move(
    tx: &rusqlite::Transaction<'_>,
    app_id: i64,
    channel: &str,
    at: &str,
) -> Result<Option<Vec<SplitShare>>> {
    if channel != LIVE {
        return Ok(None);
    }
    end(tx, app_id, at)
}

/// One way a version left a channel: a pointer move away from it, or the end of a split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Departure {
    pub(super) app: String,
    pub(super) channel: String,
    pub(super) version: u64,
    /// Unix seconds.
    pub(super) at: u64,
}

/// Fills `split` and `recent` of every app in `apps` (whose `channels` are already read), as
/// of `now`, with `window` of skew protection.
pub(super) fn fill_snapshot(
    tx: &rusqlite::Transaction<'_>,
    apps: &mut BTreeMap<String, AppState>,
    window: Duration,
    now: SystemTime,
) -> Result<()> {
    let mut stmt =
        tx.prepare("SELECT a.name, s.weights FROM splits s JOIN apps a ON a.id = s.app_id WHERE s.ended_unix IS NULL")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let weights: String = r.get(1)?;
        let mut shares = shares_from(&weights)?;
        shares.sort_by_key(|s| s.version);
        apps.entry(r.get(0)?).or_default().split = shares;
    }
    let cutoff = now.checked_sub(window).unwrap_or(UNIX_EPOCH);
    let mut departures = Vec::new();
    let mut stmt = tx.prepare(
        "SELECT a.name, r.channel, r.from_version, r.at FROM releases r JOIN apps a ON a.id = r.app_id
         WHERE r.from_version IS NOT NULL AND r.from_version != r.to_version AND r.at >= ?1",
    )?;
    let mut rows = stmt.query([humantime::format_rfc3339_seconds(cutoff).to_string()])?;
    while let Some(r) = rows.next()? {
        let at: String = r.get(3)?;
        let Ok(at) = humantime::parse_rfc3339(&at) else { continue };
        departures.push(Departure { app: r.get(0)?, channel: r.get(1)?, version: r.get(2)?, at: unix(at) });
    }
    let mut stmt = tx.prepare(
        "SELECT a.name, s.weights, s.ended_unix FROM splits s JOIN apps a ON a.id = s.app_id
         WHERE s.ended_unix IS NOT NULL AND s.ended_unix >= ?1",
    )?;
    let mut rows = stmt.query([unix(cutoff)])?;
    while let Some(r) = rows.next()? {
        let app: String = r.get(0)?;
        let weights: String = r.get(1)?;
        let at: u64 = r.get(2)?;
        for share in shares_from(&weights)? {
            departures.push(Departure { app: app.clone(), channel: LIVE.to_owned(), version: share.version, at });
        }
    }
    recent(apps, &departures, window.as_secs(), unix(now));
    Ok(())
}

/// Sets `recent` of each app from `departures`: versions that left a channel less than
/// `window` seconds before `now`, retained until departure + window; never the channel's
/// current version nor a version of the live split in force; each version once, with its
/// latest `until`; sorted by version.
pub(super) fn recent(apps: &mut BTreeMap<String, AppState>, departures: &[Departure], window: u64, now: u64) {
    let mut found: BTreeMap<(&str, &str), BTreeMap<u64, u64>> = BTreeMap::new();
    for d in departures {
        let until = d.at.saturating_add(window);
        if until <= now {
            continue;
        }
        let Some(state) = apps.get(&d.app) else { continue };
        if state.channels.get(&d.channel) == Some(&d.version)
            || !state.versions.is_empty() && !state.versions.contains_key(&d.version)
        {
            continue;
        }
        if d.channel == LIVE && state.split.iter().any(|s| s.version == d.version) {
            continue;
        }
        let latest = found.entry((&d.app, &d.channel)).or_default().entry(d.version).or_insert(0);
        *latest = (*latest).max(until);
    }
    for ((app, channel), versions) in found {
        let retained = versions.into_iter().map(|(version, until)| Retained { version, until }).collect();
        if let Some(state) = apps.get_mut(app) {
            state.recent.insert(channel.to_owned(), retained);
        }
    }
}

/// Shape checks of a split request, before any version is looked up: 2 to 4 entries, labels
/// `v<N>`, no version twice, weights 1 to 99 summing to 100. The message names the culprit.
pub fn check_shape(weights: &[SplitWeight]) -> std::result::Result<Vec<SplitShare>, String> {
    if !(2..=4).contains(&weights.len()) {
        return Err(format!("a split needs 2 to 4 versions, got {}", weights.len()));
    }
    let mut seen = BTreeSet::new();
    let mut shares = Vec::with_capacity(weights.len());
    for w in weights {
        let version = switchyard_model::parse_version_label(&w.version)
            .ok_or_else(|| format!("version {:?}: expected v<N>, like v3", w.version))?;
        if !seen.insert(version) {
            return Err(format!("version v{version} is listed twice"));
        }
        let weight = u8::try_from(w.weight)
            .ok()
            .filter(|w| (1..=99).contains(w))
            .ok_or_else(|| format!("weight {} of v{version}: each weight must be 1 to 99 (percent)", w.weight))?;
        shares.push(SplitShare { version, weight });
    }
    let sum: u32 = shares.iter().map(|s| u32::from(s.weight)).sum();
    if sum != 100 {
        return Err(format!("weights sum to {sum}; they must sum to 100"));
    }
    Ok(shares)
}

impl From<Refused> for String {
    fn from(r: Refused) -> String {
        match r {
            Refused::UnknownVersion(v) => format!("version v{v} does not exist in this app"),
            Refused::NoLive => "the app has no live channel yet; promote a version first".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests;
