//! Zero-copy bodies on plain connections: the bytes of a large resident body go to the socket
//! with `sendfile(2)` from the cache file they were read from, as nginx's `sendfile on` does,
//! instead of being copied from memory into the socket (`benches/README.md`: the JS row).
//!
//! hyper writes a response as one vectored write of its head and the body's `Bytes`. A plain
//! connection's [`Stream`] wraps its TCP stream; before a response goes to hyper, `accept`
//! hands the resident its body comes from ([`crate::serve::Body::split_resident`]) to the
//! connection's [`Sendable`]. A vectored write with a buffer inside one of those residents'
//! bytes is sent as the buffers before it, with `MSG_MORE` (held back to share a segment with
//! what follows), then `sendfile` of the same range of the resident's file. Every other write
//! goes to the TCP stream unchanged. Should `sendfile` fail (a file system without it, the
//! file shorter than its bytes), that resident's bytes are copied from memory instead.
//!
//! Only whole bodies are handed over (not ranges, which would rarely reach their resident's
//! last byte and so stay pending). A pending resident holds its bytes and file until its last
//! byte is sent, it is pushed out (at most [`PENDING`] per connection), or the connection ends:
//! an h2 stream reset mid-body keeps its resident that long. And as with nginx's `sendfile`
//! without thread pools, a file whose pages the kernel dropped from its cache is read from disk
//! in the worker's system call.
//!
//! Why it sends the same bytes: `Sendable` holds the resident, so its bytes stay allocated and
//! no other buffer can lie at their addresses; a resident's file is the one its bytes were read
//! and verified from (`LocalBlobStore::open_verified`), and cache files are never written in
//! place (a write renames a new file over the name). TLS connections are not wrapped: the
//! kernel would send plaintext.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};

use rustix::net::{SendAncillaryBuffer, SendFlags};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::memory::Resident;

/// How many residents a connection holds for sending at once: HTTP/1.1 answers one request at a
/// time, h2c interleaves streams. Beyond it the oldest is let go and its bytes, should they
/// still be written, are copied as any others: always correct, only slower.
const PENDING: usize = 8;

/// The residents whose bytes a connection's [`Stream`] may send from their files; shared by
/// the connection's service (which adds) and its stream (which takes away once sent).
#[derive(Clone, Default)]
pub(crate) struct Sendable(Arc<Mutex<VecDeque<Arc<Resident>>>>);

impl Sendable {
    /// Notes that hyper is about to be given bytes of `resident` to write.
    pub(crate) fn push(&self, resident: Arc<Resident>) {
        let mut pending = self.lock();
        if pending.len() == PENDING {
            pending.pop_front();
        }
        pending.push_back(resident);
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Arc<Resident>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The first of `bufs` that lies inside a pending resident's bytes, and which resident.
fn find(pending: &VecDeque<Arc<Resident>>, bufs: &[IoSlice<'_>]) -> Option<(usize, usize)> {
    if pending.is_empty() {
        return None;
    }
    bufs.iter().enumerate().find_map(|(i, buf)| {
        let r = pending.iter().position(|r| !buf.is_empty() && offset_in(buf, &r.bytes).is_some())?;
        Some((i, r))
    })
}

/// Where `buf` starts in `bytes`, if it lies wholly inside them.
fn offset_in(buf: &[u8], bytes: &[u8]) -> Option<usize> {
    let (start, base) = (buf.as_ptr() as usize, bytes.as_ptr() as usize);
    let offset = start.checked_sub(base)?;
    (offset + buf.len() <= bytes.len()).then_some(offset)
}

/// A plain connection's TCP stream, sending [`Sendable`] bytes from their files.
pub(crate) struct Stream {
    tcp: TcpStream,
    sendable: Sendable,
}

impl Stream {
    pub(crate) fn new(tcp: TcpStream) -> (Stream, Sendable) {
        let sendable = Sendable::default();
        (Stream { tcp, sendable: sendable.clone() }, sendable)
    }
}

/// What one vectored write with a resident's bytes in it did.
enum Sent {
    /// This many bytes went; `finished`: they reached the resident's last byte.
    Bytes { sent: usize, finished: bool },
    /// `sendfile` failed (not `EAGAIN`) or found the file shorter than the bytes, after `head`
    /// bytes went: the rest is copied from memory.
    FileFailed { head: usize, error: io::Error },
}

/// Sends `head` (with `MSG_MORE`) then `body`, which lies inside `resident`'s bytes, from the
/// resident's file.
fn send(tcp: &TcpStream, head: &[IoSlice<'_>], body: &[u8], resident: &Resident) -> io::Result<Sent> {
    let (Some(file), Some(offset)) = (&resident.file, offset_in(body, &resident.bytes)) else {
        unreachable!("`find` matched the body, and only residents with a file are sendable")
    };
    let head_len: usize = head.iter().map(|b| b.len()).sum();
    if head_len > 0 {
        let flags = SendFlags::MORE | SendFlags::NOSIGNAL;
        let sent = rustix::net::sendmsg(tcp, head, &mut SendAncillaryBuffer::default(), flags)?;
        if sent < head_len {
            return Ok(Sent::Bytes { sent, finished: false });
        }
    }
    let mut at = offset as u64;
    match rustix::fs::sendfile(tcp, file.file(), Some(&mut at), body.len()) {
        Ok(0) => Ok(Sent::FileFailed {
            head: head_len,
            error: io::Error::new(io::ErrorKind::UnexpectedEof, "the cache file is shorter than its bytes"),
        }),
        Ok(sent) => Ok(Sent::Bytes { sent: head_len + sent, finished: offset + sent == resident.bytes.len() }),
        // The head went; `EAGAIN` comes back on the next write.
        Err(rustix::io::Errno::AGAIN) if head_len > 0 => Ok(Sent::Bytes { sent: head_len, finished: false }),
        Err(rustix::io::Errno::AGAIN) => Err(io::ErrorKind::WouldBlock.into()),
        Err(error) => Ok(Sent::FileFailed { head: head_len, error: error.into() }),
    }
}

/// Whether a `sendfile` failure was logged as a warning already (the rest are debug).
static WARNED: AtomicBool = AtomicBool::new(false);

impl AsyncWrite for Stream {
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Only this connection's service and stream take the lock, never at the same time.
        let mut pending = this.sendable.lock();
        let Some((at, which)) = find(&pending, bufs) else {
            drop(pending);
            return Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        };
        loop {
            ready!(this.tcp.poll_write_ready(cx))?;
            // `try_io` clears the readiness on `EAGAIN`; the loop then waits for it again.
            match this.tcp.try_io(Interest::WRITABLE, || send(&this.tcp, &bufs[..at], &bufs[at], &pending[which])) {
                Ok(Sent::Bytes { sent, finished }) => {
                    if finished {
                        // Its last byte went: let it go.
                        pending.remove(which);
                    }
                    return Poll::Ready(Ok(sent));
                }
                Ok(Sent::FileFailed { head, error }) => {
                    // The bytes in memory are the verified ones: they go instead, as any other.
                    if WARNED.swap(true, Ordering::Relaxed) {
                        tracing::debug!(%error, "sendfile failed; sending from memory");
                    } else {
                        tracing::warn!(%error, "sendfile failed; sending from memory (later failures at debug level)");
                    }
                    pending.remove(which);
                    drop(pending);
                    if head > 0 {
                        return Poll::Ready(Ok(head));
                    }
                    return Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests;
