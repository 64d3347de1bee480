use switchyard_model::Digest;
use switchyard_model::stats::{Sketch, StatsEntry, StatsReport};
use switchyard_model::tagging::VisitorId;

use super::*;
use crate::auth::TokenHash;
use crate::store::NewVersion;

fn store() -> (tempfile::TempDir, Store, App) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("meta.db")).unwrap();
    s.create_tenant("acme", &TokenHash::of("t")).unwrap();
    let id = s.tenant_id("acme").unwrap();
    let app = s.create_app(id, "cart").unwrap();
    for _ in 0..2 {
        add_version(&mut s, &app);
    }
    (dir, s, app)
}

fn add_version(s: &mut Store, app: &App) {
    let nv = NewVersion { manifest: Digest::of(b"m"), files: 1, bytes: 1, message: None, actor: "t", channels: &[] };
    s.create_version(app, nv).unwrap();
}

fn sketch(ids: std::ops::Range<u128>) -> Sketch {
    let mut s = Sketch::default();
    for id in ids {
        s.insert(VisitorId(id));
    }
    s
}

fn entry(version: u64, hour: u64, views: u64, conversions: u64, eur: i64, visitors: &Sketch) -> StatsEntry {
    StatsEntry {
        app: "cart".into(),
        version,
        hour,
        page_views: views,
        conversions,
        revenue: if eur > 0 { [("EUR".to_owned(), eur)].into() } else { Default::default() },
        visitors: Some(visitors.to_hex()),
    }
}

#[test]
fn reports_add_up_per_version_once_each() {
    let (_d, mut s, app) = store();
    let hour = unix_now() - unix_now() % HOUR;
    let a = StatsReport {
        edge: "edge-a/1".into(),
        seq: 1,
        entries: vec![entry(1, hour, 10, 2, 4990, &sketch(0..6)), entry(2, hour, 4, 1, 1000, &sketch(100..103))],
    };
    assert_eq!(s.apply_stats(&a).unwrap(), Applied::Counted(2));
    // The same report again (its answer was lost): nothing changes.
    assert_eq!(s.apply_stats(&a).unwrap(), Applied::Duplicate);
    // Another edge saw some of the same visitors an hour earlier, and an unknown version.
    let b = StatsReport {
        edge: "edge-b/7".into(),
        seq: 1,
        entries: vec![entry(1, hour - HOUR, 5, 1, 10, &sketch(3..9)), entry(9, hour, 100, 100, 0, &sketch(0..1))],
    };
    assert_eq!(s.apply_stats(&b).unwrap(), Applied::Counted(1));
    let stats = s.app_stats(&app, unix_now() - 2 * HOUR).unwrap();
    let v: Vec<_> = stats.versions.iter().map(|v| (v.number, v.page_views, v.unique_visitors, v.conversions)).collect();
    assert_eq!(v, [(2, 4, 3, 1), (1, 15, 9, 3)], "visitors 0..6 ∪ 3..9 = 9 distinct");
    assert_eq!(stats.versions[1].revenue["EUR"], "50.00");
    assert_eq!(stats.versions[1].conversion_rate, Some(3.0 / 9.0));
    // A shorter period leaves the earlier hour out.
    let recent = s.app_stats(&app, hour).unwrap();
    assert_eq!(recent.versions.iter().find(|v| v.number == 1).unwrap().page_views, 10);
}

#[test]
fn live_periods_follow_the_live_channel() {
    let (_d, mut s, app) = store();
    s.promote(&app, "live", 1, "t").unwrap();
    s.promote(&app, "live", 2, "t").unwrap();
    s.rollback(&app, "live", "t").unwrap();
    let stats = s.app_stats(&app, unix_now() - HOUR).unwrap();
    let v1 = stats.versions.iter().find(|v| v.number == 1).unwrap();
    let v2 = stats.versions.iter().find(|v| v.number == 2).unwrap();
    assert_eq!(v1.live.len(), 2, "live, then live again after the rollback");
    assert!(v1.live[0].until.is_some());
    assert!(v1.live[1].until.is_none(), "still live");
    assert_eq!(v2.live.len(), 1);
    assert_eq!(v2.live[0].until.as_deref(), Some(v1.live[1].from.as_str()));
    assert_eq!((v1.page_views, v1.unique_visitors, v1.conversion_rate), (0, 0, None));
}

#[test]
fn a_split_shares_live_until_the_next_move_or_split() {
    let (_d, mut s, app) = store();
    add_version(&mut s, &app);
    s.promote(&app, "live", 1, "t").unwrap();
    let share = |version, weight| SplitShare { version, weight };
    s.set_split(&app, &[share(1, 90), share(2, 10)], "t").unwrap().unwrap();
    s.set_split(&app, &[share(2, 50), share(3, 50)], "t").unwrap().unwrap();
    s.promote(&app, "live", 3, "t").unwrap();
    let stats = s.app_stats(&app, unix_now() - HOUR).unwrap();
    let live = |n: u64| {
        let v = stats.versions.iter().find(|v| v.number == n).unwrap();
        v.live.iter().map(|p| (p.share, p.until.is_some())).collect::<Vec<_>>()
    };
    // v1: all of live, then 90 % in the first split; v2: 10 %, then 50 %; v3: 50 %, then all
    // of live since its promotion (which ended the second split).
    assert_eq!(live(1), [(None, true), (Some(90), true)]);
    assert_eq!(live(2), [(Some(10), true), (Some(50), true)]);
    assert_eq!(live(3), [(Some(50), true), (None, false)]);
    // Each period ends where the next step starts.
    let v3 = &stats.versions.iter().find(|v| v.number == 3).unwrap().live;
    assert_eq!(v3[0].until.as_deref(), Some(v3[1].from.as_str()));
}

/// Crafted `sy_id` cookies (the visitor hash is public) raise a sketch's estimate far above
/// the page views; sums at the cap stay integers and add up without failing `stats`.
#[test]
fn visitors_never_exceed_page_views_and_sums_saturate() {
    let (_d, mut s, app) = store();
    let hour = unix_now() - unix_now() % HOUR;
    let report = |seq, entries| StatsReport { edge: "edge-a/1".into(), seq, entries };
    // 3 page views carrying 1000 distinct forged ids.
    s.apply_stats(&report(1, vec![entry(1, hour, 3, 1, 0, &sketch(0..1000))])).unwrap();
    // Counts and revenue at the cap: twice in one hour, once the hour before.
    let cap = SUM_CAP as u64;
    for (seq, h) in [(2, hour), (3, hour), (4, hour - HOUR)] {
        s.apply_stats(&report(seq, vec![entry(2, h, cap, cap, SUM_CAP, &Sketch::default())])).unwrap();
    }
    let (minor, kind): (i64, String) = s
        .conn
        .query_row("SELECT minor, typeof(minor) FROM stats_revenue WHERE version = 2 AND hour = ?1", [hour], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((minor, kind.as_str()), (SUM_CAP, "integer"), "saturated, still an integer");
    let stats = s.app_stats(&app, unix_now() - 2 * HOUR).unwrap();
    let v = |n: u64| stats.versions.iter().find(|v| v.number == n).unwrap();
    assert_eq!((v(1).page_views, v(1).unique_visitors), (3, 3), "not ~1000");
    assert_eq!(v(1).conversion_rate, Some(1.0 / 3.0));
    assert_eq!(v(2).revenue["EUR"], format_minor_units(SUM_CAP), "two hours at the cap sum to the cap");
    assert_eq!((v(2).page_views, v(2).conversions), (2 * cap, 2 * cap));
}
