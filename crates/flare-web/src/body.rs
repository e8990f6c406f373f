//! Response bodies: whole or streamed.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

/// A response body.
pub enum Body {
    /// No body (an empty 200 still gets `content-length: 0` on HTTP/1.1).
    Empty,
    /// Bytes known at compile time; sent without copying into a buffer the server owns.
    Static(&'static [u8]),
    /// Owned bytes.
    Bytes(Bytes),
    /// A body produced piece by piece (chunked on HTTP/1.1, DATA frames on HTTP/2), for
    /// large downloads and server-sent events. The server pulls the next piece only
    /// when the connection's send buffer has room, so a stream is never buffered
    /// without bound.
    Stream(Box<dyn BodyStream>),
    /// A byte range of an open file. HTTP/1.1 over plain TCP sends it with
    /// `sendfile(2)`, never reading it into memory; other transports read it in
    /// pieces as the peer takes them.
    File(FileBody),
}

/// A byte range of an open file, for [`Body::File`].
#[derive(Debug)]
pub struct FileBody {
    /// The file.
    pub file: std::fs::File,
    /// Where the range starts.
    pub offset: u64,
    /// How many bytes to send.
    pub len: u64,
}

impl Body {
    /// The length when it is known before sending.
    pub fn len_hint(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Static(b) => Some(b.len() as u64),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Stream(s) => s.size_hint(),
            Body::File(f) => Some(f.len),
        }
    }

    /// The whole body as a slice, for bodies that are not streams.
    pub fn as_slice(&self) -> Option<&[u8]> {
        match self {
            Body::Empty => Some(&[]),
            Body::Static(b) => Some(b),
            Body::Bytes(b) => Some(b),
            Body::Stream(_) | Body::File(_) => None,
        }
    }

    /// Whether this is a stream.
    pub fn is_stream(&self) -> bool {
        matches!(self, Body::Stream(_))
    }

    /// A stream over an iterator of chunks (each item is sent as it is produced).
    pub fn from_chunks<I>(iter: I) -> Body
    where
        I: Iterator<Item = Bytes> + Send + 'static,
    {
        Body::Stream(Box::new(IterStream {
            iter,
            trailers: None,
        }))
    }

    /// A stream over an iterator of chunks, ending with trailer fields; the trailer
    /// names are announced in a `Trailer` header.
    pub fn from_chunks_with_trailers<I>(iter: I, trailers: Vec<(HeaderName, HeaderValue)>) -> Body
    where
        I: Iterator<Item = Bytes> + Send + 'static,
    {
        Body::Stream(Box::new(IterStream {
            iter,
            trailers: Some(trailers),
        }))
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Static(b) => write!(f, "Body::Static({} bytes)", b.len()),
            Body::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            Body::Stream(_) => f.write_str("Body::Stream"),
            Body::File(b) => write!(f, "Body::File({} bytes at {})", b.len, b.offset),
        }
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::Static(s.as_bytes())
    }
}
impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Body {
        Body::Static(s)
    }
}
impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::Bytes(Bytes::from(s))
    }
}
impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body::Bytes(Bytes::from(v))
    }
}
impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body::Bytes(b)
    }
}

/// One step of a streamed body.
#[derive(Debug)]
pub enum Frame {
    /// The next piece of data (an empty piece is skipped).
    Data(Bytes),
    /// Trailer fields; the stream ends after them.
    Trailers(Vec<(HeaderName, HeaderValue)>),
    /// Nothing yet: the stream keeps the [`StreamWaker`] from the context and calls
    /// [`StreamWaker::wake`] when it has more (from any thread).
    Pending,
    /// The body is complete.
    End,
}

/// A body produced piece by piece. Called on the worker thread; must not block.
pub trait BodyStream: Send {
    /// The next step. After [`Frame::End`] or [`Frame::Trailers`] it is not called again.
    fn poll_frame(&mut self, cx: &mut StreamContext<'_>) -> Frame;
    /// The exact total length when known (sent as `content-length` instead of chunked).
    fn size_hint(&self) -> Option<u64> {
        None
    }
    /// Names of the trailer fields this stream will send, for the `Trailer` header.
    fn trailer_names(&self) -> Option<String> {
        None
    }
}

/// What a stream gets when it is polled.
#[derive(Debug)]
pub struct StreamContext<'a> {
    waker: &'a StreamWaker,
}

impl<'a> StreamContext<'a> {
    /// A context around a waker.
    pub fn new(waker: &'a StreamWaker) -> Self {
        StreamContext { waker }
    }
    /// The waker to call after returning [`Frame::Pending`].
    pub fn waker(&self) -> &StreamWaker {
        self.waker
    }
}

/// Asks the server to poll a pending stream again. Cheap to clone, callable from any
/// thread.
#[derive(Clone)]
pub struct StreamWaker {
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl StreamWaker {
    /// A waker that runs `f` on wake.
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Self {
        StreamWaker { wake: Arc::new(f) }
    }
    /// A waker that does nothing (for streams that are never pending, and tests).
    pub fn noop() -> Self {
        StreamWaker::new(|| {})
    }
    /// Wakes the server for this stream.
    pub fn wake(&self) {
        (self.wake)()
    }
}

impl fmt::Debug for StreamWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamWaker")
    }
}

struct IterStream<I> {
    iter: I,
    trailers: Option<Vec<(HeaderName, HeaderValue)>>,
}

impl<I: Iterator<Item = Bytes> + Send> BodyStream for IterStream<I> {
    fn poll_frame(&mut self, _cx: &mut StreamContext<'_>) -> Frame {
        match self.iter.next() {
            Some(b) => Frame::Data(b),
            None => match self.trailers.take() {
                Some(t) => Frame::Trailers(t),
                None => Frame::End,
            },
        }
    }
    fn trailer_names(&self) -> Option<String> {
        let t = self.trailers.as_ref()?;
        let names: Vec<&str> = t.iter().map(|(n, _)| n.as_str()).collect();
        Some(names.join(", "))
    }
}
