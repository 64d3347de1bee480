use switchyard_model::stats::{Sketch, StatsEntry, StatsReport};

use super::*;

fn report(entry: StatsEntry) -> StatsReport {
    StatsReport { edge: "edge-a/1/ff".into(), seq: 1, entries: vec![entry] }
}

fn ok() -> StatsEntry {
    StatsEntry {
        app: "cart".into(),
        version: 1,
        hour: 7200,
        page_views: 1,
        conversions: 1,
        revenue: [("EUR".to_owned(), 4990)].into(),
        visitors: Some(Sketch::default().to_hex()),
    }
}

#[test]
fn bad_reports_name_the_entry_and_the_problem() {
    let now = 10 * 3600;
    assert_eq!(validate(&report(ok()), now), Ok(()));
    let cases: Vec<(StatsEntry, &str)> = vec![
        (StatsEntry { app: "Bad App".into(), ..ok() }, "app name"),
        (StatsEntry { version: 0, ..ok() }, "versions start at 1"),
        (StatsEntry { hour: 7201, ..ok() }, "not the start of a past UTC hour"),
        (StatsEntry { hour: now + 2 * 3600, ..ok() }, "not the start of a past UTC hour"),
        (StatsEntry { revenue: [("eur".to_owned(), 1)].into(), ..ok() }, "revenue \"eur\""),
        (StatsEntry { revenue: [("EUR".to_owned(), -1)].into(), ..ok() }, "revenue \"EUR\" -1"),
        (StatsEntry { visitors: Some("00".into()), ..ok() }, "visitor sketch is 2048 bytes"),
    ];
    for (entry, want) in cases {
        let e = validate(&report(entry), now).unwrap_err();
        assert!(e.contains("entry 0") && e.contains(want), "{e:?} should name {want:?}");
    }
    let e = validate(&StatsReport { edge: String::new(), ..report(ok()) }, now).unwrap_err();
    assert!(e.contains("edge"), "{e}");
}
