//! Per-version statistics in the metadata store: what edges report (`POST /v1/edge/stats`)
//! summed per app, version and UTC hour, and what `GET /v1/apps/{app}/stats` reads back.
//!
//! Invariants:
//! - A report is applied at most once: `(edge, seq)` is checked and recorded in the same
//!   transaction as the counts, so a report resent after a lost answer adds nothing.
//! - Counts only add; visitor sketches merge by register max (the union of visitors);
//!   revenue is integer hundredths per currency, never a float: every sum (per hour in SQL,
//!   over hours in Rust) saturates at [`SUM_CAP`], so no integer overflow can make SQLite
//!   store a float or fail a `SUM`.
//! - Unique visitors are reported as at most the page views: the visitor hash is public, so
//!   crafted `sy_id` cookies could raise the sketch's estimate without bound.
//! - Counts for apps or versions that do not exist (deleted, or a stale edge) are dropped.
//! - Statistics never change what edges see: no revision bump.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use switchyard_model::stats::{
    AppStats, HOUR, LivePeriod, SUM_CAP, Sketch, StatsReport, VISITORS_METHOD, VersionStats, format_minor_units,
};
use switchyard_model::{LIVE, SplitShare};

use super::{App, Result, Store, splits};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS stats (
    app_id      INTEGER NOT NULL REFERENCES apps (id),
    version     INTEGER NOT NULL,
    hour        INTEGER NOT NULL,
    page_views  INTEGER NOT NULL DEFAULT 0,
    conversions INTEGER NOT NULL DEFAULT 0,
    visitors    BLOB,
    PRIMARY KEY (app_id, version, hour)
);
CREATE TABLE IF NOT EXISTS stats_revenue (
    app_id   INTEGER NOT NULL REFERENCES apps (id),
    version  INTEGER NOT NULL,
    hour     INTEGER NOT NULL,
    currency TEXT NOT NULL,
    minor    INTEGER NOT NULL,
    PRIMARY KEY (app_id, version, hour, currency)
);
CREATE TABLE IF NOT EXISTS stats_reports (
    edge TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL,
    at   INTEGER NOT NULL
);
"#;

/// How long an edge process's last report number is remembered (a process silent that long
/// is gone; its id is never reused).
const REMEMBER_REPORTS: Duration = Duration::from_secs(7 * 24 * 3600);

/// What applying a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Applied: this many entries counted (others named unknown apps or versions).
    Counted(usize),
    /// Its `seq` was applied before; nothing changed.
    Duplicate,
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

impl Store {
    /// Adds a checked report's counts (see `api::stats` for the checks).
    pub fn apply_stats(&mut self, report: &StatsReport) -> Result<Applied> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last: Option<u64> =
            tx.query_row("SELECT seq FROM stats_reports WHERE edge = ?1", [&report.edge], |r| r.get(0)).optional()?;
        if last.is_some_and(|last| report.seq <= last) {
            return Ok(Applied::Duplicate);
        }
        let now = unix_now();
        tx.execute(
            "INSERT INTO stats_reports (edge, seq, at) VALUES (?1, ?2, ?3)
             ON CONFLICT (edge) DO UPDATE SET seq = excluded.seq, at = excluded.at",
            params![report.edge, report.seq, now],
        )?;
        tx.execute("DELETE FROM stats_reports WHERE at < ?1", [now.saturating_sub(REMEMBER_REPORTS.as_secs())])?;
        let mut counted = 0;
        for e in &report.entries {
            let app_id: Option<i64> = tx
                .query_row(
                    "SELECT a.id FROM apps a JOIN versions v ON v.app_id = a.id WHERE a.name = ?1 AND v.number = ?2",
                    params![e.app, e.version],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(app_id) = app_id else { continue };
            let key = params![app_id, e.version, e.hour];
            let existing: Option<Option<Vec<u8>>> = tx
                .query_row("SELECT visitors FROM stats WHERE app_id = ?1 AND version = ?2 AND hour = ?3", key, |r| {
                    r.get(0)
                })
                .optional()?;
            let mut visitors = existing.flatten().and_then(|b| Sketch::from_registers(&b).ok());
            if let Some(hex) = &e.visitors {
                // Checked by the API before the transaction.
                let Ok(incoming) = Sketch::from_hex(hex) else { continue };
                match &mut visitors {
                    Some(v) => v.merge(&incoming),
                    None => visitors = Some(incoming),
                }
            }
            let blob = visitors.as_ref().map(|v| v.registers().to_vec());
            // Sums saturate at SUM_CAP: an integer `+` that overflows in SQLite gives a float,
            // and `MIN` of that and the cap is the (integer) cap. Counts arrive checked to be
            // at most the cap too (`api::stats::validate`).
            tx.execute(
                "INSERT INTO stats (app_id, version, hour, page_views, conversions, visitors)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (app_id, version, hour) DO UPDATE SET
                   page_views = MIN(page_views + excluded.page_views, ?7),
                   conversions = MIN(conversions + excluded.conversions, ?7),
                   visitors = excluded.visitors",
                params![app_id, e.version, e.hour, e.page_views, e.conversions, blob, SUM_CAP],
            )?;
            for (currency, minor) in &e.revenue {
                tx.execute(
                    "INSERT INTO stats_revenue (app_id, version, hour, currency, minor) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (app_id, version, hour, currency) DO UPDATE SET
                       minor = MIN(minor + excluded.minor, ?6)",
                    params![app_id, e.version, e.hour, currency, minor, SUM_CAP],
                )?;
            }
            counted += 1;
        }
        tx.commit()?;
        Ok(Applied::Counted(counted))
    }

    /// `app`'s figures per version from the UTC hour holding `since` (Unix seconds) on: every
    /// version with counts in that period or live during it, newest first.
    pub fn app_stats(&self, app: &App, since: u64) -> Result<AppStats> {
        let from_hour = since - since % HOUR;
        #[derive(Default)]
        struct Acc {
            page_views: u64,
            conversions: u64,
            visitors: Option<Sketch>,
            revenue: BTreeMap<String, i64>,
        }
        let mut per: BTreeMap<u64, Acc> = BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT version, page_views, conversions, visitors FROM stats WHERE app_id = ?1 AND hour >= ?2")?;
        let rows = stmt.query_map(params![app.id, from_hour], |r| {
            Ok((r.get::<_, u64>(0)?, r.get::<_, u64>(1)?, r.get::<_, u64>(2)?, r.get::<_, Option<Vec<u8>>>(3)?))
        })?;
        for row in rows {
            let (version, page_views, conversions, blob) = row?;
            let acc = per.entry(version).or_default();
            acc.page_views = acc.page_views.saturating_add(page_views);
            acc.conversions = acc.conversions.saturating_add(conversions);
            if let Some(sketch) = blob.and_then(|b| Sketch::from_registers(&b).ok()) {
                match &mut acc.visitors {
                    Some(v) => v.merge(&sketch),
                    None => acc.visitors = Some(sketch),
                }
            }
        }
        // Summed here, saturating: SQLite's `SUM` fails on an integer overflow.
        let mut stmt =
            self.conn.prepare("SELECT version, currency, minor FROM stats_revenue WHERE app_id = ?1 AND hour >= ?2")?;
        let rows = stmt.query_map(params![app.id, from_hour], |r| {
            Ok((r.get::<_, u64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
        })?;
        for row in rows {
            let (version, currency, minor) = row?;
            let sum = per.entry(version).or_default().revenue.entry(currency).or_default();
            *sum = sum.saturating_add(minor).min(SUM_CAP);
        }
        let live = self.live_periods(app, since)?;
        for version in live.keys() {
            per.entry(*version).or_default();
        }
        let versions = per
            .into_iter()
            .rev()
            .map(|(number, acc)| {
                // Never more visitors than page views: crafted ids can inflate the estimate.
                let unique_visitors = acc.visitors.as_ref().map_or(0, Sketch::estimate).min(acc.page_views);
                VersionStats {
                    version: switchyard_model::version_label(number),
                    number,
                    page_views: acc.page_views,
                    unique_visitors,
                    conversions: acc.conversions,
                    conversion_rate: (unique_visitors > 0).then(|| acc.conversions as f64 / unique_visitors as f64),
                    revenue: acc.revenue.into_iter().map(|(c, m)| (c, format_minor_units(m))).collect(),
                    live: live.get(&number).cloned().unwrap_or_default(),
                }
            })
            .collect();
        Ok(AppStats {
            app: app.name.clone(),
            since,
            visitors_method: format!("{VISITORS_METHOD}: distinct sy_id cookies among page views"),
            conversion_rate_method: "conversions ÷ unique visitors".to_owned(),
            versions,
        })
    }

    /// When each version served the `live` channel, for the periods that end after `since`:
    /// all of it from a pointer move (every move counts, rollbacks included) to the next move
    /// or split, and its weight (share of visitors) from a split's start to the next move or
    /// split (a move of `live` ends a split, a new split replaces it). The two histories are
    /// ordered by the revision each step made, exact where their timestamps (seconds) tie.
    fn live_periods(&self, app: &App, since: u64) -> Result<BTreeMap<u64, Vec<LivePeriod>>> {
        enum Served {
            All(u64),
            Shared(Vec<SplitShare>),
        }
        let mut steps: Vec<(u64, String, Served)> = Vec::new();
        let mut stmt = self
            .conn
            .prepare("SELECT revision, at, to_version FROM releases WHERE app_id = ?1 AND channel = ?2 ORDER BY id")?;
        let moves = stmt.query_map(params![app.id, LIVE], |r| Ok((r.get(0)?, r.get(1)?, Served::All(r.get(2)?))))?;
        for step in moves {
            steps.push(step?);
        }
        let mut stmt =
            self.conn.prepare("SELECT revision, started_at, weights FROM splits WHERE app_id = ?1 ORDER BY id")?;
        let splits = stmt.query_map([app.id], |r| {
            Ok((r.get(0)?, r.get(1)?, Served::Shared(splits::shares_from(&r.get::<_, String>(2)?)?)))
        })?;
        for step in splits {
            steps.push(step?);
        }
        steps.sort_by_key(|(revision, ..)| *revision);

        let mut out: BTreeMap<u64, Vec<LivePeriod>> = BTreeMap::new();
        for (i, (_, at, served)) in steps.iter().enumerate() {
            let until = steps.get(i + 1).map(|(_, at, _)| at.clone());
            let ended = until
                .as_deref()
                .and_then(|u| humantime::parse_rfc3339(u).ok())
                .map(|t| t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs());
            if ended.is_some_and(|end| end < since) {
                continue;
            }
            let period = |share| LivePeriod { from: at.clone(), until: until.clone(), share };
            match served {
                Served::All(version) => out.entry(*version).or_default().push(period(None)),
                Served::Shared(shares) => {
                    for s in shares {
                        out.entry(s.version).or_default().push(period(Some(s.weight)));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Totals for the control plane's `/metrics`: versions created, and pointer moves by kind.
    pub fn metric_totals(&self) -> Result<MetricTotals> {
        let deploys = self.conn.query_row("SELECT COUNT(*) FROM versions", [], |r| r.get(0))?;
        let mut moves = BTreeMap::new();
        let mut stmt = self.conn.prepare("SELECT kind, COUNT(*) FROM releases GROUP BY kind")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))? {
            let (kind, n) = row?;
            moves.insert(kind, n);
        }
        Ok(MetricTotals { deploys, moves })
    }
}

/// What the control plane's `/metrics` reads from the store.
#[derive(Debug, Clone, Default)]
pub struct MetricTotals {
    /// Versions ever created.
    pub deploys: u64,
    /// Release kind (`deploy`, `promote`, `rollback`) → pointer moves of that kind.
    pub moves: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests;
