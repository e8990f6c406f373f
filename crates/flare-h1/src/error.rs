//! Parse errors: one variant per broken rule.

use core::fmt;

/// Why a message was rejected. Each variant names one broken rule of
/// RFC 9112 / RFC 9110 or one exceeded [`crate::Limits`] knob.
///
/// [`Error::status`] gives the response status a server should send and
/// [`Error::reason`] a short fixed text for its body (never echoing input).
/// After any of these the message framing is unreliable: the server answers
/// and closes ([`Error::closes_connection`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The method is empty, not a token, or not followed by a single SP.
    BadMethod,
    /// The request-target is empty, holds a byte that is not visible ASCII,
    /// is not followed by a single SP, or its form does not fit the method
    /// (authority form only for CONNECT, `*` only for OPTIONS).
    BadTarget,
    /// The version is not `HTTP/<digit>.<digit>` followed by CRLF.
    BadVersion,
    /// A well-formed HTTP version other than 1.0 and 1.1 (505).
    VersionNotSupported,
    /// The request line is longer than [`crate::Limits::max_request_line`] (414).
    UriTooLong,
    /// A header field name is empty or holds a byte that is not a tchar, or a
    /// field line has no colon.
    HeaderNameInvalid,
    /// Whitespace between a field name and its colon (RFC 9112 section 5.1).
    WhitespaceBeforeColon,
    /// A line starting with whitespace: obsolete line folding, or whitespace
    /// between the start line and the first field (RFC 9112 sections 2.2, 5.2).
    ObsFold,
    /// A CR not followed by LF.
    BareCr,
    /// A LF not preceded by CR (rejected: lines end in CRLF only).
    BareLf,
    /// A field value holds NUL, DEL or a control byte other than HTAB.
    InvalidHeaderValue,
    /// More header or trailer fields than [`crate::Limits::max_headers`] (431).
    TooManyHeaders,
    /// The head is larger than [`crate::Limits::max_header_bytes`] (431).
    HeadersTooLarge,
    /// Content-Length is not `1*DIGIT` or does not fit in a `u64`.
    ContentLengthInvalid,
    /// More than one Content-Length value (two fields, or a comma list), even
    /// if equal.
    DuplicateContentLength,
    /// Both Content-Length and Transfer-Encoding (request smuggling vector).
    ContentLengthWithTransferEncoding,
    /// Transfer-Encoding is malformed: empty, not a list of codings, chunked
    /// applied twice, or chunked with parameters.
    TransferEncodingInvalid,
    /// Transfer-Encoding names a coding other than chunked (501).
    TransferEncodingUnsupported,
    /// Transfer-Encoding in an HTTP/1.0 message (RFC 9112 section 6.1).
    TransferEncodingOnHttp10,
    /// HTTP/1.1 request without a Host field.
    MissingHost,
    /// More than one Host field.
    MultipleHost,
    /// A Host value that is not `uri-host [ ":" port ]`.
    InvalidHost,
    /// The body is larger than [`crate::Limits::max_body`] (413).
    BodyTooLarge,
    /// A chunk size line with no hex digits or a bad byte after them.
    ChunkSizeInvalid,
    /// A chunk size with more digits than
    /// [`crate::Limits::max_chunk_size_digits`] or overflowing a `u64`.
    ChunkSizeTooLarge,
    /// A chunk extension that is not `;name[=token|quoted-string]`.
    ChunkExtensionInvalid,
    /// More chunk-extension bytes than
    /// [`crate::Limits::max_chunk_ext_bytes`].
    ChunkExtensionsTooLarge,
    /// Chunk data not followed by CRLF.
    ChunkDataCrlfMissing,
    /// A trailer section larger than [`crate::Limits::max_trailer_bytes`] (431).
    TrailersTooLarge,
    /// A response status line that is not `HTTP-version SP 3DIGIT SP reason`
    /// (client side only).
    BadStatusLine,
}

impl Error {
    /// Response status a server should send for this error.
    ///
    /// Client-side errors ([`Error::BadStatusLine`]) map to 502, as a proxy
    /// would answer.
    pub fn status(&self) -> u16 {
        match self {
            Error::UriTooLong => 414,
            Error::VersionNotSupported => 505,
            Error::TooManyHeaders | Error::HeadersTooLarge | Error::TrailersTooLarge => 431,
            Error::BodyTooLarge => 413,
            Error::TransferEncodingUnsupported => 501,
            Error::BadStatusLine => 502,
            _ => 400,
        }
    }

    /// Short fixed description, suitable for a response body or a log line.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::BadMethod => "invalid method",
            Error::BadTarget => "invalid request target",
            Error::BadVersion => "invalid HTTP version",
            Error::VersionNotSupported => "HTTP version not supported",
            Error::UriTooLong => "request line too long",
            Error::HeaderNameInvalid => "invalid header field name",
            Error::WhitespaceBeforeColon => "whitespace before colon in header field",
            Error::ObsFold => "obsolete line folding",
            Error::BareCr => "CR not followed by LF",
            Error::BareLf => "LF without CR",
            Error::InvalidHeaderValue => "invalid byte in header field value",
            Error::TooManyHeaders => "too many header fields",
            Error::HeadersTooLarge => "header section too large",
            Error::ContentLengthInvalid => "invalid Content-Length",
            Error::DuplicateContentLength => "more than one Content-Length",
            Error::ContentLengthWithTransferEncoding => "both Content-Length and Transfer-Encoding",
            Error::TransferEncodingInvalid => "invalid Transfer-Encoding",
            Error::TransferEncodingUnsupported => "unsupported transfer coding",
            Error::TransferEncodingOnHttp10 => "Transfer-Encoding in an HTTP/1.0 message",
            Error::MissingHost => "missing Host",
            Error::MultipleHost => "more than one Host",
            Error::InvalidHost => "invalid Host",
            Error::BodyTooLarge => "body too large",
            Error::ChunkSizeInvalid => "invalid chunk size",
            Error::ChunkSizeTooLarge => "chunk size too large",
            Error::ChunkExtensionInvalid => "invalid chunk extension",
            Error::ChunkExtensionsTooLarge => "chunk extensions too large",
            Error::ChunkDataCrlfMissing => "missing CRLF after chunk data",
            Error::TrailersTooLarge => "trailer section too large",
            Error::BadStatusLine => "invalid status line",
        }
    }

    /// Whether the connection must be closed after answering. True for every
    /// parse error: once a message is rejected, where the next one starts is
    /// unknown, and guessing is how request smuggling works
    /// (RFC 9112 sections 6.3 and 11.2).
    pub fn closes_connection(&self) -> bool {
        true
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for Error {}
