//! The checks archive ingest applies, for bundles that arrive as a listing (path → digest and
//! size, see the control plane's `api/uploads`) instead of an archive: the same path rules,
//! limits and configuration files, so both ways of deploying accept and refuse the same
//! bundles with the same messages.

use std::collections::{BTreeMap, HashSet};

use switchyard_model::{FileEntry, Manifest, SiteRules};

use crate::{Error, Limits, rules};

/// The configuration file `path` names (`_redirects`, `_headers`, `switchyard.toml` at the
/// root), if it is one.
pub fn config_file(path: &str) -> Option<&'static str> {
    rules::CONFIG_FILES.into_iter().find(|c| *c == path)
}

/// Checks a listing of `(path, size)` as ingest checks an archive's entries: every path (see
/// [`Manifest::check_path`]), duplicates, the number of files, bytes per file and in all;
/// configuration files count against [`rules::MAX_RULES_FILE`] instead.
pub fn check_listing<'a>(files: impl IntoIterator<Item = (&'a str, u64)>, limits: &Limits) -> Result<(), Error> {
    let mut seen = HashSet::new();
    let (mut count, mut total) = (0usize, 0u64);
    for (path, size) in files {
        Manifest::check_path(path).map_err(|reason| Error::BadPath { entry: path.to_owned(), reason })?;
        if !seen.insert(path) {
            return Err(Error::Duplicate { entry: path.to_owned() });
        }
        if let Some(config) = config_file(path) {
            if size > rules::MAX_RULES_FILE {
                return Err(Error::FileTooLarge { entry: config.to_owned(), limit: rules::MAX_RULES_FILE });
            }
            continue;
        }
        count += 1;
        if count > limits.max_files {
            return Err(Error::TooManyFiles { limit: limits.max_files });
        }
        if size > limits.max_file_bytes {
            return Err(Error::FileTooLarge { entry: path.to_owned(), limit: limits.max_file_bytes });
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return Err(Error::TotalTooLarge { limit: limits.max_total_bytes });
        }
    }
    if count == 0 {
        return Err(Error::Empty);
    }
    Ok(())
}

/// A configuration file's bytes as text: UTF-8, at most [`rules::MAX_RULES_FILE`].
pub fn config_text(name: &'static str, bytes: Vec<u8>) -> Result<String, Error> {
    if bytes.len() as u64 > rules::MAX_RULES_FILE {
        return Err(Error::FileTooLarge { entry: name.to_owned(), limit: rules::MAX_RULES_FILE });
    }
    String::from_utf8(bytes)
        .map_err(|e| Error::CorruptEntry { entry: name.to_owned(), reason: format!("{e} (it must be UTF-8 text)") })
}

/// Parses the configuration files (name, text) and checks the paths they name against `files`.
pub fn site_rules(configs: &[(&'static str, String)], files: &BTreeMap<String, FileEntry>) -> Result<SiteRules, Error> {
    let mut site = SiteRules::default();
    for (name, text) in configs {
        match *name {
            "_redirects" => site.redirects = rules::parse_redirects(text)?,
            "_headers" => site.headers = rules::parse_headers(text)?,
            _ => rules::parse_site_toml(text, &mut site)?,
        }
    }
    for (key, path) in [("spa_fallback", &site.spa_fallback), ("not_found", &site.not_found)] {
        if let Some(path) = path
            && !files.contains_key(path)
        {
            return Err(Error::Rules(rules::RuleError {
                file: "switchyard.toml",
                line: 0,
                reason: format!("[site] {key} names {path:?}, which is not in the bundle"),
            }));
        }
    }
    if site.not_found.is_none() && files.contains_key("404.html") {
        site.not_found = Some("404.html".to_owned());
    }
    Ok(site)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_checked_like_archives() {
        let limits = Limits { max_files: 2, max_file_bytes: 10, max_total_bytes: 15 };
        let ok = |files: &[(&str, u64)]| check_listing(files.iter().copied(), &limits);
        assert!(ok(&[("index.html", 1), ("a/b.js", 10), ("_redirects", 100)]).is_ok());
        for bad in ["../x", "/etc/passwd", "a\\b", "a//b", "a/./b", "a\u{0}b", "", "x/.."] {
            let e = ok(&[(bad, 1)]).unwrap_err();
            assert!(matches!(e, Error::BadPath { .. }), "{bad:?}: {e}");
        }
        assert!(matches!(ok(&[("a", 1), ("a", 1)]), Err(Error::Duplicate { .. })));
        assert!(matches!(ok(&[("a", 1), ("b", 1), ("c", 1)]), Err(Error::TooManyFiles { limit: 2 })));
        assert!(matches!(ok(&[("a", 11)]), Err(Error::FileTooLarge { .. })));
        assert!(matches!(ok(&[("a", 10), ("b", 10)]), Err(Error::TotalTooLarge { limit: 15 })));
        assert!(matches!(ok(&[("_headers", 1)]), Err(Error::Empty)));
        assert!(matches!(ok(&[("_headers", rules::MAX_RULES_FILE + 1)]), Err(Error::FileTooLarge { .. })));
        assert!(matches!(config_text("_headers", vec![0xff, 0xfe]), Err(Error::CorruptEntry { .. })));
    }
}
