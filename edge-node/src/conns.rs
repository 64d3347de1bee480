//! The live connections: graceful drain, and HTTP/1's header-read deadline.
//!
//! **Drain.** On shutdown every connection is told to finish the requests it has in flight and
//! close, and [`Conns::shutdown`] returns once all of them have. What hyper-util's
//! `GracefulShutdown` does, at one atomic load per poll instead of polling a `watch` channel
//! (about 230 instructions on every wake of every connection, which is every request).
//!
//! **Header-read deadline.** A connection with no request in flight is closed once
//! `header_read_timeout` has passed since it was first polled or since its last response
//! ended: a request head must arrive whole within that time (slow heads), and an idle
//! keep-alive connection is closed after it (nginx's `client_header_timeout` and
//! `keepalive_timeout` in one). hyper's own header-read timeout armed a timer for every
//! request (a boxed sleep registered and dropped each time, 2 to 5 % of the edge's CPU per
//! request, `benches/README.md`); here a request costs two atomic adds and a store, and one
//! ticker task checks every connection each [`TICK`], so a deadline fires up to one tick late
//! (a 10 s timeout closes a silent connection after 9.5 to 10.5 s). Requests are counted from
//! the service's call to the drop of the response body (the service wraps each body in a
//! [`Tracked`]). HTTP/2 connections are exempt from their first request on: their streams
//! interleave, and hyper's HTTP/2 keep-alive pings watch them.
//!
//! One slab holds a slot per connection: its task's waker (parked on the first poll, again
//! only if the task's waker changes) and its request count. Invariants:
//! - A connection parks its waker before it reads the drain flag in the same poll, and
//!   shutdown sets the flag before it takes the slab's lock to wake: none is missed.
//! - A slot is held by one [`Watcher`] from accept (so a drain waits for TLS handshakes too)
//!   to its drop, and freed only by it.
//! - The deadline is checked at each poll and by the ticker, which wakes a connection past it;
//!   the connection's own poll is what ends it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper_util::server::conn::auto;
use slab::Slab;
use tokio::sync::Notify;

use crate::serve::Body;

/// How often the clock advances and connections past their deadline are woken.
pub(crate) const TICK: Duration = Duration::from_millis(500);

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
pub(crate) struct Conns {
    shared: Arc<Shared>,
}

struct Shared {
    closing: AtomicBool,
    slots: Mutex<Slab<Slot>>,
    /// Told when the last watcher goes while closing.
    drained: Notify,
    /// The clock's origin (tokio's clock, so paused time in tests moves it too).
    base: Instant,
    /// Milliseconds since `base` at the last tick.
    now_ms: AtomicU64,
    header_read_timeout_ms: u64,
}

struct Slot {
    /// The connection's waker once it has been polled.
    waker: Option<Waker>,
    requests: Arc<Requests>,
}

/// One connection's requests, for its header-read deadline.
pub(crate) struct Requests {
    shared: Arc<Shared>,
    /// Requests whose response body has not been dropped yet.
    in_flight: AtomicUsize,
    /// When (ms on the shared clock) the connection is closed if no request is in flight;
    /// `u64::MAX` until it is first polled.
    deadline_ms: AtomicU64,
    /// An HTTP/2 connection: no deadline.
    exempt: AtomicBool,
}

impl Conns {
    /// Connections closed when idle for `header_read_timeout`; the ticker runs on the current
    /// tokio runtime until the last watcher and this are dropped.
    pub(crate) fn new(header_read_timeout: Duration) -> Conns {
        let shared = Arc::new(Shared {
            closing: AtomicBool::new(false),
            slots: Mutex::new(Slab::new()),
            drained: Notify::new(),
            base: tokio::time::Instant::now().into_std(),
            now_ms: AtomicU64::new(0),
            header_read_timeout_ms: header_read_timeout.as_millis() as u64,
        });
        tokio::spawn(tick(Arc::downgrade(&shared)));
        Conns { shared }
    }

    /// A slot for one connection, taken at accept.
    pub(crate) fn watcher(&self) -> Watcher {
        let requests = Arc::new(Requests {
            shared: self.shared.clone(),
            in_flight: AtomicUsize::new(0),
            deadline_ms: AtomicU64::new(u64::MAX),
            exempt: AtomicBool::new(false),
        });
        let key = self.shared.lock().insert(Slot { waker: None, requests: requests.clone() });
        Watcher { requests, key }
    }

    /// Asks every connection to finish and close; returns when every watcher is gone.
    pub(crate) async fn shutdown(self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        loop {
            // Created before the check, so a `notify_waiters` after it is not missed.
            let drained = self.shared.drained.notified();
            let wakers: Vec<Waker> = {
                let slots = self.shared.lock();
                if slots.is_empty() {
                    return;
                }
                slots.iter().filter_map(|(_, slot)| slot.waker.clone()).collect()
            };
            wakers.into_iter().for_each(Waker::wake);
            drained.await;
        }
    }

    /// Slots taken now (for tests).
    #[cfg(test)]
    fn live(&self) -> usize {
        self.shared.lock().len()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Slab<Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }
}

/// Advances the clock and wakes the connections past their deadline, every [`TICK`], while
/// anything else holds the shared state.
async fn tick(shared: Weak<Shared>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let now = interval.tick().await.into_std();
        let Some(shared) = shared.upgrade() else { return };
        let now_ms = now.saturating_duration_since(shared.base).as_millis() as u64;
        shared.now_ms.store(now_ms, Ordering::Relaxed);
        // Wakers are cloned under the lock and woken after it is released.
        let expired: Vec<Waker> = shared
            .lock()
            .iter()
            .filter(|(_, slot)| slot.requests.expired(now_ms))
            .filter_map(|(_, slot)| slot.waker.clone())
            .collect();
        expired.into_iter().for_each(Waker::wake);
    }
}

impl Requests {
    /// Counts a request from the service's call until the returned guard drops (with the
    /// response body: see [`Tracked`]).
    pub(crate) fn start(self: &Arc<Self>, version: hyper::Version) -> InFlight {
        if version == hyper::Version::HTTP_2 {
            self.exempt.store(true, Ordering::Relaxed);
        }
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// No request in flight and the deadline passed (on the clock at `now_ms`).
    fn expired(&self, now_ms: u64) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
            && now_ms >= self.deadline_ms.load(Ordering::Relaxed)
            && !self.exempt.load(Ordering::Relaxed)
    }

    fn restart_deadline(&self) {
        self.deadline_ms.store(self.shared.now_ms() + self.shared.header_read_timeout_ms, Ordering::Relaxed);
    }
}

/// A request in flight; dropping the last one starts the header-read deadline again.
pub(crate) struct InFlight(Arc<Requests>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.restart_deadline();
        }
    }
}

/// A response body that counts its request in flight until it is dropped.
pub(crate) struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl Tracked {
    pub(crate) fn new(body: Body, in_flight: InFlight) -> Tracked {
        Tracked { body, _in_flight: in_flight }
    }
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// One connection's slot; dropping it (with the connection) is what a drain waits for.
pub(crate) struct Watcher {
    requests: Arc<Requests>,
    key: usize,
}

impl Watcher {
    /// The connection's request count, for its service.
    pub(crate) fn requests(&self) -> Arc<Requests> {
        self.requests.clone()
    }

    /// `conn`, asked to shut down gracefully once the drain starts, and ended (with
    /// [`HeaderTimeout`]) when idle past its deadline; the deadline starts now.
    pub(crate) fn watch<C: Graceful>(self, conn: C) -> Watched<C> {
        self.requests.restart_deadline();
        Watched { conn, watcher: self, parked: None, told: false }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let shared = &self.requests.shared;
        let mut slots = shared.lock();
        slots.remove(self.key);
        if slots.is_empty() && shared.closing.load(Ordering::SeqCst) {
            shared.drained.notify_waiters();
        }
    }
}

/// A connection closed because no request head arrived in time.
#[derive(Debug)]
pub(crate) struct HeaderTimeout;

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
    type Output = Result<C::Output, HeaderTimeout>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let requests = &this.watcher.requests;
        if !this.parked.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            let waker = cx.waker().clone();
            requests.shared.lock()[this.watcher.key].waker = Some(waker.clone());
            *this.parked = Some(waker);
        }
        if !*this.told && requests.shared.closing.load(Ordering::SeqCst) {
            *this.told = true;
            this.conn.as_mut().graceful_shutdown();
        }
        if requests.expired(requests.shared.now_ms()) {
            return Poll::Ready(Err(HeaderTimeout));
        }
        this.conn.poll(cx).map(Ok)
    }
}

#[cfg(test)]
mod tests;
