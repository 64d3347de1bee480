use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Drain, Graceful};

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
fn connections(drain: &Drain, n: usize) -> (Vec<oneshot::Sender<()>>, Arc<AtomicUsize>) {
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
    finished(tokio::spawn(Drain::new().shutdown())).await;
}

#[tokio::test]
async fn every_connection_is_told_once_and_the_drain_waits_for_the_last() {
    let drain = Drain::new();
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
    let drain = Drain::new();
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
    conn.await.unwrap();
    finished(shutdown).await;
}

#[tokio::test]
async fn a_watcher_dropped_unused_releases_the_drain() {
    let drain = Drain::new();
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
        let drain = Drain::new();
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
            conn.await.unwrap();
        }
        finished(shutdown).await;
        assert_eq!(told.load(Ordering::SeqCst), 32);
    }
}
