//! `switchyard domains …` and `switchyard certs …`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use switchyard_client::{Client, DomainOptions};

use crate::output::{self, Output};

#[derive(Debug, Subcommand)]
pub enum DomainsCommand {
    /// Serve an app's channel (default live) on your own domain (`shop.example.com`,
    /// `*.example.com`). Adding it again changes its settings.
    Add {
        name: String,
        #[arg(long)]
        app: String,
        #[arg(long)]
        channel: Option<String>,
        /// Keep plain HTTP as it is instead of redirecting it (308) to HTTPS once a
        /// certificate covers the domain.
        #[arg(long)]
        no_https_redirect: bool,
        /// Send `Strict-Transport-Security: max-age=SECONDS` on HTTPS responses.
        #[arg(long, value_name = "SECONDS")]
        hsts_max_age: Option<u64>,
        /// Add `includeSubDomains` to the HSTS header.
        #[arg(long, requires = "hsts_max_age")]
        hsts_include_subdomains: bool,
    },
    /// List domains.
    List,
    /// Remove a domain (and its certificate).
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Upload a certificate chain and its private key for a domain (replaces the one before).
    Add {
        #[arg(long)]
        domain: String,
        /// PEM file: the leaf certificate first, then each intermediate (fullchain.pem).
        #[arg(long)]
        cert: PathBuf,
        /// PEM file with the private key (ECDSA P-256/P-384, RSA or Ed25519).
        #[arg(long)]
        key: PathBuf,
    },
    /// List certificates (never their keys).
    List,
    /// Remove a domain's certificate.
    Remove {
        #[arg(long)]
        domain: String,
    },
}

pub(crate) async fn domains(client: &Client, out: &Output, command: DomainsCommand) -> anyhow::Result<()> {
    match command {
        DomainsCommand::Add { name, app, channel, no_https_redirect, hsts_max_age, hsts_include_subdomains } => {
            let opts = DomainOptions {
                channel,
                https_redirect: Some(!no_https_redirect),
                hsts_max_age,
                hsts_include_subdomains,
            };
            let d = client.add_domain(&name, &app, &opts).await?;
            out.print(&d, || {
                let mut s = format!("Domain {} now serves {} ({}).\n", d.name, d.app, d.channel);
                if d.cert.is_none() {
                    s += &format!(
                        "Point its DNS at your edges, and add a certificate:\n  switchyard certs add --domain {} --cert fullchain.pem --key key.pem\n",
                        d.name
                    );
                }
                s
            });
        }
        DomainsCommand::List => {
            let list = client.list_domains().await?;
            out.print(&list, || {
                output::table(
                    &["DOMAIN", "APP", "CHANNEL", "TENANT", "HTTPS", "REDIRECT", "HSTS"],
                    list.iter().map(|d| {
                        vec![
                            d.name.clone(),
                            d.app.clone(),
                            d.channel.clone(),
                            d.tenant.clone(),
                            if d.cert.is_some() { "yes".into() } else { "no cert".into() },
                            if d.https_redirect { "308".into() } else { "off".into() },
                            match d.hsts_max_age {
                                Some(age) if d.hsts_include_subdomains => format!("{age}s +sub"),
                                Some(age) => format!("{age}s"),
                                None => "-".into(),
                            },
                        ]
                    }),
                )
            });
        }
        DomainsCommand::Remove { name } => {
            let removed = client.remove_domain(&name).await?;
            out.print(&removed, || format!("Removed domain {name}.\n"));
        }
    }
    Ok(())
}

pub(crate) async fn certs(client: &Client, out: &Output, command: CertsCommand) -> anyhow::Result<()> {
    match command {
        CertsCommand::Add { domain, cert, key } => {
            let chain = std::fs::read_to_string(&cert).with_context(|| format!("reading {}", cert.display()))?;
            let key = std::fs::read_to_string(&key).with_context(|| format!("reading {}", key.display()))?;
            let c = client.add_cert(&domain, &chain, &key).await?;
            out.print(&c, || {
                format!(
                    "Certificate for {} stored (valid until {}, SHA-256 {}). Edges serve it after their next sync.\n",
                    c.domain, c.not_after, c.fingerprint
                )
            });
        }
        CertsCommand::List => {
            let list = client.list_certs().await?;
            out.print(&list, || {
                output::table(
                    &["DOMAIN", "ISSUER", "NOT BEFORE", "NOT AFTER", "SANS", "SHA-256"],
                    list.iter().map(|c| {
                        vec![
                            c.domain.clone(),
                            c.issuer.clone(),
                            c.not_before.clone(),
                            c.not_after.clone(),
                            c.sans.join(","),
                            c.fingerprint.clone(),
                        ]
                    }),
                )
            });
        }
        CertsCommand::Remove { domain } => {
            let removed = client.remove_cert(&domain).await?;
            out.print(&removed, || format!("Removed the certificate of {domain}.\n"));
        }
    }
    Ok(())
}
