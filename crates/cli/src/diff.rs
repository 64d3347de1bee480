//! `switchyard diff --app cart v6 v7`: files added, removed and changed between two versions,
//! compared by path and SHA-256.

use serde::Serialize;
use switchyard_client::Client;

use crate::output::Output;

#[derive(Debug, Serialize)]
struct Diff {
    from: String,
    to: String,
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<String>,
    unchanged: u64,
}

pub(crate) async fn diff(client: &Client, out: &Output, app: &str, from: &str, to: &str) -> anyhow::Result<()> {
    let (a, b) = tokio::try_join!(client.version_files(app, from), client.version_files(app, to))?;
    let mut d = Diff {
        from: a.version.clone(),
        to: b.version.clone(),
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
    };
    for (path, file) in &b.files {
        match a.files.get(path) {
            None => d.added.push(path.clone()),
            Some(old) if old.sha256 != file.sha256 => d.changed.push(path.clone()),
            Some(_) => d.unchanged += 1,
        }
    }
    d.removed = a.files.keys().filter(|p| !b.files.contains_key(*p)).cloned().collect();
    out.print(&d, || {
        let mut s = String::new();
        for (mark, paths) in [("+", &d.added), ("-", &d.removed), ("~", &d.changed)] {
            for p in paths {
                s += &format!("{mark} {p}\n");
            }
        }
        s + &format!(
            "{} → {}: {} added, {} removed, {} changed, {} unchanged\n",
            d.from,
            d.to,
            d.added.len(),
            d.removed.len(),
            d.changed.len(),
            d.unchanged
        )
    });
    Ok(())
}
