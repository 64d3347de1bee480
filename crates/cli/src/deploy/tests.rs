use std::sync::atomic::{AtomicU32, Ordering};

use switchyard_client::Error;

use super::*;

fn api(status: u16) -> Error {
    Error::Api { status, code: "x".into(), message: "m".into() }
}

#[tokio::test]
async fn transient_failures_are_retried_and_client_errors_are_not() {
    let calls = AtomicU32::new(0);
    let out = retry("t", || {
        let n = calls.fetch_add(1, Ordering::Relaxed);
        async move {
            match n {
                0 => Err(Error::Unreachable { url: "u".into(), reason: "reset".into() }),
                1 => Err(api(503)),
                _ => Ok(n),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!((out, calls.load(Ordering::Relaxed)), (2, 3));

    let calls = AtomicU32::new(0);
    let err = retry("uploading x", || {
        calls.fetch_add(1, Ordering::Relaxed);
        async { Err::<(), _>(api(400)) }
    })
    .await
    .unwrap_err();
    assert_eq!(calls.load(Ordering::Relaxed), 1, "a 4xx is final");
    assert!(format!("{err:#}").starts_with("uploading x: m (400, x)"), "{err:#}");
}

#[test]
fn private_urls_come_with_the_command_that_makes_their_link() {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let urls = s(&["http://v7--cart.x/", "http://cart.x/", "http://holiday--cart.x/"]);
    let out = where_to_open(
        "cart",
        "v7",
        &s(&["live", "holiday"]),
        &urls,
        &s(&["http://v7--cart.x/", "http://holiday--cart.x/"]),
    );
    assert_eq!(
        out,
        "Channels now on v7: live, holiday\n\
         \x20 http://v7--cart.x/  (private: `switchyard previews share --app cart --version v7` prints a link)\n\
         \x20 http://cart.x/\n\
         \x20 http://holiday--cart.x/  (private: `switchyard previews share --app cart --channel holiday` prints a link)\n"
    );
    // Every host public (or a control plane that does not say): the URLs alone.
    assert_eq!(
        where_to_open("cart", "v7", &s(&["live"]), &urls[..2], &[]),
        "Channels now on v7: live\n  http://v7--cart.x/\n  http://cart.x/\n"
    );
    // URLs that do not line up with the channels still say which are private.
    assert_eq!(
        where_to_open("cart", "v8", &[], &s(&["http://a/", "http://b/"]), &s(&["http://b/"])),
        "  http://a/\n  http://b/  (private: opens with a link from `switchyard previews share`)\n"
    );
}
