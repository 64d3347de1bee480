//! `switchyard login`: checks the URL and token against the control plane, then keeps them in
//! the user's config file (mode 0600) for later commands.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use switchyard_client::Client;

use crate::config;

pub(crate) async fn login(api: &str, token: Option<String>) -> anyhow::Result<()> {
    let token = match token.filter(|t| !t.trim().is_empty()) {
        Some(t) => t,
        None => {
            if std::io::stdin().is_terminal() {
                eprint!("Token for {api}: ");
            }
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).context("reading the token from standard input")?;
            line.trim().to_owned()
        }
    };
    if token.is_empty() {
        bail!("no token given: pass --with-token, set SWITCHYARD_TOKEN or type it on standard input");
    }
    let client = Client::new(api, &token);
    let apps = match client.list_apps().await {
        Ok(apps) => apps,
        Err(switchyard_client::Error::Api { status: 401, message, .. }) => {
            bail!("the control plane at {api} refused the token ({message}); nothing was saved")
        }
        Err(e) => return Err(e.into()),
    };
    let path = config::save(&config::Saved { api: Some(api.to_owned()), token: Some(token) })?;
    println!(
        "Logged in to {api} ({} visible). Saved to {}",
        crate::output::plural(apps.len() as u64, "app"),
        path.display()
    );
    Ok(())
}
