//! `switchyard edges` and the `--wait` of promote and rollback.

use std::time::Instant;

use anyhow::bail;
use serde_json::json;
use switchyard_client::{Client, Release};

use crate::args::WaitArgs;
use crate::output::{self, Output};

pub(crate) async fn edges(client: &Client, out: &Output) -> anyhow::Result<()> {
    let fleet = client.edges().await?;
    out.print(&fleet, || {
        let mut s = format!(
            "Control plane at revision {}; {}\n",
            fleet.revision,
            output::plural(fleet.edges.len() as u64, "edge")
        );
        s += &output::table(
            &["NAME", "REGION", "REVISION", "LAG", "LAST SEEN", "STATE", "ERROR"],
            fleet.edges.iter().map(|e| {
                let mut errors: Vec<String> = e.error.iter().cloned().collect();
                errors.extend(e.app_errors.iter().map(|(app, why)| format!("{app}: {why}")));
                vec![
                    e.name.clone(),
                    e.region.clone(),
                    e.revision.to_string(),
                    e.lag.to_string(),
                    format!("{} ago", seconds(e.last_seen_ms_ago)),
                    e.state.as_str().to_owned(),
                    errors.join("; "),
                ]
            }),
        );
        s
    });
    Ok(())
}

fn seconds(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

/// Prints a promote's or rollback's answer; with `--wait`, then waits for the fleet.
pub(crate) async fn print_release(
    client: &Client,
    out: &Output,
    app: &str,
    release: &Release,
    wait: &WaitArgs,
) -> anyhow::Result<()> {
    if !wait.wait {
        out.print(release, || output::release_line(app, release));
        return Ok(());
    }
    let started = Instant::now();
    if !out.json {
        print!("{}", output::release_line(app, release));
        println!("Waiting for the edges to serve revision {}…", release.revision);
    }
    let result = client.wait_edges(release.revision, wait.timeout, Some(app)).await?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    out.print(&json!({ "release": release, "wait": result, "elapsed_ms": elapsed_ms }), || {
        let mut s = output::table(
            &["EDGE", "REGION", "REVISION", "TOOK"],
            result.reached.iter().map(|e| {
                vec![
                    e.name.clone(),
                    e.region.clone(),
                    e.revision.to_string(),
                    e.took_ms.map_or_else(|| "-".into(), |ms| format!("{ms} ms")),
                ]
            }),
        );
        for e in &result.lagging {
            s += &format!(
                "LAGGING  {} ({}) at revision {}{}\n",
                e.name,
                e.region,
                e.revision,
                e.error.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
            );
        }
        for e in &result.unhealthy {
            s += &format!("not counted (stale or unreachable): {} ({}) at revision {}\n", e.name, e.region, e.revision);
        }
        if result.done {
            s += &format!(
                "All {} reached revision {} ({} ms).\n",
                output::plural(result.reached.len() as u64, "healthy edge"),
                result.revision,
                elapsed_ms
            );
        }
        s
    });
    if !result.done {
        bail!(
            "{} of {} did not reach revision {} within {}",
            result.lagging.len(),
            output::plural((result.lagging.len() + result.reached.len()) as u64, "healthy edge"),
            result.revision,
            humantime::format_duration(wait.timeout)
        );
    }
    Ok(())
}
