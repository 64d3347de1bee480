use switchyard_model::Digest;

use super::*;
use crate::auth::TokenHash;
use crate::store::NewVersion;

fn store() -> (tempfile::TempDir, Store, App) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("meta.db")).unwrap();
    s.create_tenant("acme", &TokenHash::of("t")).unwrap();
    let id = s.tenant_id("acme").unwrap();
    let app = s.create_app(id, "cart").unwrap();
    (dir, s, app)
}

fn deploy(s: &mut Store, app: &App, channels: &[&str]) {
    let channels: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
    let nv =
        NewVersion { manifest: Digest::of(b"m"), files: 1, bytes: 1, message: None, actor: "t", channels: &channels };
    s.create_version(app, nv).unwrap();
}

fn share(id: &str, expires: u64) -> NewShare<'_> {
    NewShare { id, scope: ShareScope::Channel("preview".into()), expires, actor: "tenant:acme" }
}

#[test]
fn the_published_key_or_setting_changing_bumps_the_revision_once() {
    let (dir, mut s, app) = store();
    s.set_preview_access(Some("key-a".into())).unwrap();
    assert_eq!(s.revision().unwrap(), 0, "nothing was published before: nothing to tell edges");
    deploy(&mut s, &app, &["live"]);
    let r = s.revision().unwrap();
    assert_eq!(s.snapshot().unwrap().previews, Some(PreviewAccess { key: "key-a".into(), revoked: vec![] }));
    s.set_preview_access(Some("key-a".into())).unwrap();
    assert_eq!(s.revision().unwrap(), r, "the same key at the next start");
    s.set_preview_access(None).unwrap();
    assert_eq!(s.revision().unwrap(), r + 1, "the operator made previews public");
    assert_eq!(s.snapshot().unwrap().previews, None);
    drop(s);
    let mut s = Store::open(&dir.path().join("meta.db")).unwrap();
    s.set_preview_access(Some("key-b".into())).unwrap();
    assert_eq!(s.revision().unwrap(), r + 2, "private again, with another key");
    assert_eq!(s.snapshot().unwrap().previews.unwrap().key, "key-b");
}

#[test]
fn shares_public_channels_and_what_edges_see() {
    let (_dir, mut s, app) = store();
    s.set_preview_access(Some("k".into())).unwrap();
    deploy(&mut s, &app, &["live", "preview"]);
    let r = s.revision().unwrap();
    let far = unix_now() + 3600;
    let a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let old = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    assert_eq!(s.create_share(&app, share(a, far)).unwrap().state, "active");
    assert_eq!(s.create_share(&app, share(old, 5)).unwrap().state, "expired");
    let missing = NewShare { scope: ShareScope::Version(9), ..share("cccccccccccccccccccccccccccccccc", far) };
    assert!(matches!(s.create_share(&app, missing), Err(StoreError::NotFound(m)) if m.contains("no version v9")));
    let missing =
        NewShare { scope: ShareScope::Channel("nope".into()), ..share("dddddddddddddddddddddddddddddddd", far) };
    assert!(matches!(s.create_share(&app, missing), Err(StoreError::NotFound(_))));
    assert_eq!(s.revision().unwrap(), r, "links are not in the snapshot");

    assert_eq!(s.revoke_share(&app, old).unwrap().state, "revoked");
    assert_eq!(s.revision().unwrap(), r, "an expired link needs no revocation on edges");
    assert_eq!(s.revoke_share(&app, a).unwrap().state, "revoked");
    assert_eq!(s.revision().unwrap(), r + 1);
    assert_eq!(s.snapshot().unwrap().previews.unwrap().revoked, vec![a.to_owned()], "expired ids are left out");
    assert!(matches!(s.revoke_share(&app, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"), Err(StoreError::NotFound(_))));

    assert!(matches!(s.set_public(&app, "nope", true), Err(StoreError::NotFound(_))));
    s.set_public(&app, "preview", true).unwrap();
    s.set_public(&app, "preview", true).unwrap();
    assert_eq!(s.revision().unwrap(), r + 2);
    assert!(s.snapshot().unwrap().apps["cart"].public.contains("preview"));
    let p = s.previews(&app).unwrap();
    assert_eq!((p.public, p.shares.len()), (vec!["preview".to_owned()], 2));
    s.set_public(&app, "preview", false).unwrap();
    assert_eq!(s.revision().unwrap(), r + 3);
    assert!(s.snapshot().unwrap().apps["cart"].public.is_empty());
}
