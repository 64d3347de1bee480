use super::*;

fn beat(name: &str, revision: u64) -> Heartbeat {
    Heartbeat { name: name.into(), region: "eu".into(), revision, ..Heartbeat::default() }
}

#[test]
fn states_follow_time_and_revision() {
    let r = beat("a", 5);
    assert_eq!(state(&r, Duration::from_secs(1), 5), EdgeState::InSync);
    assert_eq!(state(&r, Duration::from_secs(1), 6), EdgeState::Syncing);
    assert_eq!(state(&r, STALE_AFTER, 5), EdgeState::Stale);
    assert_eq!(state(&r, UNREACHABLE_AFTER, 5), EdgeState::Unreachable);
    let held = Heartbeat { app_errors: [("cart".into(), "blob missing".into())].into(), ..r };
    assert_eq!(state(&held, Duration::from_secs(1), 5), EdgeState::Syncing);
}

#[test]
fn wait_counts_healthy_edges_and_times_them() {
    let fleet = Fleet::default();
    let t0 = Instant::now();
    let wall = SystemTime::now();
    fleet.report_at(beat("a", 1), t0, wall).unwrap();
    fleet.report_at(beat("b", 1), t0, wall).unwrap();
    fleet.report_at(beat("gone", 1), t0, wall).unwrap();
    fleet.lock().published.push_back((2, t0 + Duration::from_millis(10)));
    let later = t0 + Duration::from_secs(20);
    // "gone" stops reporting; a and b keep reporting at revision 1.
    fleet.report_at(beat("a", 1), later, wall).unwrap();
    fleet.report_at(beat("b", 1), later, wall).unwrap();
    let p = fleet.progress_at(2, None, t0, later);
    assert!(!p.done);
    assert_eq!(p.lagging.len(), 2);
    assert_eq!(p.unhealthy.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["gone"]);

    fleet.report_at(beat("a", 2), later + Duration::from_millis(5), wall).unwrap();
    fleet.report_at(beat("b", 3), later + Duration::from_millis(7), wall).unwrap();
    let p = fleet.progress_at(2, None, t0, later + Duration::from_millis(8));
    assert!(p.done, "{p:?}");
    let took: Vec<_> = p.reached.iter().map(|e| (e.name.as_str(), e.took_ms)).collect();
    assert_eq!(took, [("a", Some(19_995)), ("b", Some(19_997))]);
    // A later report at the same revision does not move the time it was reached.
    fleet.report_at(beat("a", 2), later + Duration::from_secs(1), wall).unwrap();
    assert_eq!(fleet.progress_at(2, None, t0, later + Duration::from_secs(1)).reached[0].took_ms, Some(19_995));
}

#[test]
fn an_app_held_back_has_not_reached_the_revision() {
    let fleet = Fleet::default();
    let now = Instant::now();
    let held = Heartbeat { app_errors: [("cart".into(), "blob x: 404".into())].into(), ..beat("a", 4) };
    fleet.report_at(held, now, SystemTime::now()).unwrap();
    assert!(fleet.progress_at(4, Some("shop"), now, now).done);
    let p = fleet.progress_at(4, Some("cart"), now, now);
    assert!(!p.done);
    assert_eq!(p.lagging[0].error.as_deref(), Some("blob x: 404"));
}

#[test]
fn bad_reports_are_refused_with_a_reason() {
    assert!(validate(&beat("edge-1", 0)).is_ok());
    assert!(validate(&beat("", 0)).unwrap_err().contains("name"));
    assert!(validate(&beat("a\nb", 0)).unwrap_err().contains("name"));
    assert!(validate(&Heartbeat { region: "x".repeat(101), ..beat("a", 0) }).unwrap_err().contains("region"));
}
