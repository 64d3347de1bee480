use std::collections::BTreeMap;
use std::time::Duration;

use switchyard_model::api::SplitWeight;
use switchyard_model::{AppState, Digest, Retained, SplitShare, VersionRef};

use super::*;
use crate::auth::TokenHash;
use crate::store::NewVersion;

fn w(pairs: &[(&str, i64)]) -> Vec<SplitWeight> {
    pairs.iter().map(|(v, weight)| SplitWeight { version: (*v).to_owned(), weight: *weight }).collect()
}

#[test]
fn good_splits_pass_the_shape_check() {
    assert_eq!(
        check_shape(&w(&[("v12", 90), ("v13", 10)])).unwrap(),
        vec![SplitShare { version: 12, weight: 90 }, SplitShare { version: 13, weight: 10 }]
    );
    assert_eq!(check_shape(&w(&[("1", 25), ("v2", 25), ("v3", 25), ("v4", 25)])).unwrap().len(), 4);
}

#[test]
fn every_bad_split_is_refused_by_name() {
    let cases: &[(&[(&str, i64)], &str)] = &[
        (&[("v1", 90), ("v2", 9)], "weights sum to 99"),
        (&[("v1", 90), ("v2", 11)], "weights sum to 101"),
        (&[("v1", 100)], "2 to 4 versions, got 1"),
        (&[], "2 to 4 versions, got 0"),
        (&[("v1", 20), ("v2", 20), ("v3", 20), ("v4", 20), ("v5", 20)], "2 to 4 versions, got 5"),
        (&[("v1", 0), ("v2", 100)], "weight 0 of v1"),
        (&[("v1", 100), ("v2", 0)], "weight 100 of v1"),
        (&[("v1", -10), ("v2", 110)], "weight -10 of v1"),
        (&[("v1", 300), ("v2", -200)], "weight 300 of v1"),
        (&[("v1", 50), ("v1", 50)], "v1 is listed twice"),
        (&[("v1", 50), ("1", 50)], "v1 is listed twice"),
        (&[("latest", 50), ("v2", 50)], "version \"latest\": expected v<N>"),
        (&[("v0", 50), ("v2", 50)], "version \"v0\""),
        (&[("v-1", 50), ("v2", 50)], "version \"v-1\""),
        (&[("", 50), ("v2", 50)], "version \"\""),
        (&[("v2 ", 50), ("v3", 50)], "version \"v2 \""),
        (&[("v99999999999999999999999", 50), ("v3", 50)], "expected v<N>"),
    ];
    for (input, expected) in cases {
        let err = check_shape(&w(input)).unwrap_err();
        assert!(err.contains(expected), "{input:?}: {err:?} should contain {expected:?}");
    }
}

fn app_state(channels: &[(&str, u64)], versions: u64) -> AppState {
    AppState {
        channels: channels.iter().map(|(c, v)| ((*c).to_owned(), *v)).collect(),
        versions: (1..=versions).map(|v| (v, VersionRef { manifest: Digest::of(b"m"), created: 0 })).collect(),
        ..AppState::default()
    }
}

fn dep(channel: &str, version: u64, at: u64) -> Departure {
    Departure { app: "cart".into(), channel: channel.into(), version, at }
}

#[test]
fn recent_keeps_departed_versions_within_the_window_once_and_never_the_current_one() {
    let mut apps = BTreeMap::from([("cart".to_owned(), app_state(&[("live", 3), ("preview", 4)], 5))]);
    let departures = [
        dep("live", 1, 1_000),    // left 1000 s ago: until 1100 < now → expired
        dep("live", 2, 1_950),    // retained until 2050
        dep("live", 2, 1_990),    // again later: keep the latest until (2090)
        dep("live", 3, 1_980),    // the current version: never
        dep("preview", 3, 1_995), // another channel
        dep("live", 9, 1_995),    // a version not in the snapshot
        Departure { app: "other".into(), channel: "live".into(), version: 1, at: 1_999 }, // unknown app
    ];
    recent(&mut apps, &departures, 100, 2_000);
    let cart = &apps["cart"];
    assert_eq!(cart.recent["live"], vec![Retained { version: 2, until: 2_090 }]);
    assert_eq!(cart.recent["preview"], vec![Retained { version: 3, until: 2_095 }]);
    assert_eq!(cart.recent.len(), 2);
}

#[test]
fn recent_leaves_out_versions_of_the_split_in_force() {
    let mut state = app_state(&[("live", 1)], 3);
    state.split = vec![SplitShare { version: 1, weight: 50 }, SplitShare { version: 2, weight: 50 }];
    let mut apps = BTreeMap::from([("cart".to_owned(), state)]);
    recent(&mut apps, &[dep("live", 2, 1_990), dep("live", 3, 1_990)], 100, 2_000);
    assert_eq!(apps["cart"].recent["live"], vec![Retained { version: 3, until: 2_090 }]);
}

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
fn a_split_needs_existing_versions_and_a_live_channel_and_changes_nothing_otherwise() {
    let (_d, mut s, app) = store();
    deploy(&mut s, &app, &["preview"]);
    deploy(&mut s, &app, &["preview"]);
    let shares = [SplitShare { version: 1, weight: 90 }, SplitShare { version: 2, weight: 10 }];
    assert_eq!(s.set_split(&app, &shares, "t").unwrap(), Err(Refused::NoLive));
    s.promote(&app, "live", 1, "t").unwrap();
    let revision = s.revision().unwrap();
    let bad = [SplitShare { version: 1, weight: 90 }, SplitShare { version: 7, weight: 10 }];
    assert_eq!(s.set_split(&app, &bad, "t").unwrap(), Err(Refused::UnknownVersion(7)));
    assert_eq!(s.revision().unwrap(), revision, "a refused split bumps nothing");
    assert!(s.current_split(app.id).unwrap().is_none());

    let info = s.set_split(&app, &shares, "t").unwrap().unwrap();
    assert_eq!(s.revision().unwrap(), revision + 1, "a split is one revision");
    assert_eq!(info.revision, revision + 1);
    assert_eq!(s.snapshot().unwrap().apps["cart"].split, shares.to_vec());
    assert_eq!(s.current_split(app.id).unwrap().unwrap().weights, weights_of(&shares));
}

#[test]
fn moving_live_ends_the_split_in_the_same_revision_and_retains_its_versions() {
    let (_d, mut s, app) = store();
    for _ in 0..3 {
        deploy(&mut s, &app, &["preview"]);
    }
    s.promote(&app, "live", 1, "t").unwrap();
    let shares = [SplitShare { version: 1, weight: 90 }, SplitShare { version: 2, weight: 10 }];
    s.set_split(&app, &shares, "t").unwrap().unwrap();
    // A second split replaces the first; both stay in the history.
    let second = [SplitShare { version: 1, weight: 50 }, SplitShare { version: 2, weight: 50 }];
    s.set_split(&app, &second, "t").unwrap().unwrap();
    let moved = s.promote(&app, "preview", 3, "t").unwrap();
    assert_eq!(moved.ended_split, None, "a move of another channel leaves the split alone");
    let before = s.revision().unwrap();
    let release = s.promote(&app, "live", 3, "t").unwrap();
    assert_eq!(release.ended_split, Some(weights_of(&second)));
    assert_eq!(s.revision().unwrap(), before + 1);
    let state = s.split_state(&app).unwrap();
    assert!(state.split.is_none());
    assert_eq!(state.history.len(), 2);
    assert!(state.history.iter().all(|h| h.ended_at.is_some()));

    let snap = s.snapshot().unwrap();
    let cart = &snap.apps["cart"];
    assert!(cart.split.is_empty());
    let live: Vec<u64> = cart.recent["live"].iter().map(|r| r.version).collect();
    assert_eq!(live, vec![1, 2], "the old live version and the split's versions, not the current one");
    let now = unix(SystemTime::now());
    for r in &cart.recent["live"] {
        assert!(r.until > now + 12 * 3600 - 60 && r.until <= now + 12 * 3600, "{r:?}");
    }

    // Rollback of live is a move too: 1 and 2 stay retained, 3 joins them.
    s.set_split(&app, &shares, "t").unwrap().unwrap();
    let release = s.rollback(&app, "live", "t").unwrap();
    assert_eq!(release.ended_split, Some(weights_of(&shares)));
    let live: Vec<u64> = s.snapshot().unwrap().apps["cart"].recent["live"].iter().map(|r| r.version).collect();
    assert_eq!(live, vec![2, 3], "rolled back to v1, which is current now");
}

#[test]
fn a_zero_window_retains_nothing() {
    let (_d, mut s, app) = store();
    deploy(&mut s, &app, &["live"]);
    deploy(&mut s, &app, &["live"]);
    s.set_skew_window(Duration::ZERO);
    assert!(s.snapshot().unwrap().apps["cart"].recent.is_empty());
    s.set_skew_window(Duration::from_secs(3600));
    assert_eq!(s.snapshot().unwrap().apps["cart"].recent["live"][0].version, 1);
}
