use std::time::{Duration, UNIX_EPOCH};

use switchyard_model::stats::{Delta, Deltas};

use super::*;

fn views(n: u64) -> Deltas {
    let mut d = Deltas::default();
    d.add("cart", 1, 7200, Delta { page_views: n, ..Delta::default() });
    d
}

#[test]
fn a_failed_report_is_resent_unchanged_and_new_counts_wait_for_the_next() {
    let mut outbox = Outbox::new("edge-a/1/ff".into());
    assert!(outbox.next().is_none(), "nothing to report");
    outbox.gather(views(3));
    let first = outbox.next().unwrap().clone();
    assert_eq!((first.seq, first.entries[0].page_views), (1, 3));
    // Not acknowledged (control plane down): counts keep gathering beside it, and the same
    // report (same seq, same counts) goes again, so the control plane can drop a duplicate.
    outbox.gather(views(2));
    assert_eq!(outbox.next().unwrap(), &first);
    outbox.gather(views(4));
    assert_eq!(outbox.next().unwrap(), &first);
    assert_eq!(outbox.gathered().get("cart", 1, 7200).unwrap().page_views, 6);
    outbox.acknowledged();
    // Then everything gathered meanwhile, once, under the next seq.
    let second = outbox.next().unwrap().clone();
    assert_eq!((second.seq, second.entries[0].page_views), (2, 6));
    outbox.acknowledged();
    assert!(outbox.next().is_none());
    // Nothing lost, nothing twice: 3 + 2 + 4 reported as 3 then 6.
}

#[test]
fn take_swaps_counts_to_zero_and_forgets_versions_no_routes_hold() {
    let metrics = Metrics::new();
    let held = metrics.version("cart", 1);
    let gone = metrics.version("cart", 2);
    assert!(held.conversion(Some((*b"EUR", 4990))));
    assert!(held.conversion(Some((*b"EUR", 10))));
    assert!(held.conversion(None));
    assert!(gone.conversion(Some((*b"USD", 100))));
    drop(gone); // the routes that served v2 are gone
    let d = metrics.take(3600);
    let v1 = d.get("cart", 1, 3600).unwrap();
    assert_eq!(v1.conversions, 3);
    assert_eq!(v1.revenue["EUR"], 5000);
    assert_eq!(d.get("cart", 2, 3600).unwrap().revenue["USD"], 100, "a dropped version's last counts are reported");
    // Taken: a second take reports nothing; v2 is forgotten, v1 kept (and keeps counting).
    assert!(metrics.take(3600).is_empty());
    assert!(!metrics.encode(0).contains("version=\"v2\""));
    assert!(Arc::ptr_eq(&held, &metrics.version("cart", 1)));
}

#[test]
fn hours_are_utc_hour_starts() {
    assert_eq!(hour_of(UNIX_EPOCH + Duration::from_secs(7199)), 3600);
    assert_eq!(hour_of(UNIX_EPOCH + Duration::from_secs(7200)), 7200);
}

#[test]
fn a_report_carries_at_most_max_entries_and_the_rest_goes_next() {
    let mut outbox = Outbox::new("edge-a/1/ff".into());
    let mut many = Deltas::default();
    for hour in 0..MAX_ENTRIES as u64 + 5 {
        many.add("cart", 1, hour * HOUR, Delta { page_views: 1, ..Delta::default() });
    }
    outbox.gather(many);
    let first = outbox.next().unwrap().clone();
    assert_eq!((first.seq, first.entries.len()), (1, MAX_ENTRIES), "what the control plane accepts");
    assert_eq!(outbox.gathered().len(), 5, "the rest waits");
    assert_eq!(outbox.next().unwrap(), &first, "resent unchanged until acknowledged");
    outbox.acknowledged();
    let second = outbox.next().unwrap().clone();
    assert_eq!((second.seq, second.entries.len()), (2, 5));
    assert_eq!(second.entries[0].hour, MAX_ENTRIES as u64 * HOUR, "nothing lost, nothing twice");
    outbox.acknowledged();
    assert!(outbox.next().is_none());
}
