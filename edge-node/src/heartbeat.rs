//! Reporting to the control plane: name, region, applied revision, the versions held and any
//! sync error, sent as `POST /v1/edge/heartbeat` at once after each applied swap or failed
//! sync, and every [`EVERY`] otherwise. A failed report is only logged: serving never depends
//! on the control plane hearing from the edge.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_model::Snapshot;
use switchyard_model::fleet::Heartbeat;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::Config;

/// How often the edge reports when nothing happens (the control plane's stale threshold is
/// three of these).
pub(crate) const EVERY: Duration = Duration::from_secs(5);

/// What the next heartbeat says; the sync loop updates it, the heartbeat task sends it.
pub(crate) struct Status {
    report: Mutex<Heartbeat>,
    changed: Notify,
}

impl Status {
    pub(crate) fn new(config: &Config) -> Arc<Status> {
        let report = Heartbeat { name: config.name.clone(), region: config.region.clone(), ..Heartbeat::default() };
        Arc::new(Status { report: Mutex::new(report), changed: Notify::new() })
    }

    fn update(&self, f: impl FnOnce(&mut Heartbeat)) {
        f(&mut self.report.lock().unwrap_or_else(|p| p.into_inner()));
        self.changed.notify_one();
    }

    /// `snapshot` is what the edge now serves; `app_errors` the apps it held back.
    pub(crate) fn applied(&self, snapshot: &Snapshot, app_errors: BTreeMap<String, String>) {
        let versions =
            snapshot.apps.iter().map(|(app, s)| (app.clone(), s.versions.keys().copied().collect())).collect();
        self.update(|r| {
            r.revision = snapshot.revision;
            r.versions = versions;
            r.error = None;
            r.app_errors = app_errors;
        });
    }

    /// A sync step succeeded: clears the sync error, if one was reported.
    pub(crate) fn recovered(&self) {
        let had_error = self.report.lock().unwrap_or_else(|p| p.into_inner()).error.is_some();
        if had_error {
            self.update(|r| r.error = None);
        }
    }

    pub(crate) fn failed(&self, error: String) {
        self.update(|r| r.error = Some(error));
    }

    fn current(&self) -> Heartbeat {
        self.report.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Sends heartbeats until `shutdown`.
pub(crate) async fn run(config: Config, client: reqwest::Client, status: Arc<Status>, shutdown: CancellationToken) {
    let url = format!("{}/v1/edge/heartbeat", config.control_plane);
    loop {
        let report = status.current();
        let sent = client.post(&url).bearer_auth(&config.token).json(&report).timeout(EVERY).send().await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!(status = r.status().as_u16(), "the control plane refused a heartbeat"),
            Err(error) => tracing::debug!(%error, "heartbeat not delivered"),
        }
        tokio::select! {
            () = status.changed.notified() => {},
            () = tokio::time::sleep(EVERY) => {},
            () = shutdown.cancelled() => return,
        }
    }
}
