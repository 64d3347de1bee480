//! Turns the errors merchants hit most into advice: a refused token, an unknown app (with the
//! closest of the caller's apps), an unreachable control plane (the message names the URL).

use switchyard_client::{Client, Error};

pub(crate) async fn explain(e: anyhow::Error, client: &Client, api: &str) -> anyhow::Error {
    let Some(Error::Api { status, message, .. }) = e.chain().find_map(|c| c.downcast_ref::<Error>()) else {
        return e;
    };
    match status {
        401 => anyhow::anyhow!(
            "the control plane at {api} refused the token ({message}); check --token or SWITCHYARD_TOKEN, \
             or run `switchyard login` again"
        ),
        404 => {
            let Some(app) = unknown_app(message) else { return e };
            let Ok(apps) = client.list_apps().await else { return e };
            let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
            match did_you_mean(&app, &names) {
                Some(close) => e.context(format!("app {app:?} not found; did you mean {close:?}?")),
                None if names.is_empty() => {
                    e.context(format!("app {app:?} not found; you have no apps yet (`switchyard apps create {app}`)"))
                }
                None => e.context(format!("app {app:?} not found; your apps: {}", names.join(", "))),
            }
        }
        _ => e,
    }
}

/// `app "crat" not found` → `crat`.
fn unknown_app(message: &str) -> Option<String> {
    let rest = message.strip_prefix("app \"")?;
    let (name, tail) = rest.split_once('"')?;
    (tail.trim() == "not found").then(|| name.to_owned())
}

/// The closest name within an edit distance of a third of its length (at least 2).
pub(crate) fn did_you_mean<'a>(wanted: &str, names: &[&'a str]) -> Option<&'a str> {
    let limit = (wanted.chars().count() / 3).max(2);
    names
        .iter()
        .map(|n| (strsim::damerau_levenshtein(wanted, n), *n))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("crat", &["cart", "checkout"]), Some("cart"));
        assert_eq!(did_you_mean("chekout", &["cart", "checkout"]), Some("checkout"));
        assert_eq!(did_you_mean("zzzzzz", &["cart"]), None);
        assert_eq!(unknown_app("app \"crat\" not found").as_deref(), Some("crat"));
        assert_eq!(unknown_app("deploy \"x\" of app \"y\" not found"), None);
    }
}
