use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Conns, Graceful, HeaderTimeout, TICK};

/// A connection that ends when told to by its test, counting `graceful_shutdown` calls.
struct Conn {
    told: Arc<AtomicUsize>,
    end: oneshot::Receiver<()>,
}

impl Future for Conn {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.end).poll(cx).map(|_| ())
    }
}

impl Graceful for Conn {
    fn graceful_shutdown(self: Pin<&mut Self>) {
        self.told.fetch_add(1, Ordering::SeqCst);
    }
}

/// `n` watched connections, each in its own task: the senders that end them, and the count
/// of `graceful_shutdown` calls they share.
fn connections(drain: &Conns, n: usize) -> (Vec<oneshot::Sender<()>>, Arc<AtomicUsize>) {
    let told = Arc::new(AtomicUsize::new(0));
    let ends = (0..n)
        .map(|_| {
            let (end_tx, end) = oneshot::channel();
            tokio::spawn(drain.watcher().watch(Conn { told: told.clone(), end }));
            end_tx
        })
        .collect();
    (ends, told)
}

/// Connections that never idle out within a test (the deadline has its own tests).
fn drain() -> Conns {
    Conns::new(Duration::from_secs(3600))
}

/// Lets every other ready task of this (current-thread) test runtime run.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

async fn finished(shutdown: JoinHandle<()>) {
    tokio::time::timeout(Duration::from_secs(10), shutdown).await.expect("the drain ends").unwrap();
}

#[tokio::test]
async fn a_drain_with_no_connections_ends_at_once() {
    finished(tokio::spawn(drain().shutdown())).await;
}

#[tokio::test]
async fn every_connection_is_told_once_and_the_drain_waits_for_the_last() {
    let drain = drain();
    let (mut ends, told) = connections(&drain, 3);
    settle().await; // each connection polled once: its waker parked
    assert_eq!(told.load(Ordering::SeqCst), 0);
    let shutdown = tokio::spawn(drain.shutdown());
    settle().await;
    assert_eq!(told.load(Ordering::SeqCst), 3, "each woken and told");
    for end in ends.drain(..2) {
        end.send(()).unwrap();
    }
    settle().await;
    assert!(!shutdown.is_finished(), "one connection is still open");
    assert_eq!(told.load(Ordering::SeqCst), 3, "told once each, whatever wakes them after");
    ends.pop().unwrap().send(()).unwrap();
    finished(shutdown).await;
}

#[tokio::test]
async fn a_connection_first_polled_after_the_drain_began_is_told_at_once() {
    let drain = drain();
    // Taken at accept, polled only once a (TLS) handshake is done.
    let watcher = drain.watcher();
    let shutdown = tokio::spawn(drain.shutdown());
    settle().await;
    assert!(!shutdown.is_finished(), "the watcher taken at accept holds the drain");
    let told = Arc::new(AtomicUsize::new(0));
    let (end_tx, end) = oneshot::channel();
    let conn = tokio::spawn(watcher.watch(Conn { told: told.clone(), end }));
    settle().await;
    assert_eq!(told.load(Ordering::SeqCst), 1);
    assert!(!shutdown.is_finished());
    end_tx.send(()).unwrap();
    assert!(matches!(conn.await.unwrap(), Ok(())), "ended by its test, not timed out");
    finished(shutdown).await;
}

#[tokio::test]
async fn a_watcher_dropped_unused_releases_the_drain() {
    let drain = drain();
    let watcher = drain.watcher(); // a handshake that fails
    let shutdown = tokio::spawn(drain.shutdown());
    settle().await;
    assert!(!shutdown.is_finished());
    drop(watcher);
    finished(shutdown).await;
}

/// Connections polled from several worker threads while the drain begins: none is missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_connection_is_missed_when_the_drain_races_their_polls() {
    for _ in 0..50 {
        let drain = drain();
        let told = Arc::new(AtomicUsize::new(0));
        let mut ends = Vec::new();
        let mut conns = Vec::new();
        for _ in 0..32 {
            let (end_tx, end) = oneshot::channel::<()>();
            ends.push(end_tx);
            conns.push(tokio::spawn(drain.watcher().watch(Conn { told: told.clone(), end })));
        }
        let shutdown = tokio::spawn(drain.shutdown());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while told.load(Ordering::SeqCst) < 32 {
            assert!(tokio::time::Instant::now() < deadline, "told {} of 32", told.load(Ordering::SeqCst));
            tokio::task::yield_now().await;
        }
        for end in ends {
            let _ = end.send(());
        }
        for conn in conns {
            assert!(matches!(conn.await.unwrap(), Ok(())));
        }
        finished(shutdown).await;
        assert_eq!(told.load(Ordering::SeqCst), 32);
    }
}

/// A connection that never gets a request ends within a tick of its deadline, with
/// `HeaderTimeout`, and frees its slot.
#[tokio::test(start_paused = true)]
async fn a_connection_without_requests_ends_at_its_deadline() {
    let conns = Conns::new(Duration::from_secs(10));
    let (_end_tx, end) = oneshot::channel();
    let started = tokio::time::Instant::now();
    let got = conns.watcher().watch(Conn { told: Arc::default(), end }).await;
    assert!(matches!(got, Err(HeaderTimeout)));
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(10) - TICK && took <= Duration::from_secs(10) + TICK, "{took:?}");
    assert_eq!(conns.live(), 0);
}

/// A request in flight holds the deadline off however long it takes; once its response body
/// is dropped the connection has the whole timeout again.
#[tokio::test(start_paused = true)]
async fn a_request_in_flight_holds_the_deadline_and_its_end_restarts_it() {
    let conns = Conns::new(Duration::from_secs(10));
    let watcher = conns.watcher();
    let requests = watcher.requests();
    let (_end_tx, end) = oneshot::channel();
    let conn = tokio::spawn(watcher.watch(Conn { told: Arc::default(), end }));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let first = requests.start(hyper::Version::HTTP_11);
    let second = requests.start(hyper::Version::HTTP_11); // pipelined
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!conn.is_finished(), "requests in flight");
    drop(first);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(!conn.is_finished(), "one request still in flight");
    let idle_from = tokio::time::Instant::now();
    drop(second);
    assert!(matches!(conn.await.unwrap(), Err(HeaderTimeout)));
    let idle = idle_from.elapsed();
    assert!(idle >= Duration::from_secs(10) - TICK && idle <= Duration::from_secs(10) + TICK, "{idle:?}");
}

/// From its first HTTP/2 request on, a connection has no header-read deadline; it ends when
/// its connection does.
#[tokio::test(start_paused = true)]
async fn an_http2_connection_has_no_deadline() {
    let conns = Conns::new(Duration::from_secs(10));
    let watcher = conns.watcher();
    let requests = watcher.requests();
    let (end_tx, end) = oneshot::channel();
    let conn = tokio::spawn(watcher.watch(Conn { told: Arc::default(), end }));
    drop(requests.start(hyper::Version::HTTP_2));
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert!(!conn.is_finished());
    end_tx.send(()).unwrap();
    assert!(matches!(conn.await.unwrap(), Ok(())));
}

/// The ticker is the one task `Conns` runs, and it ends with the last watcher.
#[tokio::test(start_paused = true)]
async fn the_ticker_ends_with_the_last_watcher() {
    let tasks = || tokio::runtime::Handle::current().metrics().num_alive_tasks();
    let conns = Conns::new(Duration::from_secs(10));
    let watcher = conns.watcher();
    tokio::time::sleep(TICK * 2).await;
    assert_eq!(tasks(), 1, "the ticker");
    let shutdown = tokio::spawn(conns.shutdown());
    tokio::time::sleep(TICK * 2).await;
    assert_eq!(tasks(), 2, "the ticker and the drain, which waits for the watcher");
    drop(watcher);
    finished(shutdown).await;
    tokio::time::sleep(TICK * 2).await;
    assert_eq!(tasks(), 0, "the ticker ended");
}
