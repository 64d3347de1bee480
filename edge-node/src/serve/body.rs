//! Response bodies: nothing, bytes in memory, or a file streamed from the cache.

use std::io::{Seek, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::io::AsyncReadExt;

use crate::memory::Resident;
use crate::sites::Representation;

type FileStream = tokio_util::io::ReaderStream<tokio::io::Take<tokio::fs::File>>;

/// Small (40 bytes) because a response is moved several times on its way to hyper: the file
/// stream, which only large files take, is boxed.
pub enum Body {
    Empty,
    Bytes(Option<Bytes>),
    /// `len` bytes from `start` of a resident body whose cache file is open: on a plain
    /// connection the bytes go out with `sendfile` (`zerocopy`, which [`Body::split_resident`]
    /// feeds), elsewhere as `Bytes`.
    Resident {
        resident: Option<Arc<Resident>>,
        start: u32,
        len: u32,
    },
    File {
        stream: Box<FileStream>,
        remaining: u64,
    },
}

/// `len` bytes of `repr` from `offset` (the caller checked the bounds).
pub(super) fn of(repr: &Representation, offset: u64, len: u64) -> Body {
    if let Some(resident) = &*repr.body.touch() {
        if resident.file.is_some() {
            // Resident bodies are at most `IN_MEMORY_MAX` bytes.
            let (start, len) = (offset as u32, len as u32);
            return Body::Resident { resident: Some(resident.clone()), start, len };
        }
        return Body::Bytes(Some(slice(&resident.bytes, offset as usize, len as usize)));
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

/// `len` bytes of `bytes` from `start`. The whole of them (most answers) is a clone: a slice
/// would take a second reference and drop the first, two more atomic operations.
fn slice(bytes: &Bytes, start: usize, len: usize) -> Bytes {
    if start == 0 && len == bytes.len() { bytes.clone() } else { bytes.slice(start..start + len) }
}

impl Body {
    /// The body as hyper is to write it, and the resident its bytes are from if they can be
    /// sent from its open file (`zerocopy`): whole bodies only, not ranges.
    pub fn split_resident(self) -> (Body, Option<Arc<Resident>>) {
        match self {
            Body::Resident { resident: Some(resident), start, len } => {
                let bytes = slice(&resident.bytes, start as usize, len as usize);
                let whole = bytes.len() == resident.bytes.len();
                (Body::Bytes(Some(bytes)), whole.then_some(resident))
            }
            body => (body, None),
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
            Body::Resident { resident, start, len } => {
                Poll::Ready(resident.take().map(|r| Ok(Frame::data(slice(&r.bytes, *start as usize, *len as usize)))))
            }
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
            Body::Resident { resident, .. } => resident.is_none(),
            Body::File { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Bytes(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Resident { resident, len, .. } => {
                SizeHint::with_exact(if resident.is_some() { u64::from(*len) } else { 0 })
            }
            Body::File { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}

// A response is moved by value from `respond` into hyper; keep the body a few words.
const _: () = assert!(std::mem::size_of::<Body>() <= 40);
