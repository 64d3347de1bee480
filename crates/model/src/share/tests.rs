use base64::Engine as _;

use super::*;

fn claims() -> ShareClaims {
    ShareClaims {
        id: "0123456789abcdef0123456789abcdef".into(),
        app: "cart".into(),
        scope: "preview".into(),
        exp: 1000,
    }
}

/// A stand-in signature: tests here check the encoding; the edge's tests verify real ones.
fn fake_sign(payload: &[u8]) -> [u8; 64] {
    let mut s = [0u8; 64];
    for (i, b) in payload.iter().enumerate() {
        s[i % 64] ^= b;
    }
    s
}

#[test]
fn tokens_round_trip_and_the_signature_covers_the_payload_bytes() {
    let token = encode(&claims(), fake_sign);
    assert!(token.len() < 300, "{token}");
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'), "{token}");
    let parsed = parse(&token).unwrap();
    assert_eq!(parsed.claims, claims());
    assert_eq!(parsed.signature, fake_sign(&parsed.payload));
    assert_eq!(parsed.payload, serde_json::to_vec(&claims()).unwrap());
}

#[test]
fn malformed_tokens_are_refused_before_any_claim_is_read() {
    let good = encode(&claims(), fake_sign);
    let (payload, signature) = good.split_once('.').unwrap();
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let cases: Vec<(String, ShareError)> = vec![
        (String::new(), ShareError::Encoding),
        ("nodot".into(), ShareError::Encoding),
        (format!("{payload}."), ShareError::Encoding),
        (format!(".{signature}"), ShareError::Payload),
        (format!("{payload}={signature}"), ShareError::Encoding),
        (format!("{payload}.{signature}="), ShareError::Encoding),
        (format!("{payload}.{}", b64(&[0; 63])), ShareError::Encoding),
        (format!("{payload}.{}", b64(&[0; 65])), ShareError::Encoding),
        (format!("{payload}+.{signature}"), ShareError::Encoding),
        (format!("{payload}.{signature}.{signature}"), ShareError::Encoding),
        ("a".repeat(MAX_TOKEN_LEN + 1), ShareError::TooLong),
        (format!("{}.{signature}", b64(b"not json")), ShareError::Payload),
        (format!("{}.{signature}", b64(br#"{"id":"x","app":"cart","scope":"preview","exp":1}"#)), ShareError::Payload),
        (
            format!(
                "{}.{signature}",
                b64(
                    br#"{"id":"0123456789abcdef0123456789abcdef","app":"cart","scope":"preview","exp":1,"admin":true}"#
                )
            ),
            ShareError::Payload,
        ),
        (
            format!(
                "{}.{signature}",
                b64(br#"{"id":"0123456789abcdef0123456789abcdef","app":"","scope":"p","exp":1}"#)
            ),
            ShareError::Payload,
        ),
        (
            format!(
                "{}.{signature}",
                b64(br#"{"id":"0123456789ABCDEF0123456789ABCDEF","app":"cart","scope":"preview","exp":1}"#)
            ),
            ShareError::Payload,
        ),
    ];
    for (token, want) in cases {
        assert_eq!(parse(&token), Err(want), "{token:?}");
    }
}

#[test]
fn claims_open_only_their_app_and_scope_until_they_expire() {
    let c = claims();
    assert_eq!(c.check("cart", "preview", 999), Ok(()));
    assert_eq!(c.check("cart", "preview", 1000), Err(ShareError::Expired));
    assert_eq!(c.check("cart", "preview", 5000), Err(ShareError::Expired));
    assert_eq!(c.check("shop", "preview", 1), Err(ShareError::OtherApp));
    assert_eq!(c.check("cart", "v3", 1), Err(ShareError::OtherScope));
    assert_eq!(c.check("cart", "holiday", 1), Err(ShareError::OtherScope));
}

#[test]
fn public_keys_round_trip_as_text() {
    let key = [7u8; 32];
    assert_eq!(parse_public_key(&public_key_text(&key)), Some(key));
    assert_eq!(parse_public_key(&public_key_text(&[7u8; 31])), None);
    assert_eq!(parse_public_key("not base64!"), None);
    assert_eq!(parse_public_key(&"A".repeat(1000)), None);
}

#[test]
fn scopes_and_ids() {
    assert_eq!(scope_of(&Selector::Channel("preview".into())), "preview");
    assert_eq!(scope_of(&Selector::Version(3)), "v3");
    assert!(is_share_id("0123456789abcdef0123456789abcdef"));
    assert!(!is_share_id("0123456789abcdef0123456789abcde"));
    assert!(!is_share_id("0123456789abcdef0123456789abcdeg"));
    assert!(!is_share_id("../../../../../../../../etc/pass"));
}

#[test]
fn the_token_is_found_in_and_removed_from_the_query() {
    assert_eq!(query_token("sy_share=abc.def"), Some("abc.def"));
    assert_eq!(query_token("a=1&sy_share=abc.def&b=2"), Some("abc.def"));
    assert_eq!(query_token("xsy_share=abc"), None);
    assert_eq!(query_token("sy_shares=abc"), None);
    assert_eq!(query_token("a=1"), None);
    assert_eq!(without_token("/", "sy_share=abc"), "/");
    assert_eq!(without_token("/cart", "a=1&sy_share=abc&b=2"), "/cart?a=1&b=2");
    assert_eq!(without_token("/x", "sy_share=1&sy_share=2&&c"), "/x?c");
}
