//! From a decoded request path to what to serve, in the order Netlify and Cloudflare Pages
//! use: an existing file (unless a forced rule matches) → `_redirects` rules in order, first
//! match wins → trailing-slash and clean-URL handling → the SPA fallback for navigation
//! requests → the site's 404 page.

use std::borrow::Cow;

use http::StatusCode;
use http::header::HeaderValue;
use switchyard_model::rules::TrailingSlash;

use crate::sites::{File, Site};

/// A request path, split and decoded segment by segment. Borrows from the request when the
/// path needs no decoding (the common case), so look-ups allocate nothing.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct RequestPath<'a> {
    /// Decoded, without leading or trailing slash, duplicate slashes collapsed: a manifest key.
    pub(super) key: Cow<'a, str>,
    pub(super) trailing_slash: bool,
    /// `/` + key (+ `/`): what rules match against.
    pub(super) display: Cow<'a, str>,
    /// A decoded segment held a `/` or `\`: no file can have this name.
    pub(super) impossible: bool,
}

/// Splits on `/` first, then percent-decodes each segment once.
pub(super) fn decode_path(raw: &str) -> Result<RequestPath<'_>, &'static str> {
    match plain_path(raw) {
        Some(plain) => Ok(plain),
        None => decode_segments(raw),
    }
}

fn decode_segments(raw: &str) -> Result<RequestPath<'_>, &'static str> {
    let mut key = String::with_capacity(raw.len());
    let mut impossible = false;
    for segment in raw.split('/') {
        if segment.is_empty() || segment == "." {
            continue;
        }
        let decoded = percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .map_err(|_| "bad request: path is not valid UTF-8\n")?;
        if decoded.chars().any(char::is_control) {
            return Err("bad request: path contains a control character\n");
        }
        match &*decoded {
            ".." => return Err("bad request: path contains '..'\n"),
            "." => continue,
            s if s.contains('/') || s.contains('\\') => impossible = true,
            _ => {}
        }
        if !key.is_empty() {
            key.push('/');
        }
        key.push_str(&decoded);
    }
    let trailing_slash = raw.ends_with('/') && !key.is_empty();
    let mut display = format!("/{key}");
    if trailing_slash {
        display.push('/');
    }
    Ok(RequestPath { key: Cow::Owned(key), trailing_slash, display: Cow::Owned(display), impossible })
}

/// The path as it came, when decoding would not change it: rooted, printable ASCII without
/// `%` or `\\`, and no empty, `.` or `..` segment but for one trailing slash. This runs on every
/// request: the bytes are checked without a branch per byte (which the compiler turns into
/// vector instructions), and segments only when a `/` is followed by `/` or `.`.
fn plain_path(raw: &str) -> Option<RequestPath<'_>> {
    let rest = raw.strip_prefix('/')?;
    let bytes = raw.as_bytes();
    let printable = bytes.iter().fold(true, |ok, &b| ok & b.is_ascii_graphic() & (b != b'%') & (b != b'\\'));
    let suspect =
        bytes.iter().zip(&bytes[1..]).fold(false, |seen, (&a, &b)| seen | ((a == b'/') & ((b == b'/') | (b == b'.'))));
    if !printable || (suspect && !plain_segments(rest)) {
        return None;
    }
    let key = rest.strip_suffix('/').unwrap_or(rest);
    let trailing_slash = !key.is_empty() && rest.len() > key.len();
    let display = if key.is_empty() { "/" } else { raw };
    Some(RequestPath { key: Cow::Borrowed(key), trailing_slash, display: Cow::Borrowed(display), impossible: false })
}

/// No segment of `rest` (the path after its leading `/`) is empty, `.` or `..`, but for an
/// empty last one (a trailing slash, or `/` itself).
fn plain_segments(rest: &str) -> bool {
    let mut segments = rest.split('/');
    let last = segments.next_back().unwrap_or_default();
    segments.all(|s| !matches!(s, "" | "." | "..")) && !matches!(last, "." | "..")
}

pub(super) enum Resolved<'a> {
    File {
        file: &'a File,
        status: StatusCode,
    },
    Redirect {
        status: StatusCode,
        location: String,
    },
    /// A short text answer with this status (404, 410) when no page is there to serve.
    Plain(StatusCode),
}

impl Resolved<'_> {
    /// Nothing at this path: a 404 (the site's page or a short text).
    pub(super) fn is_not_found(&self) -> bool {
        matches!(self, Resolved::Plain(StatusCode::NOT_FOUND) | Resolved::File { status: StatusCode::NOT_FOUND, .. })
    }
}

/// What a path finds among the files alone.
enum Static<'a> {
    File(&'a File),
    Redirect(String),
}

/// What `site` answers for `path`; `navigation` (see [`is_navigation`]) allows the SPA fallback.
pub(super) fn resolve<'a>(
    site: &'a Site,
    path: &RequestPath<'_>,
    navigation: bool,
    query: Option<&str>,
) -> Resolved<'a> {
    if path.impossible {
        // A name holding `/` or `\` matches no file, and is no input for rules either.
        return not_found(site, StatusCode::NOT_FOUND);
    }
    let found = lookup(site, path);
    let file_exists = matches!(found, Some(Static::File(_)));
    for rule in &site.redirects {
        if file_exists && !rule.force {
            continue;
        }
        // A target without ':' takes nothing from the path (no placeholder, no `:splat`):
        // matched without capturing, used as it is.
        let target = if rule.to.contains(':') {
            let Some(mut captures) = rule.pattern.matches(&path.display) else { continue };
            // Captured text was decoded; encode it again so that it cannot change the target's
            // structure (`%5C` → `\` would make `/\evil.com`, which browsers read as `//`).
            for (_, value) in &mut captures.named {
                *value = encode_segment(value);
            }
            if let Some(splat) = &mut captures.splat {
                *splat = encode_path(splat);
            }
            Cow::Owned(captures.expand(&rule.to))
        } else if rule.pattern.is_match(&path.display) {
            Cow::Borrowed(rule.to.as_str())
        } else {
            continue;
        };
        return match rule.status {
            200 => serve_target(site, &target, StatusCode::OK),
            404 => serve_target(site, &target, StatusCode::NOT_FOUND),
            410 => serve_target(site, &target, StatusCode::GONE),
            status => Resolved::Redirect {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::MOVED_PERMANENTLY),
                location: with_query(target.into_owned(), query),
            },
        };
    }
    match found {
        Some(Static::File(file)) => return Resolved::File { file, status: StatusCode::OK },
        Some(Static::Redirect(location)) => {
            return Resolved::Redirect { status: StatusCode::MOVED_PERMANENTLY, location: with_query(location, query) };
        }
        None => {}
    }
    if let Some(fallback) = &site.spa_fallback
        && navigation
        && let Some(file) = site.file(fallback)
    {
        return Resolved::File { file, status: StatusCode::OK };
    }
    not_found(site, StatusCode::NOT_FOUND)
}

/// The file `site` answers for `path` with a 200 under the path's own name: no rewrite,
/// directory index, clean URL or fallback. What another version of a split may answer for a
/// fingerprinted asset (see `tagging::split_others`).
pub(super) fn exact_file<'a>(
    site: &'a Site,
    path: &RequestPath<'_>,
    navigation: bool,
    query: Option<&str>,
) -> Option<&'a File> {
    let file = site.file(&path.key)?;
    match resolve(site, path, navigation, query) {
        Resolved::File { file: served, status: StatusCode::OK } if std::ptr::eq(served, file) => Some(file),
        _ => None,
    }
}

/// Serves the file a rewrite (or 404/410 rule) points at: the target's exact file, its
/// directory index or its `.html` page, never another rule, so that rules cannot loop.
fn serve_target<'a>(site: &'a Site, target: &str, status: StatusCode) -> Resolved<'a> {
    let path_part = target.split(['?', '#']).next().unwrap_or("");
    let found = decode_path(path_part).ok().filter(|p| !p.impossible).and_then(|path| {
        let key = &*path.key;
        if key.is_empty() {
            return site.file("index.html");
        }
        site.file(key).or_else(|| site.file(&format!("{key}.html"))).or_else(|| site.file(&format!("{key}/index.html")))
    });
    match found {
        Some(file) => Resolved::File { file, status },
        None if status != StatusCode::OK => Resolved::Plain(status),
        None => not_found(site, StatusCode::NOT_FOUND),
    }
}

fn not_found(site: &Site, status: StatusCode) -> Resolved<'_> {
    match site.not_found.as_deref().and_then(|page| site.file(page)) {
        Some(file) => Resolved::File { file, status },
        None => Resolved::Plain(status),
    }
}

/// The files alone: exact names, directory indexes, clean URLs, trailing-slash policy.
fn lookup<'a>(site: &'a Site, path: &RequestPath<'_>) -> Option<Static<'a>> {
    let key = &path.key;
    if key.is_empty() {
        return site.file("index.html").map(Static::File);
    }
    if !path.trailing_slash
        && let Some(file) = site.file(key)
    {
        if site.clean_urls
            && let Some(stem) = key.strip_suffix(".html")
        {
            let clean = match stem.strip_suffix("index") {
                Some(dir) if dir.is_empty() || dir.ends_with('/') => format!("/{}", encode_path(dir)),
                _ => format!("/{}", encode_path(stem)),
            };
            return Some(Static::Redirect(clean));
        }
        return Some(Static::File(file));
    }
    // The directory index, then (with clean URLs) the `.html` page: both names in one buffer
    // (every 404 and rewrite comes this way; `format!` cost two allocations and a grow).
    let mut name = String::with_capacity(key.len() + "/index.html".len());
    name.push_str(key);
    name.push_str("/index.html");
    let index = site.file(&name);
    let html = if site.clean_urls {
        name.truncate(key.len());
        name.push_str(".html");
        site.file(&name)
    } else {
        None
    };
    if path.trailing_slash {
        let exists = index.is_some() || site.has(key) || html.is_some();
        if site.trailing_slash == TrailingSlash::Remove && exists {
            return Some(Static::Redirect(format!("/{}", encode_path(key))));
        }
        return index.or(html).map(Static::File);
    }
    let add = site.trailing_slash == TrailingSlash::Add && !has_extension(key);
    if let Some(file) = index {
        return Some(match site.trailing_slash {
            TrailingSlash::Remove => Static::File(file),
            TrailingSlash::Keep | TrailingSlash::Add => Static::Redirect(format!("/{}/", encode_path(key))),
        });
    }
    let file = html?;
    Some(if add { Static::Redirect(format!("/{}/", encode_path(key))) } else { Static::File(file) })
}

/// The last segment of `key` has a `.` (a file extension); read from the end, on every request.
fn has_extension(key: &str) -> bool {
    key.bytes().rev().take_while(|&b| b != b'/').any(|b| b == b'.')
}

/// A request for a page rather than an asset: no file extension, or `Accept: text/html`.
pub(super) fn is_navigation(path: &RequestPath<'_>, accept: Option<&HeaderValue>) -> bool {
    !has_extension(&path.key) || accept.and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// Characters percent-encoded in one path segment: controls, space, non-ASCII, and everything
/// with a meaning in a URL (`/`, `\`, `?`, `#`, `%`, quotes, brackets).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'^')
    .add(b'[')
    .add(b']');

fn encode_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// Encodes each `/`-separated segment of a decoded key for use in a URL.
fn encode_path(key: &str) -> String {
    key.split('/').map(encode_segment).collect::<Vec<_>>().join("/")
}

/// Keeps the request's query string on a redirect whose target has none.
fn with_query(target: String, query: Option<&str>) -> String {
    match query {
        Some(q) if !q.is_empty() && !target.contains('?') => format!("{target}?{q}"),
        _ => target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths_are_decoded_per_segment() {
        let p = decode_path("/a//b/./c%20d.txt").unwrap();
        assert_eq!(
            (&*p.key, p.trailing_slash, &*p.display, p.impossible),
            ("a/b/c d.txt", false, "/a/b/c d.txt", false)
        );
        let p = decode_path("/shop/").unwrap();
        assert_eq!((&*p.key, p.trailing_slash, &*p.display), ("shop", true, "/shop/"));
        let p = decode_path("/").unwrap();
        assert_eq!((&*p.key, p.trailing_slash, &*p.display), ("", false, "/"));
        assert_eq!(decode_path("/caf%C3%A9.html").unwrap().key, "café.html");
        assert!(decode_path("/a%2Fb.txt").unwrap().impossible, "%2F is not a separator");
        assert!(decode_path("/a%5Cb.txt").unwrap().impossible);
    }

    #[test]
    fn plain_paths_borrow_and_agree_with_full_decoding() {
        for raw in [
            "/",
            "/index.html",
            "/shop/",
            "/a/b/c.js",
            "/a-b_c~d.txt",
            "/product/123",
            "/x/y/",
            "/.../x",
            "/.well-known/a",
        ] {
            let plain = plain_path(raw).unwrap_or_else(|| panic!("{raw} takes the borrowed path"));
            assert!(matches!(plain.key, Cow::Borrowed(_)), "{raw}");
            assert_eq!(plain, decode_segments(raw).unwrap(), "{raw}");
        }
        for raw in [
            "",
            "//",
            "///",
            "/a//b",
            "/./a",
            "/a/.",
            "/a/../b",
            "/..",
            "/a%20b",
            "/a\\b",
            "/caf\u{e9}",
            "/a b",
            "/a/./",
        ] {
            assert!(plain_path(raw).is_none(), "{raw:?} needs full decoding");
        }
        // Every path of up to five characters from `/`, `.` and `a`: the one-pass check takes
        // the borrowed path only where full decoding gives the same answer.
        let mut raws = vec![String::from("/")];
        for _ in 0..4 {
            let longer: Vec<String> = raws.iter().flat_map(|r| ['/', '.', 'a'].map(|c| format!("{r}{c}"))).collect();
            raws.extend(longer);
        }
        raws.sort();
        raws.dedup();
        let mut borrowed = 0;
        for raw in &raws {
            if let Some(plain) = plain_path(raw) {
                assert_eq!(plain, decode_segments(raw).unwrap(), "{raw}");
                borrowed += 1;
            }
        }
        assert_eq!((raws.len(), borrowed), (121, 49), "paths tried, paths borrowed");
    }

    #[test]
    fn navigations_are_paths_without_an_extension_or_asking_for_html() {
        let html = HeaderValue::from_static("text/html,application/xhtml+xml");
        let any = HeaderValue::from_static("*/*");
        for (raw, navigation) in [
            ("/", true),
            ("/product/123", true),
            ("/v1.2/shop", true),
            ("/shop/", true),
            ("/assets/app.3f9a1c2b.js", false),
            ("/favicon.ico", false),
            ("/.well-known", false),
            ("/a.b/c.d", false),
        ] {
            let path = decode_path(raw).unwrap();
            assert_eq!(is_navigation(&path, Some(&any)), navigation, "{raw}");
            assert_eq!(is_navigation(&path, None), navigation, "{raw}");
            assert!(is_navigation(&path, Some(&html)), "{raw} asking for HTML");
        }
    }

    #[test]
    fn keys_are_encoded_for_urls() {
        assert_eq!(encode_path("a b/c?d#e%f"), "a%20b/c%3Fd%23e%25f");
        assert_eq!(encode_segment("\\evil.com"), "%5Cevil.com");
        assert_eq!(encode_path("café/x"), "caf%C3%A9/x");
    }

    #[test]
    fn hostile_paths_are_refused() {
        for bad in ["/../etc/passwd", "/a/%2e%2e/b", "/a%00b", "/a%0Ab", "/%FF", "/a/%2E%2E"] {
            assert!(decode_path(bad).is_err(), "{bad}");
        }
    }
}
