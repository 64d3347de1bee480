//! `switchyard stats`: per-version figures of an app over a period, as a table or `--json`.

use std::time::Duration;

use switchyard_client::{AppStats, Client, LivePeriod};

use crate::output::{self, Output};

pub(crate) async fn stats(client: &Client, out: &Output, app: &str, since: Duration) -> anyhow::Result<()> {
    let stats = client.stats(app, since).await?;
    out.print(&stats, || human(&stats, since));
    Ok(())
}

fn human(stats: &AppStats, since: Duration) -> String {
    let mut s = format!("{} over the last {}\n", stats.app, humantime::format_duration(since));
    if stats.versions.is_empty() {
        s += "No page views, conversions or live versions in this period.\n";
        return s;
    }
    s += &output::table(
        &["VERSION", "PAGE VIEWS", "VISITORS~", "CONVERSIONS", "RATE", "REVENUE", "LIVE"],
        stats.versions.iter().map(|v| {
            let revenue: Vec<String> = v.revenue.iter().map(|(c, a)| format!("{a} {c}")).collect();
            vec![
                v.version.clone(),
                output::thousands(v.page_views),
                output::thousands(v.unique_visitors),
                output::thousands(v.conversions),
                v.conversion_rate.map_or_else(|| "-".to_owned(), |r| format!("{:.1} %", r * 100.0)),
                if revenue.is_empty() { "-".to_owned() } else { revenue.join(", ") },
                live(&v.live),
            ]
        }),
    );
    s += &format!(
        "Visitors~: {}. Rate: {}. Page views: HTML responses (200/304) to GET.\n",
        stats.visitors_method, stats.conversion_rate_method
    );
    s
}

fn live(periods: &[LivePeriod]) -> String {
    if periods.is_empty() {
        return "-".to_owned();
    }
    periods
        .iter()
        .map(|p| {
            let period = format!("{} → {}", p.from, p.until.as_deref().unwrap_or("now"));
            match p.share {
                Some(share) => format!("{period} ({share} % in a split)"),
                None => period,
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
