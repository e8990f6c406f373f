//! Size limits for everything a peer controls.

/// Limits on what a peer may send. Every field has a safe default and a
/// builder method; the getters are named `get_*`.
///
/// ```
/// let limits = flare_h1::Limits::default().max_body(64 * 1024).max_headers(32);
/// assert_eq!(limits.get_max_body(), 64 * 1024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    max_request_line: usize,
    max_header_bytes: usize,
    max_headers: usize,
    max_body: u64,
    max_chunk_size_digits: usize,
    max_chunk_ext_bytes: usize,
    max_trailer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_line: 8 * 1024,
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_body: 2 * 1024 * 1024,
            max_chunk_size_digits: 16,
            max_chunk_ext_bytes: 16 * 1024,
            max_trailer_bytes: 16 * 1024,
        }
    }
}

impl Limits {
    /// Longest request line (method, target and version, without the CRLF).
    /// Default 8 KiB. Longer lines get 414 ([`crate::Error::UriTooLong`]), as
    /// soon as the buffer holds more than this without a line end. Bounds the
    /// memory a slow client can pin before its request is even routed.
    pub fn max_request_line(mut self, n: usize) -> Self {
        self.max_request_line = n;
        self
    }

    /// Largest whole head (start line, header fields, final CRLF, and any
    /// empty lines before the request line). Default 16 KiB. Larger heads get
    /// 431 ([`crate::Error::HeadersTooLarge`]) once the buffer holds this many
    /// bytes without a complete head. Bounds per-connection buffering.
    pub fn max_header_bytes(mut self, n: usize) -> Self {
        self.max_header_bytes = n;
        self
    }

    /// Most header fields in one head, and most trailer fields. Default 100.
    /// More get 431 ([`crate::Error::TooManyHeaders`]). Bounds the
    /// `headers` vector and the work of every header lookup.
    pub fn max_headers(mut self, n: usize) -> Self {
        self.max_headers = n;
        self
    }

    /// Largest message body, declared by Content-Length or summed over
    /// chunks. Default 2 MiB. Larger bodies get 413
    /// ([`crate::Error::BodyTooLarge`]) before any body byte is read when the
    /// length is declared up front.
    pub fn max_body(mut self, n: u64) -> Self {
        self.max_body = n;
        self
    }

    /// Most hex digits in a chunk size, leading zeros included. Default 16
    /// (enough for any `u64`). More get [`crate::Error::ChunkSizeTooLarge`].
    /// Stops endless `000...` size lines.
    pub fn max_chunk_size_digits(mut self, n: usize) -> Self {
        self.max_chunk_size_digits = n;
        self
    }

    /// Most chunk-extension bytes over a whole chunked body. Default 16 KiB.
    /// More get [`crate::Error::ChunkExtensionsTooLarge`]. Extensions are
    /// ignored, so without this bound a peer could send unbounded data that
    /// never counts against [`Limits::max_body`].
    pub fn max_chunk_ext_bytes(mut self, n: usize) -> Self {
        self.max_chunk_ext_bytes = n;
        self
    }

    /// Largest trailer section (all trailer lines and the final CRLF).
    /// Default 16 KiB. Larger get 431 ([`crate::Error::TrailersTooLarge`]).
    /// Trailers are buffered, so this bounds that buffer.
    pub fn max_trailer_bytes(mut self, n: usize) -> Self {
        self.max_trailer_bytes = n;
        self
    }

    /// See [`Limits::max_request_line`].
    pub fn get_max_request_line(&self) -> usize {
        self.max_request_line
    }

    /// See [`Limits::max_header_bytes`].
    pub fn get_max_header_bytes(&self) -> usize {
        self.max_header_bytes
    }

    /// See [`Limits::max_headers`].
    pub fn get_max_headers(&self) -> usize {
        self.max_headers
    }

    /// See [`Limits::max_body`].
    pub fn get_max_body(&self) -> u64 {
        self.max_body
    }

    /// See [`Limits::max_chunk_size_digits`].
    pub fn get_max_chunk_size_digits(&self) -> usize {
        self.max_chunk_size_digits
    }

    /// See [`Limits::max_chunk_ext_bytes`].
    pub fn get_max_chunk_ext_bytes(&self) -> usize {
        self.max_chunk_ext_bytes
    }

    /// See [`Limits::max_trailer_bytes`].
    pub fn get_max_trailer_bytes(&self) -> usize {
        self.max_trailer_bytes
    }
}
