//! Request bodies: bytes (replayable) or a reader (sent chunked, or with a known
//! length, and never replayed).

use std::fmt;
use std::io::Read;

use bytes::Bytes;

/// A request body.
pub struct Body {
    pub(crate) kind: BodyKind,
}

pub(crate) enum BodyKind {
    Empty,
    Bytes(Bytes),
    Reader {
        reader: Box<dyn Read + Send>,
        len: Option<u64>,
    },
}

impl Body {
    /// No body.
    pub fn empty() -> Body {
        Body {
            kind: BodyKind::Empty,
        }
    }

    /// A body streamed from `reader`, sent with `Transfer-Encoding: chunked` (an
    /// upload of unknown size). A request with such a body is never retried or
    /// replayed on a redirect that keeps the body (307, 308).
    pub fn from_reader(reader: impl Read + Send + 'static) -> Body {
        Body {
            kind: BodyKind::Reader {
                reader: Box::new(reader),
                len: None,
            },
        }
    }

    /// A body of exactly `len` bytes from `reader`, sent with `Content-Length`.
    pub fn sized(reader: impl Read + Send + 'static, len: u64) -> Body {
        Body {
            kind: BodyKind::Reader {
                reader: Box::new(reader),
                len: Some(len),
            },
        }
    }

    /// The length, when known.
    pub fn len(&self) -> Option<u64> {
        match &self.kind {
            BodyKind::Empty => Some(0),
            BodyKind::Bytes(b) => Some(b.len() as u64),
            BodyKind::Reader { len, .. } => *len,
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Whether the body can be sent again (it is in memory).
    pub(crate) fn replayable(&self) -> bool {
        !matches!(self.kind, BodyKind::Reader { .. })
    }

    /// A copy for another attempt, if the body is in memory.
    pub(crate) fn try_clone(&self) -> Option<Body> {
        match &self.kind {
            BodyKind::Empty => Some(Body::empty()),
            BodyKind::Bytes(b) => Some(Body {
                kind: BodyKind::Bytes(b.clone()),
            }),
            BodyKind::Reader { .. } => None,
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BodyKind::Empty => f.write_str("Body::empty"),
            BodyKind::Bytes(b) => write!(f, "Body({} bytes)", b.len()),
            BodyKind::Reader { len, .. } => write!(f, "Body::reader(len {len:?})"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body {
            kind: BodyKind::Bytes(b),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Body {
        Bytes::from(b).into()
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Bytes::from(s).into()
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Bytes::from_static(s.as_bytes()).into()
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Body {
        Bytes::from_static(s).into()
    }
}
