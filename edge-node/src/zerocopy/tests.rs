use std::io::IoSlice;
use std::sync::Arc;

use switchyard_blob::LocalBlobStore;
use switchyard_testkit::noise;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Sendable, Stream};
use crate::memory::{BlobBody, MemoryCache, Resident};

/// A resident body of `bytes` with its cache file open, and the store it is in.
fn admitted(bytes: &[u8]) -> (tempfile::TempDir, LocalBlobStore, Arc<Resident>) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path()).unwrap();
    let mem = MemoryCache::with_open_files(16 << 20, 10);
    let digest = store.put_bytes(bytes).unwrap();
    let body = BlobBody::new(digest, store.path(&digest), bytes.len() as u64, &mem);
    mem.admit(&body, &store).unwrap();
    let resident = body.touch().as_ref().expect("admitted").clone();
    assert!(resident.file.is_some(), "large enough to keep its file open");
    (dir, store, resident)
}

/// A connected pair: the edge's side wrapped in a `Stream`, and the client's.
async fn pair() -> (Stream, Sendable, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let (stream, sendable) = Stream::new(server);
    (stream, sendable, client)
}

/// Writes all of `bufs` as hyper does: vectored writes, advancing past what each one took.
async fn write_all(stream: &mut Stream, bufs: &[&[u8]]) {
    let mut slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        let n = stream.write_vectored(slices).await.unwrap();
        assert!(n > 0, "a write made no progress");
        IoSlice::advance_slices(&mut slices, n);
    }
}

fn pending(sendable: &Sendable) -> usize {
    sendable.lock().len()
}

#[tokio::test]
async fn a_head_and_a_resident_range_arrive_in_order_and_whole() {
    let bytes = noise(900 * 1024, 1); // more than the socket buffers hold: writes wait for the reader
    let (_dir, _store, resident) = admitted(&bytes);
    let (mut stream, sendable, mut client) = pair().await;
    sendable.push(resident.clone());
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        got
    });
    let head = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n".to_vec();
    write_all(&mut stream, &[&head, &resident.bytes[1000..5000]]).await;
    assert_eq!(pending(&sendable), 1, "the resident's end is not sent yet: still pending");
    write_all(&mut stream, &[b"--", &resident.bytes[5000..]]).await;
    assert_eq!(pending(&sendable), 0, "its last byte went: let go");
    stream.shutdown().await.unwrap();
    drop(stream);
    let got = reader.await.unwrap();
    let mut want = head.clone();
    want.extend_from_slice(&bytes[1000..5000]);
    want.extend_from_slice(b"--");
    want.extend_from_slice(&bytes[5000..]);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the bytes arrive intact and in order");
}

#[tokio::test]
async fn the_bytes_come_from_the_file() {
    let bytes = noise(64 * 1024, 1);
    let (_dir, store, resident) = admitted(&bytes);
    // Rewritten in place (which the edge never does): the open file shows the new content, so
    // what arrives shows which path the bytes took.
    let digest = switchyard_model::Digest::of(&bytes);
    let other = vec![b'f'; bytes.len()];
    std::fs::write(store.path(&digest), &other).unwrap();
    let (mut stream, sendable, mut client) = pair().await;
    sendable.push(resident.clone());
    write_all(&mut stream, &[b"head:", &resident.bytes[..]]).await;
    // Bytes that are not a pending resident's are copied as they are.
    let copy = bytes[..10].to_vec();
    write_all(&mut stream, &[&copy]).await;
    drop(stream);
    let mut got = Vec::new();
    client.read_to_end(&mut got).await.unwrap();
    assert_eq!(&got[..5], b"head:");
    assert!(got[5..5 + other.len()] == other[..], "sent from the file, not from memory");
    assert_eq!(&got[5 + other.len()..], &bytes[..10]);
}

#[tokio::test]
async fn without_a_pending_resident_writes_are_copied() {
    let bytes = noise(64 * 1024, 1);
    let (_dir, store, resident) = admitted(&bytes);
    std::fs::write(store.path(&switchyard_model::Digest::of(&bytes)), vec![0u8; bytes.len()]).unwrap();
    let (mut stream, sendable, mut client) = pair().await;
    // Pushed out by newer ones: its bytes are copied from memory again.
    sendable.push(resident.clone());
    let others: Vec<_> =
        (0..super::PENDING).map(|i| admitted(&noise(crate::memory::SENDFILE_MIN as usize, i as u64 + 2))).collect();
    for (_, _, other) in &others {
        sendable.push(other.clone());
    }
    write_all(&mut stream, &[&resident.bytes[..]]).await;
    drop(stream);
    let mut got = Vec::new();
    client.read_to_end(&mut got).await.unwrap();
    assert!(got == bytes, "copied from memory");
}

#[tokio::test]
async fn a_file_sendfile_cannot_read_gives_way_to_the_bytes_in_memory() {
    let bytes = noise(64 * 1024, 1);
    let (_dir, store, resident) = admitted(&bytes);
    // Truncated in place (which the edge never does): `sendfile` finds nothing to send.
    let path = store.path(&switchyard_model::Digest::of(&bytes));
    std::fs::File::options().write(true).open(path).unwrap().set_len(0).unwrap();
    let (mut stream, sendable, mut client) = pair().await;
    sendable.push(resident.clone());
    write_all(&mut stream, &[b"head:", &resident.bytes[..]]).await;
    assert_eq!(pending(&sendable), 0, "given up on: its bytes are copied from memory");
    drop(stream);
    let mut got = Vec::new();
    client.read_to_end(&mut got).await.unwrap();
    assert_eq!(&got[..5], b"head:");
    assert!(got[5..] == bytes[..], "the verified bytes, whole");
}

#[test]
fn only_whole_bodies_are_handed_over() {
    use crate::serve::Body;
    let bytes = noise(64 * 1024, 1);
    let (_dir, _store, resident) = admitted(&bytes);
    let len = bytes.len() as u32;
    let (_, whole) = Body::Resident { resident: Some(resident.clone()), start: 0, len }.split_resident();
    assert!(whole.is_some_and(|r| Arc::ptr_eq(&r, &resident)));
    let (body, part) = Body::Resident { resident: Some(resident.clone()), start: 10, len: len - 10 }.split_resident();
    assert!(part.is_none(), "a range is copied");
    assert!(matches!(body, Body::Bytes(Some(b)) if b[..] == bytes[10..]));
}
