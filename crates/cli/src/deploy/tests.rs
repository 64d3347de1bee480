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
