//! Custom domains and their certificates in the metadata store.
//!
//! Invariants:
//! - A domain belongs to one app of one tenant; another tenant adding it is a conflict, and
//!   every other call treats another tenant's domain as not found.
//! - A certificate row holds only public data (chain, names, dates, fingerprint); its private
//!   key lives in `<data>/keys/<id>.pem` (see `certs::KeyStore`), never in SQLite.
//! - Adding, changing or removing a domain or certificate bumps the revision in the same
//!   transaction.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use switchyard_model::api::{CertInfo, DomainInfo};
use switchyard_model::{CertRef, DomainName, DomainRoute, Hsts};

use super::{App, Result, Store, StoreError, bump_revision, now};
use crate::auth::Principal;
use crate::certs::Validated;

/// A domain to add (or to update, when the same tenant adds it again).
pub struct NewDomain {
    pub name: DomainName,
    pub channel: String,
    pub https_redirect: bool,
    pub hsts: Option<Hsts>,
}

fn tenant_filter(who: &Principal) -> Option<i64> {
    match who {
        Principal::Tenant { id, .. } => Some(*id),
        _ => None,
    }
}

const DOMAIN_COLUMNS: &str = "d.name, a.name, d.channel, t.name, d.https_redirect, d.hsts_max_age, d.hsts_subdomains,
     (SELECT c.fingerprint FROM certificates c WHERE c.domain = d.name), d.created_at
     FROM domains d JOIN apps a ON a.id = d.app_id JOIN tenants t ON t.id = a.tenant_id";

fn domain_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DomainInfo> {
    Ok(DomainInfo {
        name: r.get(0)?,
        app: r.get(1)?,
        channel: r.get(2)?,
        tenant: r.get(3)?,
        https_redirect: r.get(4)?,
        hsts_max_age: r.get(5)?,
        hsts_include_subdomains: r.get(6)?,
        cert: r.get(7)?,
        created_at: r.get(8)?,
    })
}

const CERT_COLUMNS: &str = "c.id, c.domain, c.subject, c.issuer, c.not_before, c.not_after, c.sans, c.fingerprint,
     c.chain_len, c.created_at
     FROM certificates c JOIN domains d ON d.name = c.domain JOIN apps a ON a.id = d.app_id";

fn cert_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CertInfo> {
    let sans: String = r.get(6)?;
    Ok(CertInfo {
        id: r.get(0)?,
        domain: r.get(1)?,
        subject: r.get(2)?,
        issuer: r.get(3)?,
        not_before: r.get(4)?,
        not_after: r.get(5)?,
        sans: serde_json::from_str(&sans).unwrap_or_default(),
        fingerprint: r.get(7)?,
        chain_len: r.get(8)?,
        created_at: r.get(9)?,
    })
}

/// The tenant owning domain `name`, if it exists.
fn domain_tenant(tx: &rusqlite::Connection, name: &str) -> Result<Option<i64>> {
    Ok(tx
        .query_row("SELECT a.tenant_id FROM domains d JOIN apps a ON a.id = d.app_id WHERE d.name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Fails with "not found" unless `who` may see domain `name`.
fn check_owner(tx: &rusqlite::Connection, who: &Principal, name: &str) -> Result<()> {
    match (domain_tenant(tx, name)?, tenant_filter(who)) {
        (Some(owner), Some(me)) if owner == me => Ok(()),
        (Some(_), None) => Ok(()),
        _ => Err(StoreError::NotFound(format!("domain {name:?} not found"))),
    }
}

impl Store {
    /// Adds domain `d` to `app`, or updates it if the app's tenant already holds it.
    pub fn add_domain(&mut self, app: &App, d: NewDomain) -> Result<DomainInfo> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let app_tenant: i64 = tx.query_row("SELECT tenant_id FROM apps WHERE id = ?1", [app.id], |r| r.get(0))?;
        if let Some(owner) = domain_tenant(&tx, d.name.as_str())?
            && owner != app_tenant
        {
            return Err(StoreError::Conflict(format!(
                "domain {:?} is already held by another tenant",
                d.name.as_str()
            )));
        }
        tx.execute(
            "INSERT INTO domains (name, app_id, channel, https_redirect, hsts_max_age, hsts_subdomains, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (name) DO UPDATE SET app_id = excluded.app_id, channel = excluded.channel,
               https_redirect = excluded.https_redirect, hsts_max_age = excluded.hsts_max_age,
               hsts_subdomains = excluded.hsts_subdomains",
            params![
                d.name.as_str(),
                app.id,
                d.channel,
                d.https_redirect,
                d.hsts.map(|h| h.max_age),
                d.hsts.is_some_and(|h| h.include_subdomains),
                now()
            ],
        )?;
        bump_revision(&tx)?;
        let info =
            tx.query_row(&format!("SELECT {DOMAIN_COLUMNS} WHERE d.name = ?1"), [d.name.as_str()], domain_from_row)?;
        tx.commit()?;
        Ok(info)
    }

    pub fn list_domains(&self, who: &Principal) -> Result<Vec<DomainInfo>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {DOMAIN_COLUMNS} WHERE ?1 IS NULL OR a.tenant_id = ?1 ORDER BY d.name"))?;
        let rows = stmt.query_map([tenant_filter(who)], domain_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes a domain and its certificate; returns the removed certificate's id.
    pub fn remove_domain(&mut self, who: &Principal, name: &str) -> Result<Option<String>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_owner(&tx, who, name)?;
        let cert: Option<String> =
            tx.query_row("SELECT id FROM certificates WHERE domain = ?1", [name], |r| r.get(0)).optional()?;
        tx.execute("DELETE FROM certificates WHERE domain = ?1", [name])?;
        tx.execute("DELETE FROM domains WHERE name = ?1", [name])?;
        bump_revision(&tx)?;
        tx.commit()?;
        Ok(cert)
    }

    /// Records certificate `id` for `domain` (its key is already on disk), replacing the one
    /// before. Returns the new row and the replaced certificate's id.
    pub fn put_cert(
        &mut self,
        who: &Principal,
        domain: &str,
        id: &str,
        v: &Validated,
    ) -> Result<(CertInfo, Option<String>)> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_owner(&tx, who, domain).map_err(|_| {
            StoreError::NotFound(format!(
                "domain {domain:?} not found; add it first with `switchyard domains add {domain} --app APP`"
            ))
        })?;
        let old: Option<String> =
            tx.query_row("SELECT id FROM certificates WHERE domain = ?1", [domain], |r| r.get(0)).optional()?;
        tx.execute("DELETE FROM certificates WHERE domain = ?1", [domain])?;
        tx.execute(
            "INSERT INTO certificates (id, domain, subject, issuer, not_before, not_after, sans, fingerprint,
               chain_len, chain_pem, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                id,
                domain,
                v.subject,
                v.issuer,
                v.not_before,
                v.not_after,
                serde_json::to_string(&v.sans).expect("strings serialize"),
                v.fingerprint,
                v.chain_len,
                v.chain_pem,
                now()
            ],
        )?;
        bump_revision(&tx)?;
        let info = tx.query_row(&format!("SELECT {CERT_COLUMNS} WHERE c.id = ?1"), [id], cert_from_row)?;
        tx.commit()?;
        Ok((info, old))
    }

    pub fn list_certs(&self, who: &Principal) -> Result<Vec<CertInfo>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {CERT_COLUMNS} WHERE ?1 IS NULL OR a.tenant_id = ?1 ORDER BY c.domain"))?;
        let rows = stmt.query_map([tenant_filter(who)], cert_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes the certificate of `domain`; returns its id.
    pub fn remove_cert(&mut self, who: &Principal, domain: &str) -> Result<String> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_owner(&tx, who, domain)?;
        let id: String = tx
            .query_row("SELECT id FROM certificates WHERE domain = ?1", [domain], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("domain {domain:?} has no certificate")))?;
        tx.execute("DELETE FROM certificates WHERE id = ?1", [&id])?;
        bump_revision(&tx)?;
        tx.commit()?;
        Ok(id)
    }

    /// The PEM chain of certificate `id` (for edges).
    pub fn cert_chain(&self, id: &str) -> Result<String> {
        self.conn
            .query_row("SELECT chain_pem FROM certificates WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("certificate {id:?} not found")))
    }
}

/// Domains and certificate references for the snapshot, read in the snapshot's transaction.
pub(super) fn snapshot_parts(tx: &rusqlite::Connection) -> Result<(BTreeMap<String, DomainRoute>, Vec<CertRef>)> {
    let mut domains = BTreeMap::new();
    let mut stmt = tx.prepare(
        "SELECT d.name, a.name, d.channel, d.https_redirect, d.hsts_max_age, d.hsts_subdomains
         FROM domains d JOIN apps a ON a.id = d.app_id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let hsts =
            r.get::<_, Option<u64>>(4)?.map(|max_age| Hsts { max_age, include_subdomains: r.get(5).unwrap_or(false) });
        domains.insert(r.get(0)?, DomainRoute { app: r.get(1)?, channel: r.get(2)?, https_redirect: r.get(3)?, hsts });
    }
    let mut stmt = tx.prepare("SELECT id, domain, fingerprint FROM certificates ORDER BY domain")?;
    let certs = stmt
        .query_map([], |r| Ok(CertRef { id: r.get(0)?, domain: r.get(1)?, fingerprint: r.get(2)? }))?
        .collect::<Result<_, _>>()?;
    Ok((domains, certs))
}
