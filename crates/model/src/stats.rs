//! Per-version statistics: the unique-visitor sketch, the report an edge sends to the control
//! plane (`POST /v1/edge/stats`) and what `GET /v1/apps/{app}/stats` answers.
//!
//! - [`Sketch`]: a HyperLogLog sketch (Flajolet et al. 2007) of precision [`PRECISION`]
//!   (2¹¹ one-byte registers, 2 KiB). Its relative standard error is 1.04/√2048 ≈ 2.3 %;
//!   small counts use linear counting and are close to exact. Two sketches merge by register
//!   max, so edges' and reports' sketches add up to the sketch of the union of their visitors,
//!   never to a double count. The visitor hash is fixed (no seed): every edge must hash a
//!   visitor to the same register.
//! - Revenue is fixed-point: integer hundredths of the currency unit (`49.90 EUR` → 4990),
//!   summed as `i64`; never a float sum. One event carries at most [`MAX_EVENT_VALUE`]; sums
//!   (and counts) saturate at [`SUM_CAP`] rather than overflow (SQLite would turn an
//!   overflowing integer sum into a float).
//! - A report entry is a delta for one (app, version, UTC hour): counts since the previous
//!   report. The control plane adds counts and merges sketches; `(edge, seq)` makes a resent
//!   report idempotent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::tagging::VisitorId;

/// log₂ of the number of registers.
pub const PRECISION: u32 = 11;
/// Registers per sketch.
pub const REGISTERS: usize = 1 << PRECISION;
/// The largest register value: leading zeros of the remaining 53 bits, plus one.
const MAX_RANK: u8 = (64 - PRECISION + 1) as u8;
/// Relative standard error of an estimate, in percent, for the output of `stats`.
pub const SKETCH_ERROR_PERCENT: f64 = 2.3;
/// How the unique-visitor figure is computed, for the output of `stats`.
pub const VISITORS_METHOD: &str = "HyperLogLog, 2048 registers, ±2.3 % (1 standard error)";

/// Seconds in a reporting bucket.
pub const HOUR: u64 = 3600;

/// The 64-bit hash a visitor id is counted by: a fixed mix of its 128 bits (a forged,
/// low-entropy id still spreads over registers).
pub fn visitor_hash(visitor: VisitorId) -> u64 {
    let v = visitor.0;
    mix64((v as u64) ^ mix64((v >> 64) as u64 ^ 0x9e37_79b9_7f4a_7c15))
}

/// SplitMix64's finalizer.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The register a hash goes to and the value it offers there.
pub fn register_of(hash: u64) -> (usize, u8) {
    let index = (hash >> (64 - PRECISION)) as usize;
    let rest = hash << PRECISION;
    let rank = (rest.leading_zeros() + 1).min(u32::from(MAX_RANK)) as u8;
    (index, rank)
}

/// A HyperLogLog sketch of visitor ids.
#[derive(Clone, PartialEq, Eq)]
pub struct Sketch {
    registers: Box<[u8]>,
}

impl std::fmt::Debug for Sketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sketch(~{})", self.estimate())
    }
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch { registers: vec![0; REGISTERS].into_boxed_slice() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SketchError {
    #[error("a visitor sketch is {expected} bytes, not {got}")]
    Length { expected: usize, got: usize },
    #[error("a visitor sketch register holds at most {MAX_RANK}, not {0}")]
    Register(u8),
    #[error("a visitor sketch is hex: {0}")]
    Hex(String),
}

impl Sketch {
    /// A sketch from its registers (as [`Sketch::registers`] gives them), checked.
    pub fn from_registers(bytes: &[u8]) -> Result<Sketch, SketchError> {
        if bytes.len() != REGISTERS {
            return Err(SketchError::Length { expected: REGISTERS, got: bytes.len() });
        }
        if let Some(&bad) = bytes.iter().find(|&&r| r > MAX_RANK) {
            return Err(SketchError::Register(bad));
        }
        Ok(Sketch { registers: bytes.into() })
    }

    pub fn from_hex(s: &str) -> Result<Sketch, SketchError> {
        let bytes = hex::decode(s).map_err(|e| SketchError::Hex(e.to_string()))?;
        Sketch::from_registers(&bytes)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(&self.registers)
    }

    pub fn registers(&self) -> &[u8] {
        &self.registers
    }

    pub fn insert(&mut self, visitor: VisitorId) {
        self.insert_hash(visitor_hash(visitor));
    }

    pub fn insert_hash(&mut self, hash: u64) {
        let (i, rank) = register_of(hash);
        self.offer(i, rank);
    }

    /// Raises register `index` to `rank` if it is lower (what an atomic sketch's `fetch_max` does).
    pub fn offer(&mut self, index: usize, rank: u8) {
        let r = &mut self.registers[index];
        *r = (*r).max(rank.min(MAX_RANK));
    }

    /// The union: each register the max of both.
    pub fn merge(&mut self, other: &Sketch) {
        for (a, b) in self.registers.iter_mut().zip(other.registers.iter()) {
            *a = (*a).max(*b);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.registers.iter().all(|&r| r == 0)
    }

    /// Estimated number of distinct visitors inserted.
    pub fn estimate(&self) -> u64 {
        let m = REGISTERS as f64;
        let mut zeros = 0usize;
        let mut sum = 0.0f64;
        for &r in self.registers.iter() {
            if r == 0 {
                zeros += 1;
            }
            sum += 1.0 / (1u64 << r) as f64;
        }
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        // Linear counting while the raw estimate is small (HyperLogLog's small-range
        // correction); with a 64-bit hash no large-range correction is needed.
        let estimate = if raw <= 2.5 * m && zeros > 0 { m * (m / zeros as f64).ln() } else { raw };
        estimate.round() as u64
    }
}

/// Hundredths of a currency unit: `49.90` → 4990. `None` unless `value` is finite and in
/// `0..=MAX_EVENT_VALUE`.
pub fn to_minor_units(value: f64) -> Option<i64> {
    if !value.is_finite() || !(0.0..=MAX_EVENT_VALUE).contains(&value) {
        return None;
    }
    Some((value * 100.0).round() as i64)
}

/// The largest value one conversion may carry, in currency units (a sanity cap, not a
/// business rule): 10⁷, so 10⁹ hundredths; an `i64` sum of them needs billions of events to
/// come near its limit.
pub const MAX_EVENT_VALUE: f64 = 10_000_000.0;

/// Where stored sums and counts stop growing: 9·10¹⁸, below `i64::MAX` (SQLite's largest
/// integer), so a sum saturates here instead of overflowing.
pub const SUM_CAP: i64 = 9_000_000_000_000_000_000;

/// Whether `s` is a currency code as events carry it: three ASCII capital letters (ISO 4217
/// shape; the list of codes is not checked).
pub fn is_currency(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// Entries one report may carry: the control plane refuses a longer report (400), so the edge
/// never forms one (what is left waits for the next report). At about 4 KiB an entry with a
/// visitor sketch, a full report stays under the control plane's 64 MiB body limit.
pub const MAX_ENTRIES: usize = 10_000;

/// `POST /v1/edge/stats`: counts since the edge's previous accepted report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsReport {
    /// The reporting edge process (random per process start): with `seq`, makes a report
    /// idempotent. A report whose `seq` is not above the last one applied for `edge` is
    /// acknowledged and ignored.
    pub edge: String,
    pub seq: u64,
    pub entries: Vec<StatsEntry>,
}

/// Counts for one (app, version, hour).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsEntry {
    pub app: String,
    pub version: u64,
    /// Start of the UTC hour, in Unix seconds (a multiple of 3600).
    pub hour: u64,
    #[serde(default)]
    pub page_views: u64,
    #[serde(default)]
    pub conversions: u64,
    /// Currency → hundredths of its unit.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub revenue: BTreeMap<String, i64>,
    /// The visitor sketch's registers, hex; absent when no visitor was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitors: Option<String>,
}

/// Deltas keyed by (app, version, hour), merged as they accumulate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deltas {
    entries: BTreeMap<(String, u64, u64), Delta>,
}

/// One key's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    pub page_views: u64,
    pub conversions: u64,
    pub revenue: BTreeMap<String, i64>,
    pub visitors: Option<Sketch>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.page_views == 0
            && self.conversions == 0
            && self.revenue.is_empty()
            && self.visitors.as_ref().is_none_or(Sketch::is_empty)
    }

    /// Adds `other` (saturating: a sum never wraps).
    pub fn merge(&mut self, other: Delta) {
        self.page_views = self.page_views.saturating_add(other.page_views);
        self.conversions = self.conversions.saturating_add(other.conversions);
        for (currency, minor) in other.revenue {
            let sum = self.revenue.entry(currency).or_default();
            *sum = sum.saturating_add(minor);
        }
        match (&mut self.visitors, other.visitors) {
            (Some(a), Some(b)) => a.merge(&b),
            (a @ None, b) => *a = b,
            (Some(_), None) => {}
        }
    }
}

impl Deltas {
    pub fn add(&mut self, app: &str, version: u64, hour: u64, delta: Delta) {
        if delta.is_empty() {
            return;
        }
        self.entries.entry((app.to_owned(), version, hour)).or_default().merge(delta);
    }

    pub fn merge(&mut self, other: Deltas) {
        for ((app, version, hour), delta) in other.entries {
            self.add(&app, version, hour, delta);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn get(&self, app: &str, version: u64, hour: u64) -> Option<&Delta> {
        self.entries.get(&(app.to_owned(), version, hour))
    }

    /// Removes the first `max` keys' deltas (all of them when there are no more) and returns
    /// them as report entries; the rest stay.
    pub fn take_entries(&mut self, max: usize) -> Vec<StatsEntry> {
        let rest = match self.entries.keys().nth(max).cloned() {
            Some(first_left) => self.entries.split_off(&first_left),
            None => BTreeMap::new(),
        };
        let taken = Deltas { entries: std::mem::replace(&mut self.entries, rest) };
        taken.entries()
    }

    /// The report entries, sketches as hex.
    pub fn entries(&self) -> Vec<StatsEntry> {
        self.entries
            .iter()
            .map(|((app, version, hour), d)| StatsEntry {
                app: app.clone(),
                version: *version,
                hour: *hour,
                page_views: d.page_views,
                conversions: d.conversions,
                revenue: d.revenue.clone(),
                visitors: d.visitors.as_ref().filter(|s| !s.is_empty()).map(Sketch::to_hex),
            })
            .collect()
    }
}

/// `GET /v1/apps/{app}/stats?since=<seconds>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppStats {
    pub app: String,
    /// Unix seconds: counts from the UTC hour that holds this time on.
    pub since: u64,
    /// How `unique_visitors` is computed.
    pub visitors_method: String,
    /// How `conversion_rate` is computed.
    pub conversion_rate_method: String,
    pub versions: Vec<VersionStats>,
}

/// One version's figures over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionStats {
    /// `v3`
    pub version: String,
    pub number: u64,
    /// HTML page responses (200 and 304 to GET).
    pub page_views: u64,
    /// Approximate distinct `sy_id` cookies among page views; never more than `page_views`
    /// (the sketch's hash is public, so crafted ids could inflate the estimate otherwise).
    pub unique_visitors: u64,
    pub conversions: u64,
    /// conversions ÷ unique visitors; `None` without visitors.
    pub conversion_rate: Option<f64>,
    /// Currency → amount, as a decimal string with two places (`"49.90"`).
    pub revenue: BTreeMap<String, String>,
    /// When the version served the `live` channel: periods (RFC 3339 `from`, `until` or
    /// `None` while it still does), oldest first.
    pub live: Vec<LivePeriod>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivePeriod {
    pub from: String,
    pub until: Option<String>,
    /// During a traffic split: the version's weight, the percent of visitors (by `sy_id`)
    /// assigned to it. `None`: all of live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<u8>,
}

/// `4990` → `"49.90"`.
pub fn format_minor_units(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

#[cfg(test)]
mod tests;
