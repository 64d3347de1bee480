//! Reporting per-version counts to the control plane: every [`EVERY`] (and at each UTC hour
//! boundary, so a report never spans two hours) the counters are taken into deltas and sent as
//! `POST /v1/edge/stats`; at shutdown, once more. A report carries at most [`MAX_ENTRIES`]
//! entries (what the control plane accepts); more go as the next reports, right after.
//!
//! Architecture Invariant: no count is lost or counted twice. A report, once formed, is resent
//! unchanged (same `edge`, `seq`) until the control plane acknowledges it, and the control
//! plane applies a `seq` at most once per edge process; what is counted meanwhile gathers into
//! the next report. Serving never depends on the control plane hearing from the edge.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchyard_model::stats::{Deltas, HOUR, MAX_ENTRIES, StatsReport};
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::metrics::Metrics;

/// How often counts are reported.
pub(crate) const EVERY: Duration = Duration::from_secs(5);
/// How long the report at shutdown may take.
const LAST_REPORT: Duration = Duration::from_secs(3);

/// Reports waiting for the control plane.
pub(crate) struct Outbox {
    edge: String,
    seq: u64,
    /// Formed and sent at least once, not acknowledged yet.
    in_flight: Option<StatsReport>,
    /// Taken since `in_flight` was formed.
    gathered: Deltas,
}

impl Outbox {
    pub(crate) fn new(edge: String) -> Outbox {
        Outbox { edge, seq: 0, in_flight: None, gathered: Deltas::default() }
    }

    pub(crate) fn gather(&mut self, deltas: Deltas) {
        self.gathered.merge(deltas);
    }

    /// The report to send: the unacknowledged one as it was, else a new one of what was
    /// gathered, at most [`MAX_ENTRIES`] entries (the control plane refuses more; the rest
    /// stays gathered for the next report). `None` when there is nothing to report.
    pub(crate) fn next(&mut self) -> Option<&StatsReport> {
        if self.in_flight.is_none() && !self.gathered.is_empty() {
            self.seq += 1;
            let entries = self.gathered.take_entries(MAX_ENTRIES);
            self.in_flight = Some(StatsReport { edge: self.edge.clone(), seq: self.seq, entries });
        }
        self.in_flight.as_ref()
    }

    /// The control plane applied (or had already applied) the report in flight.
    pub(crate) fn acknowledged(&mut self) {
        self.in_flight = None;
    }

    #[cfg(test)]
    pub(crate) fn gathered(&self) -> &Deltas {
        &self.gathered
    }
}

/// Start of the UTC hour holding `t`, in Unix seconds.
pub(crate) fn hour_of(t: SystemTime) -> u64 {
    let s = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    s - s % HOUR
}

/// Takes and sends counts until `shutdown`, then sends once more.
pub(crate) async fn run(config: Config, client: reqwest::Client, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    let url = format!("{}/v1/edge/stats", config.control_plane);
    let started = SystemTime::now();
    let nanos = started.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mut outbox = Outbox::new(format!("{}/{}/{nanos:x}", config.name, std::process::id()));
    let mut from = started;
    loop {
        let now = SystemTime::now();
        let to_boundary =
            Duration::from_secs(hour_of(now) + HOUR).saturating_sub(now.duration_since(UNIX_EPOCH).unwrap_or_default());
        let stopping = tokio::select! {
            () = tokio::time::sleep(EVERY.min(to_boundary + Duration::from_millis(5))) => false,
            () = shutdown.cancelled() => true,
        };
        // Counts since `from` belong to its hour: waking at each boundary keeps that honest
        // to a few milliseconds.
        outbox.gather(metrics.take(hour_of(from)));
        from = SystemTime::now();
        let timeout = if stopping { LAST_REPORT } else { EVERY };
        send(&client, &url, &config.token, &mut outbox, timeout).await;
        if stopping {
            if outbox.next().is_some() {
                tracing::warn!("counts not reported before shutdown");
            }
            return;
        }
    }
}

/// Sends reports until none is left, one is not accepted, or `within` has passed (more than
/// [`MAX_ENTRIES`] entries gathered go as several reports, one after the other).
async fn send(client: &reqwest::Client, url: &str, token: &str, outbox: &mut Outbox, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while let Some(report) = outbox.next() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return;
        }
        let seq = report.seq;
        match client.post(url).bearer_auth(token).json(report).timeout(left).send().await {
            Ok(r) if r.status().is_success() => {
                tracing::debug!(seq, "counts reported");
                outbox.acknowledged();
            }
            Ok(r) if r.status() == reqwest::StatusCode::BAD_REQUEST => {
                // Resending the same report would be refused forever.
                tracing::warn!(seq, status = 400, "the control plane refused a stats report; dropping it");
                outbox.acknowledged();
            }
            Ok(r) => {
                tracing::warn!(seq, status = r.status().as_u16(), "stats report not accepted; will resend");
                return;
            }
            Err(error) => {
                tracing::debug!(%error, seq, "stats report not delivered; will resend");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
