//! Graceful drain: on shutdown every connection is told to finish the requests it has in
//! flight and close, and [`Drain::shutdown`] returns once all of them have.
//!
//! What hyper-util's `GracefulShutdown` does, at a cost per poll of one atomic load instead
//! of polling a `watch` channel (about 230 instructions on every wake of every connection,
//! which is every request; `benches/README.md`). Each connection parks its task's waker in a
//! slab when it is first polled (again only if the task's waker changes); shutdown sets the
//! flag, then wakes every parked waker.
//!
//! Invariants:
//! - A connection parks its waker before it reads the flag in the same poll, and shutdown sets
//!   the flag before it takes the slab's lock to wake: either the connection's waker is in the
//!   slab when shutdown wakes, or the connection sees the flag. None is missed.
//! - A slot is held by one [`Watcher`] from accept (so a drain waits for TLS handshakes too)
//!   to its drop, and freed only by it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use hyper_util::server::conn::auto;
use slab::Slab;
use tokio::sync::Notify;

/// A connection that can be asked to finish what it has in flight and close.
pub(crate) trait Graceful: Future {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, E, B> Graceful for auto::Connection<'static, I, S, E>
where
    S: hyper::service::Service<hyper::Request<hyper::body::Incoming>, Response = hyper::Response<B>>,
    S::Future: 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    E: auto::HttpServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        auto::Connection::graceful_shutdown(self);
    }
}

/// The server's side: hands out a [`Watcher`] per connection, then drains them.
pub(crate) struct Drain {
    shared: Arc<Shared>,
}

struct Shared {
    closing: AtomicBool,
    /// One slot per live watcher: its connection's waker once it has been polled.
    wakers: Mutex<Slab<Option<Waker>>>,
    /// Told when the last watcher goes while closing.
    drained: Notify,
}

impl Drain {
    pub(crate) fn new() -> Drain {
        Drain {
            shared: Arc::new(Shared {
                closing: AtomicBool::new(false),
                wakers: Mutex::new(Slab::new()),
                drained: Notify::new(),
            }),
        }
    }

    /// A slot for one connection, taken at accept.
    pub(crate) fn watcher(&self) -> Watcher {
        let key = self.shared.wakers.lock().expect("drain lock").insert(None);
        Watcher { shared: self.shared.clone(), key }
    }

    /// Asks every connection to finish and close; returns when every watcher is gone.
    pub(crate) async fn shutdown(self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        loop {
            // Created before the check, so a `notify_waiters` after it is not missed.
            let drained = self.shared.drained.notified();
            {
                let wakers = self.shared.wakers.lock().expect("drain lock");
                if wakers.is_empty() {
                    return;
                }
                for (_, waker) in wakers.iter() {
                    if let Some(waker) = waker {
                        waker.wake_by_ref();
                    }
                }
            }
            drained.await;
        }
    }
}

/// One connection's slot; dropping it (with the connection) is what a drain waits for.
pub(crate) struct Watcher {
    shared: Arc<Shared>,
    key: usize,
}

impl Watcher {
    /// `conn`, asked to shut down gracefully once the drain starts.
    pub(crate) fn watch<C: Graceful>(self, conn: C) -> Watched<C> {
        Watched { conn, watcher: self, parked: None, told: false }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let mut wakers = self.shared.wakers.lock().expect("drain lock");
        wakers.remove(self.key);
        if wakers.is_empty() && self.shared.closing.load(Ordering::SeqCst) {
            self.shared.drained.notify_waiters();
        }
    }
}

pin_project_lite::pin_project! {
    /// A connection under a [`Watcher`].
    pub(crate) struct Watched<C> {
        #[pin]
        conn: C,
        watcher: Watcher,
        // The waker parked in the slot (compared with each poll's, never woken from here).
        parked: Option<Waker>,
        // `graceful_shutdown` was called.
        told: bool,
    }
}

impl<C: Graceful> Future for Watched<C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let mut this = self.project();
        if !*this.told {
            if !this.parked.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                let waker = cx.waker().clone();
                this.watcher.shared.wakers.lock().expect("drain lock")[this.watcher.key] = Some(waker.clone());
                *this.parked = Some(waker);
            }
            if this.watcher.shared.closing.load(Ordering::SeqCst) {
                *this.told = true;
                this.conn.as_mut().graceful_shutdown();
            }
        }
        this.conn.poll(cx)
    }
}

#[cfg(test)]
mod tests;
