//! Test support for Switchyard's integration tests: starts the real binaries on free loopback
//! ports, builds archives (including malicious ones) byte by byte, and waits on conditions with
//! a deadline instead of sleeping.
//!
//! Used only by tests; never a dependency of a shipped crate.

pub mod archive;
mod process;

use std::time::{Duration, Instant};

pub use process::{ADMIN_TOKEN, Control, Edge, bin_path, run_cli};

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
