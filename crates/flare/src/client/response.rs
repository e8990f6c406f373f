//! The response: status, headers, and a body read through content decoding and
//! the size cap, as a stream (`Read`) or whole.

use std::fmt;
use std::io::{self, Read};

use bytes::Bytes;
use http::{HeaderMap, StatusCode, Version};
use serde::de::DeserializeOwned;

use super::error::{Error, Result};
use super::url::Url;

/// A response whose head has arrived. The body is read from it (it implements
/// [`Read`]) or taken whole with [`bytes`](Self::bytes), [`text`](Self::text) or
/// [`json`](Self::json). The connection goes back to the pool once the body has
/// been read to its end; a response dropped before that closes its HTTP/1.1
/// connection (or resets its HTTP/2 stream).
pub struct Response {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) url: Url,
    pub(crate) body: Box<dyn Read + Send>,
    pub(crate) limit: u64,
    pub(crate) content_length: Option<u64>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.url.to_string())
            .field("status", &self.status)
            .field("version", &self.version)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl Response {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2.0`.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields. When the client decoded gzip or deflate,
    /// `content-encoding` and `content-length` are removed (they described the
    /// encoded body).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL of this response (the last one, after redirects).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The body length the server announced, when known and not decoded.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// [`Error::Status`] for a 4xx or 5xx status, the response otherwise.
    pub fn error_for_status(self) -> Result<Response> {
        self.error_for_status_ref()?;
        Ok(self)
    }

    /// [`error_for_status`](Self::error_for_status) by reference.
    pub fn error_for_status_ref(&self) -> Result<&Response> {
        if self.status.is_client_error() || self.status.is_server_error() {
            return Err(Error::Status {
                url: self.url.to_string(),
                status: self.status,
            });
        }
        Ok(self)
    }

    /// The whole body (decoded), at most the client's response size limit.
    pub fn bytes(mut self) -> Result<Bytes> {
        if self.content_length.is_some_and(|n| n > self.limit) {
            return Err(Error::BodyTooLarge {
                url: self.url.to_string(),
                limit: self.limit,
            });
        }
        let cap = self
            .content_length
            .unwrap_or(8 * 1024)
            .min(self.limit)
            .min(1 << 20);
        let mut out = Vec::with_capacity(cap as usize);
        let url = self.url.to_string();
        self.body
            .read_to_end(&mut out)
            .map_err(|e| Error::io(&url, e))?;
        Ok(Bytes::from(out))
    }

    /// The body as text (UTF-8; invalid sequences become U+FFFD).
    pub fn text(self) -> Result<String> {
        let b = self.bytes()?;
        Ok(match String::from_utf8(b.to_vec()) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(self) -> Result<T> {
        let url = self.url.to_string();
        let b = self.bytes()?;
        serde_json::from_slice(&b).map_err(|source| Error::Json { url, source })
    }

    /// Copies the body into `w`; returns the bytes copied.
    pub fn copy_to<W: io::Write + ?Sized>(&mut self, w: &mut W) -> Result<u64> {
        let url = self.url.to_string();
        io::copy(&mut self.body, w).map_err(|e| Error::io(&url, e))
    }

    /// Reads and drops up to `max` bytes of body, so a small body's connection
    /// goes back to the pool (used before following a redirect).
    pub(crate) fn drain(&mut self, max: u64) {
        let _ = io::copy(&mut (&mut self.body).take(max), &mut io::sink());
    }
}

impl Read for Response {
    /// Reads the decoded body. Errors are `io::Error`s wrapping the client's
    /// [`Error`] (a timeout, the size cap, a broken connection).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf)
    }
}
