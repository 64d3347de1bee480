use switchyard_model::Digest;

use super::*;
use crate::auth::{Principal, TokenHash};

fn store() -> (tempfile::TempDir, Store, App) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("meta.db")).unwrap();
    s.create_tenant("acme", &TokenHash::of("t")).unwrap();
    let id = s.tenant_id("acme").unwrap();
    let app = s.create_app(id, "cart").unwrap();
    (dir, s, app)
}

fn deploy(s: &mut Store, app: &App, channels: &[&str]) -> u64 {
    let channels: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
    let nv =
        NewVersion { manifest: Digest::of(b"m"), files: 1, bytes: 1, message: None, actor: "t", channels: &channels };
    s.create_version(app, nv).unwrap().0
}

#[test]
fn every_visible_change_bumps_the_revision_once() {
    let (_d, mut s, app) = store();
    assert_eq!(s.revision().unwrap(), 0, "tenants and apps are not visible to edges");
    assert_eq!(deploy(&mut s, &app, &["live", "preview"]), 1);
    assert_eq!(s.revision().unwrap(), 1, "a version and its pointers are one revision");
    s.promote(&app, "live", 1, "t").unwrap();
    assert_eq!(s.revision().unwrap(), 2);
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.revision, 2);
    assert_eq!(snap.apps["cart"].channels["live"], 1);
    assert_eq!(snap.apps["cart"].versions[&1].manifest, Digest::of(b"m"));
    assert!(snap.apps["cart"].versions[&1].created > 1_700_000_000);
}

#[test]
fn rollback_walks_back_through_history_and_stops_at_the_start() {
    let (_d, mut s, app) = store();
    for _ in 0..3 {
        deploy(&mut s, &app, &[]);
    }
    s.promote(&app, "live", 1, "t").unwrap();
    s.promote(&app, "live", 2, "t").unwrap();
    s.promote(&app, "live", 3, "t").unwrap();
    assert_eq!(s.rollback(&app, "live", "t").unwrap().to, "v2");
    assert_eq!(s.rollback(&app, "live", "t").unwrap().to, "v1");
    let err = s.rollback(&app, "live", "t").unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("no earlier version")), "{err}");
    assert_eq!(s.channels(app.id).unwrap()["live"], 1, "a refused rollback moves nothing");
    // A promote after rollbacks starts a new step that can itself be rolled back.
    s.promote(&app, "live", 3, "t").unwrap();
    assert_eq!(s.rollback(&app, "live", "t").unwrap().to, "v1");
    // Channels have their own histories.
    deploy(&mut s, &app, &["preview"]);
    deploy(&mut s, &app, &["preview"]);
    assert_eq!(s.rollback(&app, "preview", "t").unwrap().to, "v4");
    assert_eq!(s.channels(app.id).unwrap()["live"], 1);
}

#[test]
fn promote_to_a_missing_version_is_not_found_and_changes_nothing() {
    let (_d, mut s, app) = store();
    deploy(&mut s, &app, &["live"]);
    let before = s.revision().unwrap();
    assert!(matches!(s.promote(&app, "live", 7, "t"), Err(StoreError::NotFound(_))));
    assert_eq!(s.revision().unwrap(), before);
}

#[test]
fn apps_are_scoped_to_their_tenant() {
    let (_d, mut s, _app) = store();
    s.create_tenant("bolt", &TokenHash::of("b")).unwrap();
    let acme = s.authenticate(&TokenHash::of("t")).unwrap().unwrap();
    let bolt = s.authenticate(&TokenHash::of("b")).unwrap().unwrap();
    assert!(matches!(&acme, Principal::Tenant { name, .. } if name == "acme"));
    assert!(s.find_app(&acme, "cart").is_ok());
    assert!(matches!(s.find_app(&bolt, "cart"), Err(StoreError::NotFound(_))));
    assert!(s.find_app(&Principal::Admin, "cart").is_ok());
    assert_eq!(s.list_apps(&bolt).unwrap().len(), 0);
    assert!(s.authenticate(&TokenHash::of("nope")).unwrap().is_none());
    assert!(matches!(s.create_tenant("bolt", &TokenHash::of("c")), Err(StoreError::Conflict(_))));
}

#[test]
fn state_survives_reopening() {
    let (dir, mut s, app) = store();
    deploy(&mut s, &app, &["live"]);
    drop(s);
    let mut s = Store::open(&dir.path().join("meta.db")).unwrap();
    assert_eq!(s.revision().unwrap(), 1);
    assert_eq!(s.snapshot().unwrap().apps["cart"].channels["live"], 1);
}
