use std::collections::BTreeMap;

use crate::hosts::{normalize_host, platform_host};
use crate::*;

#[test]
fn digest_round_trips_and_rejects_bad_hex() {
    let d = Digest::of(b"hello");
    assert_eq!(d.to_string(), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
    assert!("2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824".parse::<Digest>().is_err());
    assert!("abc".parse::<Digest>().is_err());
    assert!("../../../../etc/passwd".parse::<Digest>().is_err());
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
}

#[test]
fn names_are_dns_labels_without_double_hyphens() {
    assert!(Name::new("cart").is_ok());
    assert!(Name::new("my-shop-2").is_ok());
    assert_eq!(Name::new(""), Err(NameError::Empty));
    assert!(matches!(Name::new("Cart"), Err(NameError::BadChar { ch: 'C', .. })));
    assert!(matches!(Name::new("a_b"), Err(NameError::BadChar { ch: '_', .. })));
    assert!(matches!(Name::new("a.b"), Err(NameError::BadChar { ch: '.', .. })));
    assert!(matches!(Name::new("-a"), Err(NameError::EdgeHyphen(_))));
    assert!(matches!(Name::new("a-"), Err(NameError::EdgeHyphen(_))));
    assert!(matches!(Name::new("a--b"), Err(NameError::DoubleHyphen(_))));
    assert!(matches!(Name::new(&"a".repeat(64)), Err(NameError::TooLong(_))));
    assert!(Name::new(&"a".repeat(63)).is_ok());
    assert!(matches!(Name::channel("v2"), Err(NameError::LooksLikeVersion(_))));
    assert!(Name::channel("holiday").is_ok());
    assert!(Name::channel("v2beta").is_ok());
}

#[test]
fn version_labels() {
    assert_eq!(parse_version_label("v12"), Some(12));
    assert_eq!(parse_version_label("12"), Some(12));
    assert_eq!(parse_version_label("v0"), None);
    assert_eq!(parse_version_label("v01"), None);
    assert_eq!(parse_version_label("v"), None);
    assert_eq!(parse_version_label("v-1"), None);
    assert_eq!(version_label(3), "v3");
}

#[test]
fn manifest_paths_are_clean_and_relative() {
    assert!(Manifest::check_path("index.html").is_ok());
    assert!(Manifest::check_path("assets/app.3f9a1c2b.js").is_ok());
    assert!(Manifest::check_path("name with spaces/é.txt").is_ok());
    assert_eq!(Manifest::check_path(""), Err(ManifestError::EmptyPath));
    assert!(matches!(Manifest::check_path("/etc/passwd"), Err(ManifestError::Absolute(_))));
    assert!(matches!(Manifest::check_path("a/../../b"), Err(ManifestError::DotDot(_))));
    assert!(matches!(Manifest::check_path(".."), Err(ManifestError::DotDot(_))));
    assert!(matches!(Manifest::check_path("a\\b"), Err(ManifestError::Backslash(_))));
    assert!(matches!(Manifest::check_path("a\0b"), Err(ManifestError::ControlChar(_))));
    assert!(matches!(Manifest::check_path("a\nb"), Err(ManifestError::ControlChar(_))));
    assert!(matches!(Manifest::check_path("a//b"), Err(ManifestError::EmptySegment(_))));
    assert!(matches!(Manifest::check_path("./a"), Err(ManifestError::EmptySegment(_))));
    assert!(matches!(Manifest::check_path("a/"), Err(ManifestError::EmptySegment(_))));
}

#[test]
fn manifest_json_is_canonical_and_checked() {
    let entry = FileEntry { sha256: Digest::of(b"x"), size: 1, content_type: "text/plain".into(), encodings: vec![] };
    let a = Manifest::new(BTreeMap::from([("b".into(), entry.clone()), ("a".into(), entry.clone())]));
    let json = a.to_canonical_json();
    assert_eq!(Manifest::from_json(&json).unwrap(), a);
    assert!(String::from_utf8(json).unwrap().find("\"a\"").unwrap() > 0);
    let evil = br#"{"format":1,"files":{"../x":{"sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","size":1,"content_type":"text/plain"}}}"#;
    assert!(matches!(Manifest::from_json(evil), Err(ManifestError::DotDot(_))));
    assert!(matches!(Manifest::from_json(b"{"), Err(ManifestError::Json(_))));
}

#[test]
fn hosts() {
    assert_eq!(platform_host("cart", &Selector::Channel(LIVE.into()), "localhost"), "cart.localhost");
    assert_eq!(platform_host("cart", &Selector::Channel("preview".into()), "x.io"), "preview--cart.x.io");
    assert_eq!(platform_host("cart", &Selector::Version(3), "x.io"), "v3--cart.x.io");
    assert_eq!(normalize_host("Cart.LocalHost:8080"), "cart.localhost");
    assert_eq!(normalize_host("cart.localhost."), "cart.localhost");
    assert_eq!(normalize_host("[::1]:80"), "[::1]");
    assert_eq!(normalize_host("[::1]"), "[::1]");
    assert_eq!(normalize_host("SHOP.example.com.:443"), "shop.example.com");
    assert_eq!(normalize_host("shop.example.com:"), "shop.example.com");
    assert_eq!(normalize_host("shop.example.com:44x"), "shop.example.com:44x", "not a port: no host matches it");
    assert!(matches!(normalize_host("shop.example.com:8443"), std::borrow::Cow::Borrowed("shop.example.com")));
}

/// `normalize_host` scans bytes backwards; this is the rule it implements, spelled with
/// `str` methods, checked on every string of up to five characters from a small alphabet
/// (digits, `:`, `.`, `]`, both cases and a two-byte character).
#[test]
fn normalize_host_agrees_with_its_rule_on_every_short_string() {
    fn rule(host: &str) -> String {
        let without_port = match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        without_port.trim_end_matches('.').to_ascii_lowercase()
    }
    let alphabet = ["a", "A", ":", "1", ".", "]", "é"];
    let mut all = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..5 {
        last = last.iter().flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}"))).collect();
        all.extend(last.iter().cloned());
    }
    assert_eq!(all.len(), 1 + 7 + 49 + 343 + 2401 + 16807);
    for host in &all {
        let got = normalize_host(host);
        assert_eq!(got, rule(host), "{host:?}");
        let lower = !host.bytes().any(|b| b.is_ascii_uppercase());
        assert_eq!(matches!(got, std::borrow::Cow::Borrowed(_)), lower, "{host:?}: borrows iff nothing to lower-case");
    }
}

/// `Pattern::matches` and `is_match` walk the path without splitting it into a vector; this
/// is the rule they implement (split on '/', empty segments dropped, the splat the rest joined
/// by '/'), checked for several patterns on every path of up to seven characters from '/',
/// 'a' and 'b'.
#[test]
fn pattern_matching_agrees_with_its_rule_on_every_short_path() {
    use crate::rules::Pattern;
    fn rule(pattern: &str, path: &str) -> Option<(Vec<String>, Option<String>)> {
        let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
        let splat = segments.last() == Some(&"*");
        let fixed = &segments[..segments.len() - usize::from(splat)];
        let mut parts = path.split('/').filter(|s| !s.is_empty());
        let mut named = Vec::new();
        for segment in fixed {
            let part = parts.next()?;
            match segment.strip_prefix(':') {
                Some(_) => named.push(part.to_owned()),
                None if *segment == part => {}
                None => return None,
            }
        }
        let rest: Vec<&str> = parts.collect();
        match splat {
            true => Some((named, Some(rest.join("/")))),
            false if rest.is_empty() => Some((named, None)),
            false => None,
        }
    }
    let patterns = ["/", "/a", "/a/*", "/*", "/:x", "/:x/*", "/a/:x/b", "/:x/:y", "/b/a/*"];
    let mut paths = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..7 {
        last = last.iter().flat_map(|p| ["/", "a", "b"].map(|c| format!("{p}{c}"))).collect();
        paths.extend(last.iter().cloned());
    }
    let mut matched = 0;
    for pattern in patterns {
        let p = Pattern::parse(pattern).unwrap();
        for path in &paths {
            let want = rule(pattern, path);
            let got = p.matches(path).map(|c| (c.named.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), c.splat));
            assert_eq!(got, want, "{pattern} on {path:?}");
            assert_eq!(p.is_match(path), want.is_some(), "{pattern} on {path:?}");
            matched += usize::from(want.is_some());
        }
    }
    assert_eq!(paths.len(), 3280);
    assert!(matched > 3000, "the patterns match a fair share: {matched}");
}

#[test]
fn patterns_match_like_netlify() {
    use crate::rules::{Pattern, PatternError};
    let p = Pattern::parse("/blog/*").unwrap();
    assert_eq!(p.matches("/blog/2024/post").unwrap().expand("/news/:splat"), "/news/2024/post");
    assert_eq!(p.matches("/blog/").unwrap().expand("/news/:splat"), "/news/");
    assert!(p.matches("/blogs/x").is_none());
    assert_eq!(p.matches("/blog/x").unwrap().expand("/index.html"), "/index.html", "nothing to expand");
    let p = Pattern::parse("/p/:id").unwrap();
    assert_eq!(p.matches("/p/42").unwrap().expand("/product?id=:id"), "/product?id=42");
    assert_eq!(p.matches("/p/42/").unwrap().expand("/x/:id"), "/x/42", "a trailing slash is ignored");
    assert!(p.matches("/p/42/more").is_none());
    assert!(p.matches("/p").is_none());
    let p = Pattern::parse("/").unwrap();
    assert!(p.matches("/").is_some() && p.matches("/a").is_none());
    let p = Pattern::parse("/:a/:ab/*").unwrap();
    assert_eq!(p.names().collect::<Vec<_>>(), ["a", "ab", "splat"]);
    assert_eq!(p.matches("/x/y/z").unwrap().expand(":ab-:a-:splat"), "y-x-z");
    assert_eq!(Pattern::parse("blog"), Err(PatternError::NotAbsolute("blog".into())));
    assert!(matches!(Pattern::parse("/*/x"), Err(PatternError::SplatNotLast(_))));
    assert!(matches!(Pattern::parse("/a*"), Err(PatternError::SplatNotLast(_))));
    assert!(matches!(Pattern::parse("/:bad-name"), Err(PatternError::BadPlaceholder(..))));
}
