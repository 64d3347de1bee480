//! The fleet table: what every edge last reported in its heartbeat, kept in memory (liveness
//! is only meaningful while this process runs; edges report again within
//! [`HEARTBEAT_EVERY`] of a restart), and the propagation wait fed by those reports.
//!
//! States, from the time since an edge's last heartbeat and its revision:
//! - *in sync*: seen within [`STALE_AFTER`], at the current revision, no app held back;
//! - *syncing*: seen within [`STALE_AFTER`], behind the current revision or an app held back;
//! - *stale*: not seen for [`STALE_AFTER`] (three missed heartbeats);
//! - *unreachable*: not seen for [`UNREACHABLE_AFTER`].
//!
//! Edges are keyed by the name they report; two edges reporting the same name are one row.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use switchyard_model::fleet::{EdgeInfo, EdgeProgress, EdgeState, Heartbeat, WaitResult};
use tokio::sync::watch;

/// How often an edge reports when nothing happens (the edge's own constant mirrors this).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// No heartbeat for this long: stale, and no longer waited for.
pub const STALE_AFTER: Duration = Duration::from_secs(15);
/// No heartbeat for this long: unreachable.
pub const UNREACHABLE_AFTER: Duration = Duration::from_secs(60);
/// Most edges the table keeps; reports from new names beyond it are refused.
pub const MAX_EDGES: usize = 10_000;
/// Revisions remembered per edge (and published) to time propagation.
const HISTORY: usize = 256;

pub struct Fleet {
    inner: Mutex<Inner>,
    /// Bumped on every report, so waits re-check at once.
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct Inner {
    edges: BTreeMap<String, Entry>,
    /// When each recent revision was published.
    published: VecDeque<(u64, Instant)>,
}

struct Entry {
    report: Heartbeat,
    last_seen: Instant,
    last_seen_wall: SystemTime,
    /// When this edge first reported each revision it moved to.
    reached: VecDeque<(u64, Instant)>,
}

#[derive(Debug, thiserror::Error)]
#[error("the fleet table is full ({MAX_EDGES} edges)")]
pub struct Full;

impl Default for Fleet {
    fn default() -> Self {
        Fleet { inner: Mutex::new(Inner::default()), changed: watch::channel(0).0 }
    }
}

impl Fleet {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Notes when `revision` was published, to time how long edges take to reach it.
    pub fn published(&self, revision: u64) {
        let mut inner = self.lock();
        inner.published.push_back((revision, Instant::now()));
        if inner.published.len() > HISTORY {
            inner.published.pop_front();
        }
    }

    /// Records a heartbeat (already validated).
    pub fn report(&self, report: Heartbeat) -> Result<(), Full> {
        self.report_at(report, Instant::now(), SystemTime::now())
    }

    fn report_at(&self, report: Heartbeat, now: Instant, wall: SystemTime) -> Result<(), Full> {
        {
            let mut inner = self.lock();
            if !inner.edges.contains_key(&report.name) && inner.edges.len() >= MAX_EDGES {
                return Err(Full);
            }
            let entry = inner.edges.entry(report.name.clone()).or_insert_with(|| Entry {
                report: Heartbeat::default(),
                last_seen: now,
                last_seen_wall: wall,
                reached: VecDeque::new(),
            });
            if entry.reached.back().is_none_or(|&(r, _)| report.revision > r) {
                entry.reached.push_back((report.revision, now));
                if entry.reached.len() > HISTORY {
                    entry.reached.pop_front();
                }
            }
            entry.report = report;
            entry.last_seen = now;
            entry.last_seen_wall = wall;
        }
        self.changed.send_modify(|n| *n += 1);
        Ok(())
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Every edge as of `now`, against the control plane's `current` revision.
    pub fn list(&self, current: u64) -> Vec<EdgeInfo> {
        let now = Instant::now();
        let inner = self.lock();
        inner
            .edges
            .values()
            .map(|e| {
                let ago = now.saturating_duration_since(e.last_seen);
                EdgeInfo {
                    name: e.report.name.clone(),
                    region: e.report.region.clone(),
                    revision: e.report.revision,
                    lag: current.saturating_sub(e.report.revision),
                    last_seen: humantime::format_rfc3339_millis(e.last_seen_wall).to_string(),
                    last_seen_ms_ago: ago.as_millis() as u64,
                    state: state(&e.report, ago, current),
                    error: e.report.error.clone(),
                    app_errors: e.report.app_errors.clone(),
                    versions: e.report.versions.clone(),
                }
            })
            .collect()
    }

    /// Where the fleet stands on reaching `revision` (for `app`, if given: an edge holding
    /// that app back has not reached it). `since` stands in for the publish time of a revision
    /// published before this process started.
    pub fn progress(&self, revision: u64, app: Option<&str>, since: Instant) -> WaitResult {
        self.progress_at(revision, app, since, Instant::now())
    }

    fn progress_at(&self, revision: u64, app: Option<&str>, since: Instant, now: Instant) -> WaitResult {
        let inner = self.lock();
        let published = inner.published.iter().find(|&&(r, _)| r >= revision).map_or(since, |&(_, at)| at);
        let mut result =
            WaitResult { revision, done: false, reached: Vec::new(), lagging: Vec::new(), unhealthy: Vec::new() };
        for e in inner.edges.values() {
            let held_back = app.and_then(|a| e.report.app_errors.get(a));
            let mut progress = EdgeProgress {
                name: e.report.name.clone(),
                region: e.report.region.clone(),
                revision: e.report.revision,
                took_ms: None,
                error: held_back.cloned().or_else(|| e.report.error.clone()),
            };
            let ago = now.saturating_duration_since(e.last_seen);
            if ago >= STALE_AFTER {
                result.unhealthy.push(progress);
            } else if e.report.revision >= revision && held_back.is_none() {
                let first = e.reached.iter().find(|&&(r, _)| r >= revision).map_or(e.last_seen, |&(_, at)| at);
                progress.took_ms = Some(first.saturating_duration_since(published).as_millis() as u64);
                result.reached.push(progress);
            } else {
                result.lagging.push(progress);
            }
        }
        result.done = result.lagging.is_empty();
        result
    }
}

fn state(report: &Heartbeat, ago: Duration, current: u64) -> EdgeState {
    if ago >= UNREACHABLE_AFTER {
        EdgeState::Unreachable
    } else if ago >= STALE_AFTER {
        EdgeState::Stale
    } else if report.revision >= current && report.app_errors.is_empty() {
        EdgeState::InSync
    } else {
        EdgeState::Syncing
    }
}

/// Checks a heartbeat from the network: names and regions are short printable text, and the
/// report stays small.
pub fn validate(report: &Heartbeat) -> Result<(), String> {
    let text = |what: &str, s: &str, max: usize| {
        if s.is_empty() || s.len() > max || s.chars().any(char::is_control) {
            Err(format!("{what}: 1 to {max} characters, no control characters"))
        } else {
            Ok(())
        }
    };
    text("name", &report.name, 100)?;
    text("region", &report.region, 100)?;
    if report.versions.len() > 10_000 || report.versions.values().map(Vec::len).sum::<usize>() > 100_000 {
        return Err("versions: too many entries".into());
    }
    for app in report.versions.keys().chain(report.app_errors.keys()) {
        text("app name", app, 100)?;
    }
    if report.app_errors.len() > 10_000 {
        return Err("app_errors: too many entries".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
