/// The `content-type` a file is served with, from its name. Text types carry
/// `charset=utf-8`; unknown types are `application/octet-stream`.
pub fn content_type_for(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" | "cjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "wasm" => "application/wasm",
        "" => "application/octet-stream",
        _ => match mime_guess::from_ext(&ext).first_raw() {
            Some(t) if t.starts_with("text/") => with_charset(t),
            Some(t) => t,
            None => "application/octet-stream",
        },
    }
}

fn with_charset(t: &'static str) -> &'static str {
    match t {
        "text/plain" => "text/plain; charset=utf-8",
        "text/csv" => "text/csv; charset=utf-8",
        "text/markdown" | "text/x-markdown" => "text/markdown; charset=utf-8",
        "text/calendar" => "text/calendar; charset=utf-8",
        other => other,
    }
}
