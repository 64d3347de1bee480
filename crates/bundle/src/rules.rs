//! Parsing and validating a bundle's serving rules at deploy time: `_redirects` and `_headers`
//! (Netlify / Cloudflare Pages syntax) and the `[site]` table of `switchyard.toml`. A bad line
//! fails the deploy with its file, line number and reason.

use http_header::{is_token, is_value};
use switchyard_model::rules::{HeaderRule, Pattern, Redirect, SiteRules, TrailingSlash};

/// Files at the bundle root that configure the version and are not served.
pub const CONFIG_FILES: [&str; 3] = ["_redirects", "_headers", "switchyard.toml"];
/// Largest rules file accepted.
pub const MAX_RULES_FILE: u64 = 1024 * 1024;
const MAX_RULES: usize = 10_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file} line {line}: {reason}")]
pub struct RuleError {
    pub file: &'static str,
    pub line: usize,
    pub reason: String,
}

fn err(file: &'static str, line: usize, reason: impl Into<String>) -> RuleError {
    RuleError { file, line, reason: reason.into() }
}

/// Parses `_redirects`: `from to [status][!]` per line, `#` comments.
pub fn parse_redirects(text: &str) -> Result<Vec<Redirect>, RuleError> {
    const F: &str = "_redirects";
    let mut rules = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        // `#` starts a comment at the start of a line or after white space; inside a target
        // (`https://x.io/guide#install`) it is part of the URL.
        let comment = raw.match_indices('#').find(|(i, _)| *i == 0 || raw[..*i].ends_with([' ', '\t'])).map(|(i, _)| i);
        let content = comment.map_or(raw, |i| &raw[..i]).trim();
        if content.is_empty() {
            continue;
        }
        let fields: Vec<&str> = content.split_whitespace().collect();
        let (from, to, status_field) = match fields.as_slice() {
            [from, to] => (*from, *to, None),
            [from, to, status] => (*from, *to, Some(*status)),
            [_] => return Err(err(F, line, "a rule needs a source and a target: `/from /to [status]`")),
            _ => return Err(err(F, line, format!("unexpected {:?}: a rule is `/from /to [status][!]`", fields[3]))),
        };
        let (status, force) = match status_field {
            None => (301, false),
            Some(s) => {
                let (digits, force) = s.strip_suffix('!').map_or((s, false), |d| (d, true));
                let status: u16 = digits.parse().map_err(|_| err(F, line, format!("status {s:?} is not a number")))?;
                (status, force)
            }
        };
        if ![200, 301, 302, 303, 307, 308, 404, 410].contains(&status) {
            return Err(err(F, line, format!("status {status} is not one of 200, 301, 302, 303, 307, 308, 404, 410")));
        }
        let pattern = Pattern::parse(from).map_err(|e| err(F, line, e.to_string()))?;
        let absolute = to.starts_with("https://") || to.starts_with("http://");
        if !absolute && !to.starts_with('/') {
            return Err(err(F, line, format!("target {to:?} must start with '/' or https://")));
        }
        if absolute && matches!(status, 200 | 404 | 410) {
            return Err(err(
                F,
                line,
                format!(
                    "status {status} serves a file of this site; {to:?} is another site (proxying is not supported)"
                ),
            ));
        }
        if to.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(err(F, line, "target contains a control character"));
        }
        let names: Vec<&str> = pattern.names().collect();
        for used in placeholders_in(to) {
            if !names.contains(&used) {
                return Err(err(F, line, format!("target uses :{used}, which {from:?} does not define")));
            }
        }
        rules.push(Redirect { from: from.to_owned(), to: to.to_owned(), status, force });
        if rules.len() > MAX_RULES {
            return Err(err(F, line, format!("more than {MAX_RULES} rules")));
        }
    }
    Ok(rules)
}

/// `:name` tokens in a target (path or query), excluding the `:` of a URL scheme or port.
fn placeholders_in(target: &str) -> impl Iterator<Item = &str> {
    let body = target.split_once("://").map_or(target, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p));
    body.match_indices(':')
        .map(move |(i, _)| {
            let rest = &body[i + 1..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|name| !name.is_empty())
}

/// Parses `_headers`: an unindented path pattern, then indented `Name: value` or `! Name` lines.
pub fn parse_headers(text: &str) -> Result<Vec<HeaderRule>, RuleError> {
    const F: &str = "_headers";
    let mut rules: Vec<HeaderRule> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indented = raw.starts_with(' ') || raw.starts_with('\t');
        if !indented {
            Pattern::parse(trimmed).map_err(|e| err(F, line, e.to_string()))?;
            rules.push(HeaderRule { path: trimmed.to_owned(), set: Vec::new(), remove: Vec::new() });
            if rules.len() > MAX_RULES {
                return Err(err(F, line, format!("more than {MAX_RULES} rules")));
            }
            continue;
        }
        let Some(rule) = rules.last_mut() else {
            return Err(err(F, line, "a header line comes before any path; start a block with a path like /*"));
        };
        if let Some(name) = trimmed.strip_prefix('!') {
            let name = name.trim().to_ascii_lowercase();
            check_name(&name).map_err(|r| err(F, line, r))?;
            rule.remove.push(name);
            continue;
        }
        let Some((name, value)) = trimmed.split_once(':') else {
            return Err(err(F, line, format!("{trimmed:?} is neither `Name: value` nor `! Name`")));
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        check_name(&name).map_err(|r| err(F, line, r))?;
        if !is_value(value) {
            return Err(err(F, line, format!("the value of {name} contains a character not allowed in a header")));
        }
        rule.set.push((name, value.to_owned()));
    }
    Ok(rules)
}

/// Headers a bundle may not set or remove: they describe the bytes and the connection, which
/// the edge alone knows.
const RESERVED: [&str; 9] = [
    "content-length",
    "content-encoding",
    "content-range",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "x-switchyard-app",
    "x-switchyard-version",
];

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || !is_token(name) {
        return Err(format!("{name:?} is not a valid header name"));
    }
    if RESERVED.contains(&name) {
        return Err(format!("{name} is set by the edge and cannot be changed by _headers"));
    }
    Ok(())
}

/// `switchyard.toml`: serving settings under `[site]`; `app` and `dir` (used by the CLI) at the
/// top level; anything else is an error. One parser serves the bundle and the CLI.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteToml {
    app: Option<String>,
    dir: Option<String>,
    #[serde(default)]
    site: SiteTable,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SiteTable {
    spa_fallback: Option<String>,
    #[serde(default)]
    clean_urls: bool,
    #[serde(default)]
    trailing_slash: TrailingSlash,
    not_found: Option<String>,
}

fn parse_toml(text: &str) -> Result<SiteToml, RuleError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        err("switchyard.toml", line, e.message().to_owned())
    })
}

/// What the CLI reads from a project's `switchyard.toml`: the app and the build output
/// directory (relative to the file). The `[site]` table is checked too, so a bad file fails
/// before anything is uploaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    pub app: Option<String>,
    pub dir: Option<String>,
}

pub fn parse_project(text: &str) -> Result<Project, RuleError> {
    let file = parse_toml(text)?;
    parse_site_toml(text, &mut SiteRules::default())?;
    Ok(Project { app: file.app, dir: file.dir })
}

/// Parses the `[site]` table of `switchyard.toml` into `rules`.
pub fn parse_site_toml(text: &str, rules: &mut SiteRules) -> Result<(), RuleError> {
    const F: &str = "switchyard.toml";
    let file = parse_toml(text)?;
    let site = file.site;
    for path in [&site.spa_fallback, &site.not_found].into_iter().flatten() {
        switchyard_model::Manifest::check_path(path.trim_start_matches('/'))
            .map_err(|e| err(F, 0, format!("[site] {e}")))?;
    }
    rules.spa_fallback = site.spa_fallback.map(|p| p.trim_start_matches('/').to_owned());
    rules.clean_urls = site.clean_urls;
    rules.trailing_slash = site.trailing_slash;
    rules.not_found = site.not_found.map(|p| p.trim_start_matches('/').to_owned());
    Ok(())
}

/// Header syntax per RFC 9110, without pulling in an HTTP crate for two predicates.
mod http_header {
    pub(super) fn is_token(s: &str) -> bool {
        s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    }

    pub(super) fn is_value(s: &str) -> bool {
        s.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_parse_with_defaults_and_force() {
        let rules = parse_redirects(
            "# comment\n/old /new\n/blog/* /news/:splat 302\n/p/:id /product?id=:id 200\n/app/* /index.html 200!\n\n/x https://example.com/y 308 # trailing\n",
        )
        .unwrap();
        assert_eq!(rules.len(), 5);
        assert_eq!(rules[0], Redirect { from: "/old".into(), to: "/new".into(), status: 301, force: false });
        assert_eq!((rules[1].status, rules[2].status, rules[3].force), (302, 200, true));
        assert_eq!(rules[4].to, "https://example.com/y");
        let rules = parse_redirects("/docs https://x.io/guide#install 301 # jump to the install part\n").unwrap();
        assert_eq!(rules[0].to, "https://x.io/guide#install");
    }

    #[test]
    fn bad_redirect_lines_name_their_line() {
        let cases = [
            ("/a /b\n/only-one\n", 2, "needs a source and a target"),
            ("/a /b 299\n", 1, "status 299 is not one of"),
            ("/a /b abc\n", 1, "is not a number"),
            ("\n\nrel /b\n", 3, "must start with '/'"),
            ("/a b\n", 1, "target \"b\" must start with '/'"),
            ("/a /b/:id\n", 1, "uses :id, which \"/a\" does not define"),
            ("/a /b/:splat\n", 1, "uses :splat"),
            ("/a https://x.io/ 200\n", 1, "proxying is not supported"),
            ("/a /b 301 Country=us\n", 1, "unexpected \"Country=us\""),
            ("/*/x /b\n", 1, "may only stand as the last segment"),
        ];
        for (text, line, needle) in cases {
            let e = parse_redirects(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().contains(needle), "{text:?}: {e}");
            assert!(e.to_string().starts_with(&format!("_redirects line {line}: ")), "{e}");
        }
        assert!(parse_redirects("/a https://x.io:8443/:id 301\n").is_err(), "the port is not a placeholder, :id is");
        assert!(parse_redirects("/a/:id https://x.io:8443/:id 301\n").is_ok());
    }

    #[test]
    fn headers_parse_blocks_and_removals() {
        let rules = parse_headers(
            "/*\n  X-Frame-Options: DENY\n  ! X-Robots-Tag\n/assets/*\n\tCache-Control: public, max-age=60\n",
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].set, [("x-frame-options".to_owned(), "DENY".to_owned())]);
        assert_eq!(rules[0].remove, ["x-robots-tag"]);
        assert_eq!(rules[1].set[0].1, "public, max-age=60");
    }

    #[test]
    fn bad_header_lines_name_their_line() {
        let cases = [
            ("  X-A: b\n", 1, "before any path"),
            ("/*\n  no colon here\n", 2, "neither `Name: value`"),
            ("/*\n  Bad Name: x\n", 2, "not a valid header name"),
            ("/*\n  Content-Length: 5\n", 2, "set by the edge"),
            ("/*\n  ! x-switchyard-version\n", 2, "set by the edge"),
            ("/*\n  X-A: b\nrelative\n", 3, "must start with '/'"),
            ("/*\n  X-A: a\u{7}b\n", 2, "not allowed in a header"),
        ];
        for (text, line, needle) in cases {
            let e = parse_headers(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn site_toml() {
        let mut rules = SiteRules::default();
        parse_site_toml(
            "app = \"cart\"\n[site]\nspa_fallback = \"/index.html\"\nclean_urls = true\ntrailing_slash = \"remove\"\n",
            &mut rules,
        )
        .unwrap();
        assert_eq!(rules.spa_fallback.as_deref(), Some("index.html"));
        assert!(rules.clean_urls);
        assert_eq!(rules.trailing_slash, TrailingSlash::Remove);
        let e = parse_site_toml("[site]\nspa_fallback = \"index.html\"\nclean_url = true\n", &mut rules).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.to_string().contains("unknown field `clean_url`"), "{e}");
        let e = parse_site_toml("[site]\ntrailing_slash = \"sometimes\"\n", &mut rules).unwrap_err();
        assert!(e.to_string().contains("switchyard.toml line 2"), "{e}");
        let e = parse_site_toml("[site]\nnot_found = \"../x.html\"\n", &mut rules).unwrap_err();
        assert!(e.to_string().contains("'..'"), "{e}");
    }
}
