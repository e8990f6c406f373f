//! Response serialization (server side): status line, fixed headers, caller
//! headers, end of head. No allocation beyond the output buffer's growth.

use crate::chars::{has_line_break_or_nul, skip_tchar, tchar};
use crate::Version;

/// How the response body is framed on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResponseBody {
    /// No framing field at all. Right for 1xx, 204 and 304, and for HEAD
    /// responses whose length is unknown. For any other response it means
    /// "body until close", so set [`ResponseHead::close`] as well.
    #[default]
    None,
    /// `content-length: n` (skipped for 1xx/204/304). `Length(0)` still
    /// writes `content-length: 0`. For a HEAD request pass the length of the
    /// body a GET would get: the field is written, but the caller must not
    /// write any body bytes.
    Length(u64),
    /// `transfer-encoding: chunked` (skipped for 1xx/204/304). With
    /// [`Version::Http10`] chunked is not available: nothing is written for
    /// framing, `connection: close` is, and the caller writes the raw body
    /// and closes (see [`ResponseHead::chunked_on_wire`]).
    Chunked,
}

/// A response head to serialize with [`write_response_head`].
#[derive(Clone, Debug)]
pub struct ResponseHead<'a> {
    /// Version in the status line (a server normally answers HTTP/1.1 even
    /// to HTTP/1.0 requests) and for the framing choices above.
    pub version: Version,
    /// Status code, 100..=999; anything else is written as 500.
    pub status: u16,
    /// Reason phrase; `None` uses [`reason_phrase`]. CR, LF and other
    /// control bytes are dropped.
    pub reason: Option<&'a str>,
    /// `date` value, normally [`crate::DateCache::value`].
    pub date: Option<&'a [u8]>,
    /// `server` value.
    pub server: Option<&'a [u8]>,
    /// `content-type` value.
    pub content_type: Option<&'a [u8]>,
    /// Body framing.
    pub body: ResponseBody,
    /// Write `connection: close`; the server closes after this response.
    pub close: bool,
    /// Write `connection: keep-alive` (for HTTP/1.0 clients that asked for
    /// it), unless `close`.
    pub keep_alive_10: bool,
    /// `trailer` value, written only when the body is chunked on the wire.
    pub trailer_names: Option<&'a [u8]>,
}

impl<'a> ResponseHead<'a> {
    /// An HTTP/1.1 response with this status, no fixed headers and no body.
    pub fn new(status: u16) -> Self {
        ResponseHead {
            version: Version::Http11,
            status,
            reason: None,
            date: None,
            server: None,
            content_type: None,
            body: ResponseBody::None,
            close: false,
            keep_alive_10: false,
            trailer_names: None,
        }
    }

    /// True if the caller must write the body with the chunked coding
    /// ([`crate::encode_chunk`], [`crate::encode_last_chunk`]).
    pub fn chunked_on_wire(&self) -> bool {
        self.body == ResponseBody::Chunked
            && self.version == Version::Http11
            && !is_bodyless_status(self.status)
    }

    /// True if the head written says `connection: close` (explicitly, or
    /// because a chunked body had to become a body-until-close on HTTP/1.0).
    pub fn closes(&self) -> bool {
        self.close
            || (self.body == ResponseBody::Chunked
                && self.version == Version::Http10
                && !is_bodyless_status(self.status))
    }
}

/// 1xx, 204 and 304: statuses that never carry a body (RFC 9112 section 6.3).
#[inline]
pub fn is_bodyless_status(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

macro_rules! statuses {
    ($($code:literal $reason:literal,)*) => {
        /// Canonical reason phrase of a status code (RFC 9110 section 15),
        /// `""` for unregistered codes.
        pub fn reason_phrase(status: u16) -> &'static str {
            match status {
                $($code => $reason,)*
                _ => "",
            }
        }

        /// Pre-encoded status line for a registered code.
        fn status_line(version: Version, status: u16) -> Option<&'static [u8]> {
            match version {
                Version::Http11 => match status {
                    $($code => Some(concat!("HTTP/1.1 ", $code, " ", $reason, "\r\n").as_bytes()),)*
                    _ => None,
                },
                Version::Http10 => match status {
                    $($code => Some(concat!("HTTP/1.0 ", $code, " ", $reason, "\r\n").as_bytes()),)*
                    _ => None,
                },
            }
        }
    };
}

statuses! {
    100 "Continue",
    101 "Switching Protocols",
    102 "Processing",
    103 "Early Hints",
    200 "OK",
    201 "Created",
    202 "Accepted",
    203 "Non-Authoritative Information",
    204 "No Content",
    205 "Reset Content",
    206 "Partial Content",
    207 "Multi-Status",
    208 "Already Reported",
    226 "IM Used",
    300 "Multiple Choices",
    301 "Moved Permanently",
    302 "Found",
    303 "See Other",
    304 "Not Modified",
    305 "Use Proxy",
    307 "Temporary Redirect",
    308 "Permanent Redirect",
    400 "Bad Request",
    401 "Unauthorized",
    402 "Payment Required",
    403 "Forbidden",
    404 "Not Found",
    405 "Method Not Allowed",
    406 "Not Acceptable",
    407 "Proxy Authentication Required",
    408 "Request Timeout",
    409 "Conflict",
    410 "Gone",
    411 "Length Required",
    412 "Precondition Failed",
    413 "Content Too Large",
    414 "URI Too Long",
    415 "Unsupported Media Type",
    416 "Range Not Satisfiable",
    417 "Expectation Failed",
    418 "I'm a teapot",
    421 "Misdirected Request",
    422 "Unprocessable Content",
    423 "Locked",
    424 "Failed Dependency",
    425 "Too Early",
    426 "Upgrade Required",
    428 "Precondition Required",
    429 "Too Many Requests",
    431 "Request Header Fields Too Large",
    451 "Unavailable For Legal Reasons",
    500 "Internal Server Error",
    501 "Not Implemented",
    502 "Bad Gateway",
    503 "Service Unavailable",
    504 "Gateway Timeout",
    505 "HTTP Version Not Supported",
    506 "Variant Also Negotiates",
    507 "Insufficient Storage",
    508 "Loop Detected",
    510 "Not Extended",
    511 "Network Authentication Required",
}

/// Appends the status line and the fixed fields of `head`, in this order:
/// `date`, `server`, `content-type`, framing (`content-length` or
/// `transfer-encoding`), `connection`, `trailer`. Field names are lowercase.
/// The caller then appends its own fields with [`write_header`] and ends the
/// head with [`finish_head`].
pub fn write_response_head(out: &mut Vec<u8>, head: &ResponseHead<'_>) {
    write_head::<true>(out, head, None)
}

/// Like [`write_response_head`], but the `date`, `server`, `content-type` and
/// `trailer` values are written as given, without the per-byte scan: the
/// caller guarantees they hold no CR, LF or NUL (for example they come from
/// `http::HeaderValue`, which rejects those bytes, or from [`crate::DateCache`]).
/// Breaking the guarantee cannot cause memory unsafety, only a malformed head.
pub fn write_response_head_trusted(out: &mut Vec<u8>, head: &ResponseHead<'_>) {
    write_head::<false>(out, head, None)
}

/// Encodes the part of a head that is the same for every response with this status
/// within one second: the status line, `date` and `server` (values trusted as in
/// [`write_response_head_trusted`]). A server keeps it per status and rebuilds it
/// when the `Date` changes, then writes heads with
/// [`write_response_head_with_prefix`]: one copy instead of three fields.
pub fn encode_head_prefix(
    out: &mut Vec<u8>,
    version: Version,
    status: u16,
    date: &[u8],
    server: Option<&[u8]>,
) {
    let mut head = ResponseHead::new(status);
    head.version = version;
    head.date = Some(date);
    head.server = server;
    head.close = false;
    write_status_and_fixed::<false>(out, &head);
}

/// Like [`write_response_head_trusted`] with the status line, `date` and `server`
/// taken from `prefix` (made by [`encode_head_prefix`] for `head.status`); the
/// `date`, `server`, `version`, `status` and `reason` of `head` are not used.
pub fn write_response_head_with_prefix(out: &mut Vec<u8>, prefix: &[u8], head: &ResponseHead<'_>) {
    write_head::<false>(out, head, Some(prefix))
}

/// Appends `name: value\r\n` as given. The caller guarantees `name` is a
/// token and `value` holds no CR, LF or NUL (as `http::HeaderName` and
/// `http::HeaderValue` do); otherwise use [`write_header`].
#[inline]
pub fn write_header_trusted(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.reserve(name.len() + value.len() + 4);
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[inline(always)]
fn write_field<const CHECK: bool>(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    if CHECK {
        write_header(out, name, value)
    } else {
        write_header_trusted(out, name, value)
    }
}

fn write_head<const CHECK: bool>(
    out: &mut Vec<u8>,
    head: &ResponseHead<'_>,
    prefix: Option<&[u8]>,
) {
    // One growth check for the usual head instead of one per field.
    out.reserve(192);
    match prefix {
        Some(p) => out.extend_from_slice(p),
        None => write_status_and_fixed::<CHECK>(out, head),
    }
    write_rest::<CHECK>(out, head);
}

/// The status line, `date` and `server`.
fn write_status_and_fixed<const CHECK: bool>(out: &mut Vec<u8>, head: &ResponseHead<'_>) {
    let status = if (100..=999).contains(&head.status) {
        head.status
    } else {
        500
    };
    match (head.reason, status_line(head.version, status)) {
        (None, Some(line)) => out.extend_from_slice(line),
        (reason, _) => {
            out.extend_from_slice(head.version.as_str().as_bytes());
            let digits = [
                b' ',
                b'0' + (status / 100) as u8,
                b'0' + (status / 10 % 10) as u8,
                b'0' + (status % 10) as u8,
                b' ',
            ];
            out.extend_from_slice(&digits);
            let reason = reason.unwrap_or_else(|| reason_phrase(status));
            // reason-phrase = *( HTAB / SP / VCHAR / obs-text )
            out.extend(
                reason
                    .bytes()
                    .filter(|&c| c == b'\t' || (c >= b' ' && c != 0x7f)),
            );
            out.extend_from_slice(b"\r\n");
        }
    }
    if let Some(date) = head.date {
        write_field::<CHECK>(out, b"date", date);
    }
    if let Some(server) = head.server {
        write_field::<CHECK>(out, b"server", server);
    }
}

/// `content-type`, framing, `connection`, `trailer`.
#[inline(always)]
fn write_rest<const CHECK: bool>(out: &mut Vec<u8>, head: &ResponseHead<'_>) {
    if let Some(ct) = head.content_type {
        if CHECK {
            write_header(out, b"content-type", ct);
        } else {
            // Constant pieces are copied inline; only the value is a memcpy.
            out.extend_from_slice(b"content-type: ");
            out.extend_from_slice(ct);
            out.extend_from_slice(b"\r\n");
        }
    }
    // A status outside 100..=999 is written as 500; neither is bodyless, so
    // the raw status decides the same.
    let bodyless = is_bodyless_status(head.status);
    let mut chunked = false;
    match head.body {
        ResponseBody::Length(n) => {
            if !bodyless {
                out.extend_from_slice(b"content-length: ");
                write_decimal_crlf(out, n);
            }
        }
        ResponseBody::Chunked => chunked = !bodyless,
        ResponseBody::None => {}
    }
    let http11 = matches!(head.version, Version::Http11);
    if chunked && http11 {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    // `closes()` and `chunked_on_wire()`, from the values at hand.
    if head.close || (chunked && !http11) {
        out.extend_from_slice(b"connection: close\r\n");
    } else if head.keep_alive_10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    if let (Some(names), true) = (head.trailer_names, chunked && http11) {
        write_field::<CHECK>(out, b"trailer", names);
    }
}

/// Appends `n` in decimal and CRLF; up to four digits as one fixed-size copy.
#[inline(always)]
fn write_decimal_crlf(out: &mut Vec<u8>, n: u64) {
    let d = |x: u64| b'0' + (x % 10) as u8;
    if n < 10 {
        out.extend_from_slice(&[d(n), b'\r', b'\n']);
    } else if n < 100 {
        out.extend_from_slice(&[d(n / 10), d(n), b'\r', b'\n']);
    } else if n < 1000 {
        out.extend_from_slice(&[d(n / 100), d(n / 10), d(n), b'\r', b'\n']);
    } else if n < 10_000 {
        out.extend_from_slice(&[d(n / 1000), d(n / 100), d(n / 10), d(n), b'\r', b'\n']);
    } else {
        write_decimal(out, n);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `name: value\r\n`. The name is written as given (non-tchar bytes
/// become `-`); CR, LF and NUL in the value become SP, so caller data can
/// never split the head (response splitting).
pub fn write_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.reserve(name.len() + value.len() + 4);
    if !name.is_empty() && skip_tchar(name, 0) == name.len() {
        out.extend_from_slice(name);
    } else if name.is_empty() {
        out.push(b'-');
    } else {
        out.extend(name.iter().map(|&c| if tchar(c) { c } else { b'-' }));
    }
    out.extend_from_slice(b": ");
    if has_line_break_or_nul(value) {
        out.extend(value.iter().map(|&c| {
            if matches!(c, b'\r' | b'\n' | 0) {
                b' '
            } else {
                c
            }
        }));
    } else {
        out.extend_from_slice(value);
    }
    out.extend_from_slice(b"\r\n");
}

/// Ends the head (the empty line).
pub fn finish_head(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal without allocating.
pub(crate) fn write_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}
