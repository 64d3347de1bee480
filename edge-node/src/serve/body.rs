//! Response bodies: nothing, bytes in memory, or a file streamed from the cache.

use std::io::{Seek, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::io::AsyncReadExt;

use crate::sites::Representation;

type FileStream = tokio_util::io::ReaderStream<tokio::io::Take<tokio::fs::File>>;

/// Small (40 bytes) because a response is moved several times on its way to hyper: the file
/// stream, which only large files take, is boxed.
pub enum Body {
    Empty,
    Bytes(Option<Bytes>),
    File { stream: Box<FileStream>, remaining: u64 },
}

/// `len` bytes of `repr` from `offset` (the caller checked the bounds).
pub(super) fn of(repr: &Representation, offset: u64, len: u64) -> Body {
    if let Some(bytes) = repr.body.touch() {
        // The whole file (most answers) is the resident `Bytes` itself: a slice would take a
        // second reference and drop the first, two more atomic operations.
        if offset == 0 && len == bytes.len() as u64 {
            return Body::Bytes(Some(bytes));
        }
        return Body::Bytes(Some(bytes.slice(offset as usize..(offset + len) as usize)));
    }
    let path = &repr.body.path;
    let opened = std::fs::File::open(path).and_then(|mut f| f.seek(SeekFrom::Start(offset)).map(|_| f));
    match opened {
        Ok(f) => Body::File {
            stream: Box::new(tokio_util::io::ReaderStream::with_capacity(
                tokio::fs::File::from_std(f).take(len),
                64 * 1024,
            )),
            remaining: len,
        },
        Err(error) => {
            // The headers already promise `len` bytes; the client sees a short body and the
            // connection closes, which is the honest outcome.
            tracing::warn!(%error, path = %path.display(), "cached blob unreadable");
            Body::Empty
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match &mut *self {
            Body::Empty => Poll::Ready(None),
            Body::Bytes(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::File { stream, remaining } => {
                use futures_util::Stream;
                match Pin::new(&mut **stream).poll_next(cx) {
                    Poll::Ready(Some(Ok(chunk))) => {
                        *remaining = remaining.saturating_sub(chunk.len() as u64);
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Bytes(b) => b.is_none(),
            Body::File { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Bytes(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::File { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}

// A response is moved by value from `respond` into hyper; keep the body a few words.
const _: () = assert!(std::mem::size_of::<Body>() <= 40);
