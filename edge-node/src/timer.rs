//! hyper's HTTP/1 timer: the header-read timeout at half-second resolution, off tokio's timer
//! wheel.
//!
//! hyper arms the header-read timeout for every request head it reads: a fresh `sleep_until`
//! when it starts waiting, polled once while the connection is idle, dropped as soon as the
//! head is in. With `TokioTimer` each of those sleeps is registered in and removed from
//! tokio's timer wheel: against this timer, 2 to 4 % more CPU per request on every row of
//! `benches/ab.sh` (`benches/README.md`). Here a sleep polled before its deadline parks its
//! waker in a slab (one of a few shards, each behind a mutex held for an insert or a removal)
//! and one ticker task wakes the sleeps whose deadline has passed, every [`TICK`]; dropping a
//! sleep frees its slot. `now()` is the ticker's clock, so a deadline falls up to one tick
//! early and fires up to one tick late: a 10 s timeout closes a silent connection after 9.5
//! to 10.5 s.
//!
//! Invariant: a slot is freed only by the sleep that took it (on drop or when it completes),
//! never by the ticker, so a slab key always belongs to the sleep holding it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use slab::Slab;

/// How often the clock advances and expired sleeps are woken.
pub(crate) const TICK: Duration = Duration::from_millis(500);

/// A [`hyper::rt::Timer`] for HTTP/1 connections. Cloning shares the clock and the sleepers.
#[derive(Clone)]
pub(crate) struct CoarseTimer {
    shared: Arc<Shared>,
}

struct Shared {
    /// The clock's origin (tokio's clock, so paused time in tests moves it too).
    base: Instant,
    /// Milliseconds since `base` at the last tick.
    now_ms: AtomicU64,
    shards: Box<[Mutex<Slab<Waiter>>]>,
}

struct Waiter {
    deadline_ms: u64,
    waker: Waker,
}

impl CoarseTimer {
    /// A timer and its ticker, which runs on the current tokio runtime until the last clone of
    /// the timer (and every sleep it made) is dropped.
    pub(crate) fn start() -> CoarseTimer {
        let shards = std::thread::available_parallelism().map_or(4, |n| n.get()).next_power_of_two();
        let shared = Arc::new(Shared {
            base: tokio::time::Instant::now().into_std(),
            now_ms: AtomicU64::new(0),
            shards: (0..shards).map(|_| Mutex::new(Slab::new())).collect(),
        });
        tokio::spawn(tick(Arc::downgrade(&shared)));
        CoarseTimer { shared }
    }

    /// Sleeps parked now, over all shards (for tests).
    #[cfg(test)]
    fn parked(&self) -> usize {
        self.shared.shards.iter().map(|s| s.lock().unwrap().len()).sum()
    }
}

async fn tick(shared: Weak<Shared>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let now = interval.tick().await.into_std();
        let Some(shared) = shared.upgrade() else { return };
        let now_ms = now.saturating_duration_since(shared.base).as_millis() as u64;
        shared.now_ms.store(now_ms, Ordering::Relaxed);
        // Wakers are cloned under each shard's lock and woken after it is released.
        let mut expired = Vec::new();
        for shard in &shared.shards {
            let slab = shard.lock().unwrap_or_else(|p| p.into_inner());
            expired.extend(slab.iter().filter(|(_, w)| w.deadline_ms <= now_ms).map(|(_, w)| w.waker.clone()));
        }
        expired.into_iter().for_each(Waker::wake);
    }
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }

    fn lock(&self, shard: usize) -> std::sync::MutexGuard<'_, Slab<Waiter>> {
        self.shards[shard].lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl hyper::rt::Timer for CoarseTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let deadline_ms = deadline.saturating_duration_since(self.shared.base).as_millis() as u64;
        Box::pin(CoarseSleep { shared: self.shared.clone(), deadline_ms, slot: None })
    }

    fn now(&self) -> Instant {
        self.shared.base + Duration::from_millis(self.shared.now_ms())
    }
}

struct CoarseSleep {
    shared: Arc<Shared>,
    deadline_ms: u64,
    /// (shard, key) of the parked waker, once polled.
    slot: Option<(usize, usize)>,
}

impl hyper::rt::Sleep for CoarseSleep {}

/// The shard a thread parks its sleeps in: threads take shards in turn, so the runtime's
/// workers rarely share a mutex.
fn home_shard(shards: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static HOME: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    HOME.with(|h| *h) & (shards - 1)
}

impl Future for CoarseSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.shared.now_ms() >= this.deadline_ms {
            this.release();
            return Poll::Ready(());
        }
        match this.slot {
            None => {
                let shard = home_shard(this.shared.shards.len());
                let key =
                    this.shared.lock(shard).insert(Waiter { deadline_ms: this.deadline_ms, waker: cx.waker().clone() });
                this.slot = Some((shard, key));
            }
            Some((shard, key)) => {
                let mut slab = this.shared.lock(shard);
                let waiter = &mut slab[key];
                if !waiter.waker.will_wake(cx.waker()) {
                    waiter.waker = cx.waker().clone();
                }
            }
        }
        Poll::Pending
    }
}

impl CoarseSleep {
    fn release(&mut self) {
        if let Some((shard, key)) = self.slot.take() {
            self.shared.lock(shard).remove(key);
        }
    }
}

impl Drop for CoarseSleep {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer;

    #[tokio::test(start_paused = true)]
    async fn a_sleep_ends_within_a_tick_of_its_deadline() {
        let timer = CoarseTimer::start();
        let start = tokio::time::Instant::now();
        timer.sleep(Duration::from_secs(10)).await;
        let slept = start.elapsed();
        assert!(slept >= Duration::from_secs(10) - TICK && slept <= Duration::from_secs(10) + TICK, "{slept:?}");
        assert_eq!(timer.parked(), 0, "a completed sleep frees its slot");
        // The clock follows the ticks.
        let now = timer.now();
        let real = tokio::time::Instant::now().into_std();
        assert!(now <= real && real - now <= TICK, "{:?}", real - now);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_sleep_frees_its_slot_and_others_are_untouched() {
        let timer = CoarseTimer::start();
        let mut early = timer.sleep(Duration::from_secs(5));
        let mut late = timer.sleep(Duration::from_secs(60));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(early.as_mut().poll(&mut cx).is_pending());
        assert!(late.as_mut().poll(&mut cx).is_pending());
        assert!(early.as_mut().poll(&mut cx).is_pending(), "polling again keeps one slot");
        assert_eq!(timer.parked(), 2);
        drop(early);
        assert_eq!(timer.parked(), 1);
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(late.as_mut().poll(&mut cx).is_pending(), "a later deadline is not woken early");
        tokio::time::sleep(Duration::from_secs(31)).await;
        assert!(late.as_mut().poll(&mut cx).is_ready());
        assert_eq!(timer.parked(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn many_sleeps_from_many_tasks_all_wake() {
        let timer = CoarseTimer::start();
        let start = tokio::time::Instant::now();
        let tasks: Vec<_> = (1..=200u64)
            .map(|i| {
                let timer = timer.clone();
                tokio::spawn(async move { timer.sleep(Duration::from_millis(i * 37)).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert!(start.elapsed() <= Duration::from_millis(200 * 37) + TICK);
        assert_eq!(timer.parked(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_ticker_stops_with_the_timer() {
        let tasks = || tokio::runtime::Handle::current().metrics().num_alive_tasks();
        let timer = CoarseTimer::start();
        let sleep = timer.sleep(Duration::from_secs(60));
        tokio::time::sleep(TICK * 2).await;
        assert_eq!(tasks(), 1, "the ticker");
        drop(timer);
        tokio::time::sleep(TICK * 2).await;
        assert_eq!(tasks(), 1, "a sleep still needs the clock");
        drop(sleep);
        tokio::time::sleep(TICK * 2).await;
        assert_eq!(tasks(), 0, "the ticker ended with the last sleep");
    }
}
