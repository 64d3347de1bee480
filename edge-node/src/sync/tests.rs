use switchyard_model::VersionRef;

use super::*;

fn app(version: u64, manifest: u8) -> AppState {
    AppState {
        channels: [("live".to_owned(), version)].into(),
        versions: [(version, VersionRef { manifest: Digest::from_bytes([manifest; 32]), created: 0 })].into(),
        ..AppState::default()
    }
}

fn failing(app: &str, digest: Digest) -> BuildError {
    BuildError::Blob {
        app: app.into(),
        path: "index.html".into(),
        digest,
        source: Box::new(switchyard_blob::Error::NotFound { digest }),
    }
}

#[test]
fn a_failing_app_falls_back_to_its_previous_state_and_others_move_on() {
    let before = Snapshot {
        revision: 1,
        apps: [("cart".into(), app(1, 1)), ("shop".into(), app(1, 2))].into(),
        ..Default::default()
    };
    let next = Snapshot {
        revision: 2,
        apps: [("cart".into(), app(2, 3)), ("shop".into(), app(2, 4))].into(),
        ..Default::default()
    };
    let bad = Digest::from_bytes([3; 32]);
    let (built, routes, errors, failed) = build_isolated(next, &before, BTreeMap::new(), |s| {
        if s.apps["cart"].versions.values().any(|v| v.manifest == bad) {
            Err(failing("cart", bad))
        } else {
            Ok(Routes::default())
        }
    });
    assert!(routes.is_ok());
    assert_eq!(built.revision, 2);
    assert_eq!(built.apps["cart"], app(1, 1), "cart stays where it was");
    assert_eq!(built.apps["shop"], app(2, 4), "shop moves on");
    assert!(errors["cart"].contains("not"), "{errors:?}");
    assert_eq!(failed, [bad], "the failed blob is fetched again next time");
}

#[test]
fn an_app_that_fails_even_in_its_previous_state_is_left_out() {
    let before = Snapshot { revision: 1, apps: [("cart".into(), app(1, 1))].into(), ..Default::default() };
    let next = Snapshot {
        revision: 2,
        apps: [("cart".into(), app(2, 3)), ("shop".into(), app(1, 2))].into(),
        ..Default::default()
    };
    let (built, routes, errors, _) = build_isolated(next, &before, BTreeMap::new(), |s| match s.apps.get("cart") {
        Some(state) => Err(failing("cart", state.versions.values().next().unwrap().manifest)),
        None => Ok(Routes::default()),
    });
    assert!(routes.is_ok());
    assert!(!built.apps.contains_key("cart"));
    assert!(built.apps.contains_key("shop"));
    assert!(errors.contains_key("cart"));
}
