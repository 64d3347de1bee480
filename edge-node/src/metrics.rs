//! Per-version counters at the edge: what Prometheus scrapes (`GET /metrics` on the admin
//! port) and what the edge reports to the control plane (page views, unique visitors,
//! conversions, revenue; see `report`).
//!
//! Architecture Invariants:
//! - Counting never blocks a request: every count is a relaxed atomic add (or `fetch_max` for
//!   a visitor-sketch register) on a [`VersionStats`] that the request reaches through its
//!   `Site` (prebuilt at `Routes::build`): no lock, no allocation, no label hashing per request.
//!   Only conversion events (a rate-limited slow path, not requests) take a lock: the
//!   version's small revenue table.
//! - A conversion is always counted. Revenue is counted in at most [`CURRENCY_SLOTS`]
//!   currencies per version per report: past that, the event's revenue (only) is dropped and
//!   the event counted as `revenue_dropped`. Each report takes and empties the table, so
//!   currencies claimed by junk events block nothing beyond one report window.
//! - A version's counters outlive routing-table swaps: [`Metrics`] hands the same
//!   `Arc<VersionStats>` to every build that holds the version, and forgets it only once no
//!   routes hold it and its deltas were taken for a report.
//! - Prometheus counters only grow; report counters are *taken* (swapped to zero) by the
//!   reporter, so each count is reported once.
//!
//! The latency histogram is our own fixed-bucket one (an atomic add per bucket): the
//! `prometheus-client` crate's `Histogram` takes a mutex per observation, which the request
//! path must not. The text format is small enough to write here.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use http::{Response, StatusCode};
use switchyard_model::stats::{Delta, Sketch, register_of, visitor_hash};
use switchyard_model::tagging::VisitorId;

use crate::serve::Body;

/// Upper bounds of the latency buckets, in nanoseconds (Prometheus `le` in seconds).
const LATENCY_BOUNDS_NS: [u64; 12] = [
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    1_000_000_000,
];
/// Distinct currencies one version may count revenue in between two reports.
pub(crate) const CURRENCY_SLOTS: usize = 16;

const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/// Where a response's body came from: memory, disk, or no body at all (HEAD, 304, redirects).
const CACHE: [&str; 3] = ["hit", "miss", "none"];

/// What became of one `POST /__switchyard/events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Counted, with its revenue if it had any.
    Accepted = 0,
    Invalid = 1,
    TooLarge = 2,
    RateLimited = 3,
    /// Counted as a conversion, but its revenue was not: the version already counts
    /// [`CURRENCY_SLOTS`] other currencies in this report window.
    RevenueDropped = 4,
}

const OUTCOMES: [&str; 5] = ["accepted", "invalid", "too_large", "rate_limited", "revenue_dropped"];

/// Every version's counters, by (app, version), kept across routing-table swaps.
#[derive(Default)]
pub struct Metrics {
    versions: Mutex<HashMap<(String, u64), Arc<VersionStats>>>,
}

/// One version's counters.
pub struct VersionStats {
    pub app: String,
    pub version: u64,
    /// `app="cart",version="v3"`, for the text format.
    labels: String,
    requests: [[AtomicU64; 3]; 5],
    bytes: AtomicU64,
    latency: [AtomicU64; LATENCY_BOUNDS_NS.len() + 1],
    latency_sum_ns: AtomicU64,
    events: [AtomicU64; OUTCOMES.len()],
    // Taken by each report:
    page_views: AtomicU64,
    conversions: AtomicU64,
    /// Currency → revenue in hundredths since the last report, at most [`CURRENCY_SLOTS`]
    /// currencies. Events only: never locked by a request.
    revenue: Mutex<Vec<([u8; 3], i64)>>,
    visitors: Box<[AtomicU8]>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// The counters of `app` `version`: the ones earlier routes used, or new ones.
    pub fn version(&self, app: &str, version: u64) -> Arc<VersionStats> {
        let mut versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        versions.entry((app.to_owned(), version)).or_insert_with(|| Arc::new(VersionStats::new(app, version))).clone()
    }

    fn all(&self) -> Vec<Arc<VersionStats>> {
        let versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<_> = versions.values().cloned().collect();
        all.sort_by(|a, b| (&a.app, a.version).cmp(&(&b.app, b.version)));
        all
    }

    /// Takes every version's report counters (page views, visitors, conversions, revenue)
    /// into `hour`'s deltas, then forgets versions no routes hold any more.
    pub(crate) fn take(&self, hour: u64) -> switchyard_model::stats::Deltas {
        let mut deltas = switchyard_model::stats::Deltas::default();
        for v in self.all() {
            deltas.add(&v.app, v.version, hour, v.take());
        }
        let mut versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        versions.retain(|_, v| {
            if Arc::strong_count(v) > 1 {
                return true;
            }
            // Only the registry holds it: no routes serve it and no request can count on it
            // any more. What was counted since the take above goes in this report too.
            deltas.add(&v.app, v.version, hour, v.take());
            false
        });
        deltas
    }

    /// The Prometheus text format (version 0.0.4) of every counter, plus the applied revision.
    pub fn encode(&self, revision: u64) -> String {
        let all = self.all();
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP switchyard_edge_revision Revision of the snapshot this edge serves.\n");
        out.push_str("# TYPE switchyard_edge_revision gauge\n");
        let _ = writeln!(out, "switchyard_edge_revision {revision}");

        out.push_str(
            "# HELP switchyard_edge_requests_total Requests answered by a version, by status class and body source \
             (hit: memory, miss: disk, none: no body).\n",
        );
        out.push_str("# TYPE switchyard_edge_requests_total counter\n");
        for v in &all {
            for (class, row) in STATUS_CLASSES.iter().zip(&v.requests) {
                for (cache, n) in CACHE.iter().zip(row) {
                    let n = n.load(Relaxed);
                    if n > 0 {
                        let _ = writeln!(
                            out,
                            "switchyard_edge_requests_total{{{},status=\"{class}\",cache=\"{cache}\"}} {n}",
                            v.labels
                        );
                    }
                }
            }
        }
        out.push_str("# HELP switchyard_edge_response_bytes_total Response body bytes sent by a version.\n");
        out.push_str("# TYPE switchyard_edge_response_bytes_total counter\n");
        for v in &all {
            let _ = writeln!(out, "switchyard_edge_response_bytes_total{{{}}} {}", v.labels, v.bytes.load(Relaxed));
        }
        out.push_str(
            "# HELP switchyard_edge_request_duration_seconds Time from a request's arrival to its response headers.\n",
        );
        out.push_str("# TYPE switchyard_edge_request_duration_seconds histogram\n");
        for v in &all {
            let mut cumulative = 0;
            for (i, n) in v.latency.iter().enumerate() {
                cumulative += n.load(Relaxed);
                let le = match LATENCY_BOUNDS_NS.get(i) {
                    Some(ns) => format!("{}", *ns as f64 / 1e9),
                    None => "+Inf".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "switchyard_edge_request_duration_seconds_bucket{{{},le=\"{le}\"}} {cumulative}",
                    v.labels
                );
            }
            let sum = v.latency_sum_ns.load(Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "switchyard_edge_request_duration_seconds_sum{{{}}} {sum}", v.labels);
            let _ = writeln!(out, "switchyard_edge_request_duration_seconds_count{{{}}} {cumulative}", v.labels);
        }
        out.push_str(
            "# HELP switchyard_edge_events_total POST /__switchyard/events by the version it was attributed to and outcome \
             (revenue_dropped: counted as a conversion, its revenue not: too many currencies).\n",
        );
        out.push_str("# TYPE switchyard_edge_events_total counter\n");
        for v in &all {
            for (outcome, n) in OUTCOMES.iter().zip(&v.events) {
                let n = n.load(Relaxed);
                if n > 0 {
                    let _ = writeln!(out, "switchyard_edge_events_total{{{},outcome=\"{outcome}\"}} {n}", v.labels);
                }
            }
        }
        out
    }
}

impl VersionStats {
    fn new(app: &str, version: u64) -> VersionStats {
        VersionStats {
            app: app.to_owned(),
            version,
            // App names are DNS labels: nothing to escape.
            labels: format!("app=\"{app}\",version=\"v{version}\""),
            requests: Default::default(),
            bytes: AtomicU64::new(0),
            latency: Default::default(),
            latency_sum_ns: AtomicU64::new(0),
            events: Default::default(),
            page_views: AtomicU64::new(0),
            conversions: AtomicU64::new(0),
            revenue: Mutex::new(Vec::new()),
            visitors: (0..switchyard_model::stats::REGISTERS).map(|_| AtomicU8::new(0)).collect(),
        }
    }

    pub(crate) fn event(&self, outcome: Outcome) {
        self.events[outcome as usize].fetch_add(1, Relaxed);
    }

    /// Counts one accepted conversion, always, and its revenue of `minor` hundredths of
    /// `currency` (if any) unless this version already counts [`CURRENCY_SLOTS`] other
    /// currencies since the last report: then the revenue alone is dropped, the event counted
    /// as [`Outcome::RevenueDropped`], and `false` returned.
    pub(crate) fn conversion(&self, revenue: Option<([u8; 3], i64)>) -> bool {
        self.conversions.fetch_add(1, Relaxed);
        let counted = match revenue {
            None => true,
            Some((currency, minor)) => {
                let mut table = self.revenue.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((_, sum)) = table.iter_mut().find(|(c, _)| *c == currency) {
                    *sum = sum.saturating_add(minor);
                    true
                } else if table.len() < CURRENCY_SLOTS {
                    table.push((currency, minor));
                    true
                } else {
                    false
                }
            }
        };
        self.event(if counted { Outcome::Accepted } else { Outcome::RevenueDropped });
        counted
    }

    /// Swaps the report counters to zero and returns what they held.
    fn take(&self) -> Delta {
        let mut sketch: Option<Sketch> = None;
        for (i, r) in self.visitors.iter().enumerate() {
            if r.load(Relaxed) == 0 {
                continue;
            }
            let rank = r.swap(0, Relaxed);
            sketch.get_or_insert_with(Sketch::default).offer(i, rank);
        }
        // The table is emptied: its slots serve the next report window afresh.
        let table = std::mem::take(&mut *self.revenue.lock().unwrap_or_else(|p| p.into_inner()));
        let revenue = table
            .into_iter()
            .filter(|&(_, minor)| minor != 0)
            .map(|(currency, minor)| (String::from_utf8_lossy(&currency).into_owned(), minor))
            .collect();
        Delta {
            page_views: self.page_views.swap(0, Relaxed),
            conversions: self.conversions.swap(0, Relaxed),
            revenue,
            visitors: sketch,
        }
    }

    #[cfg(test)]
    pub(crate) fn requests(&self, class: usize, cache: usize) -> u64 {
        self.requests[class][cache].load(Relaxed)
    }
}

/// Counts one response of `stats`' version: status class, body source, bytes, time to
/// headers (since `started`), and with `page` (an HTML file answered to GET) and a 200 or 304,
/// a page view with the visitor in the version's sketch. A few relaxed atomic adds. `visitor`
/// is called for page views only.
#[inline]
pub fn record(
    stats: &VersionStats,
    page: bool,
    visitor: impl FnOnce() -> Option<VisitorId>,
    res: &Response<Body>,
    started: Instant,
) {
    let status = res.status();
    let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
    let (cache, bytes) = match res.body() {
        Body::Bytes(Some(b)) => (0, b.len() as u64),
        Body::Resident { resident: Some(_), len, .. } => (0, u64::from(*len)),
        Body::File { remaining, .. } => (1, *remaining),
        _ => (2, 0),
    };
    stats.requests[class][cache].fetch_add(1, Relaxed);
    if bytes > 0 {
        stats.bytes.fetch_add(bytes, Relaxed);
    }
    let ns = started.elapsed().as_nanos() as u64;
    let bucket = LATENCY_BOUNDS_NS.iter().position(|&b| ns <= b).unwrap_or(LATENCY_BOUNDS_NS.len());
    stats.latency[bucket].fetch_add(1, Relaxed);
    stats.latency_sum_ns.fetch_add(ns, Relaxed);
    if page && (status == StatusCode::OK || status == StatusCode::NOT_MODIFIED) {
        stats.page_views.fetch_add(1, Relaxed);
        if let Some(visitor) = visitor() {
            let (i, rank) = register_of(visitor_hash(visitor));
            // Most visits do not raise the register: a load first avoids a write.
            if stats.visitors[i].load(Relaxed) < rank {
                stats.visitors[i].fetch_max(rank, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests;
