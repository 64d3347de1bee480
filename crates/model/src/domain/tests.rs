use super::*;

#[test]
fn good_names_are_lowered_and_kept() {
    assert_eq!(DomainName::new("Shop.Example.COM.").unwrap().as_str(), "shop.example.com");
    assert!(DomainName::new("*.example.com").unwrap().is_wildcard());
    assert!(DomainName::new("xn--bcher-kva.example").is_ok());
}

#[test]
fn bad_names_say_what_is_wrong() {
    let e = |s: &str| DomainName::new(s).unwrap_err().to_string();
    assert!(e("").contains("empty"));
    assert!(e("localhost").contains("at least two labels"));
    assert!(e("shop..example.com").contains("empty label"));
    assert!(e("sh_op.example.com").contains("'_'"));
    assert!(e("-shop.example.com").contains("hyphen"));
    assert!(e("a.*.example.com").contains("wildcard"));
    assert!(e("*.com").contains("wildcard"));
    assert!(e("sh*p.example.com").contains("wildcard"));
    assert!(e("127.0.0.1").contains("IP address"));
    assert!(e(&format!("{}.com", "a".repeat(64))).contains("63"));
    assert!(e(&format!("{}com", "abc.".repeat(70))).contains("253"));
}

#[test]
fn under_base() {
    let d = |s: &str| DomainName::new(s).unwrap();
    assert!(d("shop.test.example").is_under("test.example"));
    assert!(d("*.test.example").is_under("test.example"));
    assert!(d("test.example").is_under("test.example"));
    assert!(!d("mytest.example").is_under("test.example"));
}

#[test]
fn wildcards_cover_one_label() {
    assert!(name_covers("shop.example.com", "shop.example.com"));
    assert!(name_covers("SHOP.example.com", "shop.example.com"));
    assert!(name_covers("*.example.com", "a.example.com"));
    assert!(name_covers("*.example.com", "*.example.com"));
    assert!(!name_covers("*.example.com", "example.com"));
    assert!(!name_covers("*.example.com", "a.b.example.com"));
    assert!(!name_covers("shop.example.com", "*.example.com"));
    assert!(!name_covers("other.example.com", "shop.example.com"));
    assert_eq!(parent_of("a.example.com"), Some("example.com"));
    assert_eq!(parent_of("example.com"), None);
}
