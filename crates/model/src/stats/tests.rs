use super::*;

/// Deterministic pseudo-random visitor ids (SplitMix64 stream).
fn visitors(seed: u64, n: usize) -> impl Iterator<Item = VisitorId> {
    let mut s = seed;
    (0..n).map(move |_| {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let hi = mix64(s);
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        VisitorId((u128::from(hi) << 64) | u128::from(mix64(s)))
    })
}

#[test]
fn estimate_is_within_the_error_bound() {
    // 1.04/√2048 ≈ 2.3 % is one standard error; allow three (≈ 7 %) on each of several
    // independent runs, and check that the average error is near the bound.
    let mut total_rel = 0.0;
    let sizes = [1_000usize, 5_000, 20_000, 100_000];
    for (i, &n) in sizes.iter().enumerate() {
        let mut s = Sketch::default();
        for v in visitors(i as u64 + 1, n) {
            s.insert(v);
        }
        let e = s.estimate() as f64;
        let rel = (e - n as f64).abs() / n as f64;
        assert!(rel < 0.07, "{n} visitors estimated as {e} ({:.1} %)", rel * 100.0);
        total_rel += rel;
    }
    assert!(total_rel / sizes.len() as f64 <= 0.035, "mean error {:.2} %", total_rel / sizes.len() as f64 * 100.0);
}

#[test]
fn small_counts_are_nearly_exact_and_repeats_do_not_count() {
    let mut s = Sketch::default();
    assert_eq!(s.estimate(), 0);
    assert!(s.is_empty());
    let ids: Vec<_> = visitors(7, 10).collect();
    for _ in 0..50 {
        for &v in &ids {
            s.insert(v);
        }
    }
    assert_eq!(s.estimate(), 10);
    // Forged low-entropy ids still spread.
    let mut s = Sketch::default();
    for n in 1..=100u128 {
        s.insert(VisitorId(n));
    }
    assert!((98..=102).contains(&s.estimate()), "{}", s.estimate());
}

#[test]
fn merge_is_the_union() {
    let all: Vec<_> = visitors(3, 30_000).collect();
    let (mut a, mut b, mut whole) = (Sketch::default(), Sketch::default(), Sketch::default());
    // Overlapping halves: 0..20k and 10k..30k.
    for v in &all[..20_000] {
        a.insert(*v);
    }
    for v in &all[10_000..] {
        b.insert(*v);
    }
    for v in &all {
        whole.insert(*v);
    }
    a.merge(&b);
    assert_eq!(a, whole, "merging equals inserting the union");
    let rel = (a.estimate() as f64 - 30_000.0).abs() / 30_000.0;
    assert!(rel < 0.07, "{}", a.estimate());
}

#[test]
fn hex_round_trip_and_bad_sketches() {
    let mut s = Sketch::default();
    for v in visitors(9, 500) {
        s.insert(v);
    }
    assert_eq!(Sketch::from_hex(&s.to_hex()).unwrap(), s);
    assert!(matches!(Sketch::from_hex("00ff"), Err(SketchError::Length { got: 2, .. })));
    assert!(matches!(Sketch::from_hex(&"zz".repeat(REGISTERS)), Err(SketchError::Hex(_))));
    let mut bad = vec![0u8; REGISTERS];
    bad[5] = 60;
    assert_eq!(Sketch::from_registers(&bad), Err(SketchError::Register(60)));
}

#[test]
fn registers_and_ranks() {
    assert_eq!(register_of(0), (0, MAX_RANK));
    assert_eq!(register_of(u64::MAX), (REGISTERS - 1, 1));
    // Index from the top 11 bits, rank from the next leading zeros.
    assert_eq!(register_of((5u64 << 53) | (1u64 << 50)), (5, 3));
}

#[test]
fn revenue_is_fixed_point() {
    assert_eq!(to_minor_units(49.90), Some(4990));
    assert_eq!(to_minor_units(0.1 + 0.2), Some(30));
    assert_eq!(to_minor_units(0.0), Some(0));
    assert_eq!(to_minor_units(19.999), Some(2000));
    assert_eq!(to_minor_units(-1.0), None);
    assert_eq!(to_minor_units(f64::NAN), None);
    assert_eq!(to_minor_units(f64::INFINITY), None);
    assert_eq!(to_minor_units(2e9), None);
    assert_eq!(to_minor_units(MAX_EVENT_VALUE), Some(1_000_000_000));
    assert_eq!(to_minor_units(10_000_000.01), None);
    assert_eq!(to_minor_units(1e8), None);
    // A thousand 0.10 conversions add to exactly 100.00.
    let total: i64 = (0..1000).map(|_| to_minor_units(0.10).unwrap()).sum();
    assert_eq!(format_minor_units(total), "100.00");
    assert_eq!(format_minor_units(4990), "49.90");
    assert_eq!(format_minor_units(5), "0.05");
    assert_eq!(format_minor_units(-150), "-1.50");
}

#[test]
fn currencies() {
    assert!(is_currency("EUR"));
    for bad in ["eur", "EU", "EURO", "E1R", "ÉUR", ""] {
        assert!(!is_currency(bad), "{bad}");
    }
}

#[test]
fn deltas_merge_by_key() {
    let mut d = Deltas::default();
    let mut sketch = Sketch::default();
    sketch.insert(VisitorId(1));
    d.add("cart", 1, 3600, Delta { page_views: 2, visitors: Some(sketch.clone()), ..Delta::default() });
    d.add("cart", 1, 3600, Delta { conversions: 1, revenue: [("EUR".into(), 4990)].into(), ..Delta::default() });
    d.add("cart", 2, 3600, Delta::default()); // empty: not kept
    let mut later = Deltas::default();
    later.add("cart", 1, 3600, Delta { conversions: 1, revenue: [("EUR".into(), 10)].into(), ..Delta::default() });
    d.merge(later);
    assert_eq!(d.len(), 1);
    let one = d.get("cart", 1, 3600).unwrap();
    assert_eq!((one.page_views, one.conversions), (2, 2));
    assert_eq!(one.revenue["EUR"], 5000);
    let entries = d.entries();
    assert_eq!(entries[0].visitors.as_deref(), Some(sketch.to_hex().as_str()));
}

#[test]
fn take_entries_takes_at_most_max_in_key_order_and_leaves_the_rest() {
    let mut d = Deltas::default();
    for hour in 0..5 {
        d.add("cart", 1, hour * HOUR, Delta { page_views: hour + 1, ..Delta::default() });
    }
    let first = d.take_entries(3);
    assert_eq!(first.iter().map(|e| e.hour).collect::<Vec<_>>(), [0, HOUR, 2 * HOUR]);
    assert_eq!(d.len(), 2);
    assert_eq!(d.get("cart", 1, 3 * HOUR).unwrap().page_views, 4);
    let rest = d.take_entries(3);
    assert_eq!(rest.iter().map(|e| e.page_views).collect::<Vec<_>>(), [4, 5]);
    assert!(d.is_empty() && d.take_entries(3).is_empty());
}

#[test]
fn merged_sums_saturate_instead_of_wrapping() {
    let big = || Delta {
        page_views: u64::MAX - 1,
        conversions: u64::MAX - 1,
        revenue: [("EUR".to_owned(), i64::MAX - 1)].into(),
        visitors: None,
    };
    let mut d = big();
    d.merge(big());
    assert_eq!((d.page_views, d.conversions, d.revenue["EUR"]), (u64::MAX, u64::MAX, i64::MAX));
}
