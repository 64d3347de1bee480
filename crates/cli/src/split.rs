//! `switchyard split`: start a traffic split of an app's live channel
//! (`switchyard split --app cart v12=90 v13=10`), or show the one in force and the history.
//! The control plane validates the weights; this module only reads `VERSION=WEIGHT` pairs.

use anyhow::{Context, bail};
use switchyard_client::{Client, SplitInfo, SplitWeight};

use crate::output::{self, Output};

/// `v12=90` → (`v12`, 90).
pub(crate) fn parse_share(arg: &str) -> anyhow::Result<SplitWeight> {
    let Some((version, weight)) = arg.split_once('=') else {
        bail!("{arg:?}: expected VERSION=PERCENT, like v12=90");
    };
    let weight = weight.trim().parse().with_context(|| format!("{arg:?}: the weight must be a whole percentage"))?;
    Ok(SplitWeight { version: version.trim().to_owned(), weight })
}

pub(crate) async fn split(client: &Client, out: &Output, app: &str, shares: &[String]) -> anyhow::Result<()> {
    if shares.is_empty() {
        let state = client.split(app).await?;
        out.print(&state, || {
            let mut s = match &state.split {
                Some(split) => describe(app, split),
                None => format!("{app}: no traffic split; live traffic follows the live channel\n"),
            };
            if !state.history.is_empty() {
                s += "History:\n";
                s += &output::table(
                    &["STARTED", "ENDED", "WEIGHTS", "BY"],
                    state.history.iter().map(|h| {
                        vec![
                            h.started_at.clone(),
                            h.ended_at.clone().unwrap_or_else(|| "(in force)".into()),
                            weights_line(&h.weights),
                            h.actor.clone(),
                        ]
                    }),
                );
            }
            s
        });
        return Ok(());
    }
    let weights = shares.iter().map(|s| parse_share(s)).collect::<anyhow::Result<Vec<_>>>()?;
    let split = client.set_split(app, &weights).await?;
    out.print(&split, || describe(app, &split) + "`switchyard promote` ends the split.\n");
    Ok(())
}

fn describe(app: &str, split: &SplitInfo) -> String {
    let mut s = format!("{app}: live traffic split since {} (revision {})\n", split.started_at, split.revision);
    s += &output::table(
        &["VERSION", "SHARE"],
        split.weights.iter().map(|w| vec![w.version.clone(), format!("{}%", w.weight)]),
    );
    s += "New visitors get a version by their sy_id cookie and keep it on every edge.\n";
    s
}

/// `v12 90%, v13 10%`.
pub(crate) fn weights_line(weights: &[SplitWeight]) -> String {
    weights.iter().map(|w| format!("{} {}%", w.version, w.weight)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_parse_or_name_the_bad_argument() {
        assert_eq!(parse_share("v12=90").unwrap(), SplitWeight { version: "v12".into(), weight: 90 });
        assert_eq!(parse_share("3=-1").unwrap().weight, -1, "range checks are the server's");
        for bad in ["v12", "v12=", "v12=ninety", "v12=9.5"] {
            let err = format!("{:#}", parse_share(bad).unwrap_err());
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }
}
