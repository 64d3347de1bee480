use super::*;

#[test]
fn cookie_finds_the_named_pair_only() {
    let h = "a=1; sy_v=cart.v12 ;sy_id=00ff; sy_vx=no";
    assert_eq!(cookie(h, "sy_v"), Some("cart.v12"));
    assert_eq!(cookie(h, "sy_id"), Some("00ff"));
    assert_eq!(cookie(h, "sy"), None);
    assert_eq!(cookie("", "sy_v"), None);
    assert_eq!(cookie("novalue; sy_v", "sy_v"), None);
}

#[test]
fn version_tags_round_trip_and_refuse_junk() {
    assert_eq!(version_tag("cart", 12), "cart.v12");
    assert_eq!(parse_version_tag("cart.v12"), Some(("cart", 12)));
    for bad in ["cart", "cart.12", "cart.v", "cart.v0", "cart.v012", ".v1", "cart.v1x", "cart.v99999999999999999999"] {
        assert_eq!(parse_version_tag(bad), None, "{bad}");
    }
}

#[test]
fn visitor_ids_are_exactly_32_hex_digits() {
    let id = VisitorId(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
    assert_eq!(id.to_hex(), "0123456789abcdef0011223344556677");
    assert_eq!(VisitorId::parse(&id.to_hex()), Some(id));
    assert_eq!(VisitorId::parse("0123456789ABCDEF0011223344556677"), Some(id));
    for bad in [
        "",
        "0123",
        "0123456789abcdef00112233445566778",
        "0123456789abcdef001122334455667g",
        "+123456789abcdef0011223344556677",
        "0123456789abcdeg0011223344556677",
        "0123456789abcdef 011223344556677",
        "0123456789abcdef001122334455667\u{e9}",
    ] {
        assert_eq!(VisitorId::parse(bad), None, "{bad}");
    }
    for bad in [&b"0123456789abcdef001122334455667\xff"[..], b"0123456789abcdef\x000112233445566778"] {
        assert_eq!(VisitorId::parse_bytes(bad), None, "{bad:?}");
    }
    // Every byte that is not a hex digit, at either end of either half.
    for b in (0..=255u8).filter(|b| !b.is_ascii_hexdigit()) {
        for at in [0, 15, 16, 31] {
            let mut digits = *b"0123456789abcdef0011223344556677";
            digits[at] = b;
            assert_eq!(VisitorId::parse_bytes(&digits), None, "{b:#04x} at {at}");
        }
    }
    // Every hex digit in every position, both halves.
    let all = VisitorId(0xfedc_ba98_7654_3210_0123_4567_89ab_cdef);
    assert_eq!(VisitorId::parse_bytes(all.to_hex().as_bytes()), Some(all));
    assert_eq!(VisitorId::parse_bytes(b"FEDCBA98765432100123456789ABCDEF"), Some(all));
}

/// The branch-free digits are `format!`'s, for every digit value in every position (each
/// nibble 0 to 15 across the id, and spread ids from a multiplicative sequence).
#[test]
fn hex_digits_are_the_formatted_ones() {
    let mut ids: Vec<u128> = (0..16u128).map(|n| n * 0x1111_1111_1111_1111_1111_1111_1111_1111).collect();
    ids.extend([0, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210, 0xa0b1_c2d3_e4f5_0617_2839_4a5b_6c7d_8e9f]);
    ids.extend((0..10_000u128).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)));
    for id in ids {
        let id = VisitorId(id);
        assert_eq!(std::str::from_utf8(&id.hex_digits()).unwrap(), id.to_hex(), "{:#034x}", id.0);
    }
}

#[test]
fn split_buckets_are_stable_and_spread_evenly() {
    // Fixed value: every edge and every build must agree on it.
    let first = split_bucket("cart", VisitorId(1));
    assert_eq!(first, split_bucket("cart", VisitorId(1)));
    let mut counts = [0u32; 100];
    for i in 0..100_000u128 {
        counts[split_bucket("cart", VisitorId(i.wrapping_mul(0x9e37_79b9_7f4a_7c15))) as usize] += 1;
    }
    // 1,000 expected per bucket; a fair hash stays well within ±20 %.
    assert!(counts.iter().all(|&c| (800..1200).contains(&c)), "{counts:?}");
}
