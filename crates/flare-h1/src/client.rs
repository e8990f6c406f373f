//! Client side: request serialization and a response parser that is strict
//! by default, with opt-in leniency for peers in the wild.

use crate::chars::list_elements;
use crate::fields::{parse_content_length, parse_fields, transfer_coding, FieldRules};
use crate::request::{parse_version, HeaderSpan};
use crate::response::{is_bodyless_status, write_header};
use crate::{Error, Limits, Span, Status, Version};

/// Appends an HTTP/1.1 request head: request line, `headers` (written as
/// with [`write_header`]) and the final CRLF. The caller supplies Host,
/// framing and any other fields. Method and target are written as given.
pub fn write_request_head(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    headers: &[(&str, &[u8])],
) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        write_header(out, name.as_bytes(), value);
    }
    out.extend_from_slice(b"\r\n");
}

/// Opt-in leniency for [`parse_response`]. Everything is off by default,
/// which is as strict as the request parser.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseConfig {
    /// Accept obs-fold continuation lines. The value span then includes the
    /// raw CRLF and leading whitespace of continuation lines; RFC 9112
    /// section 5.2 says to replace each fold with SP before use.
    pub allow_obs_fold: bool,
    /// Accept whitespace between a field name and its colon.
    pub allow_space_before_colon: bool,
    /// Accept bare LF line ends.
    pub allow_bare_lf: bool,
    /// Accept several Content-Length values if they are all equal
    /// (RFC 9110 section 8.6 allows a recipient to do so).
    pub allow_duplicate_content_length: bool,
    /// Accept a status line without the SP before an empty reason
    /// (`HTTP/1.1 200\r\n`).
    pub allow_missing_reason: bool,
    /// Accept Content-Length together with Transfer-Encoding: the latter
    /// wins and `connection_close` is set (RFC 9112 section 6.3 says the
    /// connection must be closed after such a response).
    pub allow_content_length_with_transfer_encoding: bool,
}

/// How a response body is delimited (RFC 9112 section 6.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body: 1xx, 204, 304, or a response to HEAD.
    #[default]
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked coding (the final transfer coding).
    Chunked,
    /// The body ends when the server closes the connection.
    UntilClose,
}

/// Result of [`parse_response`], reusable like [`crate::RequestHead`].
#[derive(Clone, Debug, Default)]
pub struct ResponseHeadParsed {
    /// Version of the status line.
    pub version: Version,
    /// Status code (100..=999).
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: Span,
    /// Field lines in order of arrival.
    pub headers: Vec<HeaderSpan>,
    /// Body framing.
    pub framing: ResponseFraming,
    /// A `close` connection option is present (or framing forces a close).
    pub connection_close: bool,
    /// A `keep-alive` connection option is present.
    pub connection_keep_alive: bool,
    /// An `upgrade` connection option is present.
    pub connection_upgrade: bool,
    /// Value of the first Upgrade field.
    pub upgrade: Option<Span>,
}

impl ResponseHeadParsed {
    /// Value of the first field named `name` (case-insensitive).
    pub fn header<'a>(&self, buf: &'a [u8], name: &str) -> Option<&'a [u8]> {
        let name = name.as_bytes();
        self.headers
            .iter()
            .find(|h| h.name.get(buf).eq_ignore_ascii_case(name))
            .map(|h| h.value.get(buf))
    }

    /// Whether the connection can carry another request after this
    /// response's body.
    pub fn keep_alive(&self) -> bool {
        let open = match self.version {
            Version::Http11 => !self.connection_close,
            Version::Http10 => self.connection_keep_alive && !self.connection_close,
        };
        open && self.framing != ResponseFraming::UntilClose
    }

    fn clear(&mut self) {
        self.version = Version::Http11;
        self.status = 0;
        self.reason = Span::default();
        self.headers.clear();
        self.framing = ResponseFraming::None;
        self.connection_close = false;
        self.connection_keep_alive = false;
        self.connection_upgrade = false;
        self.upgrade = None;
    }
}

/// Parses one response head from the start of `buf`.
///
/// `request_was_head` says the request was HEAD, so no body follows whatever
/// the fields say. A 2xx answer to CONNECT starts a tunnel: that too is the
/// caller's knowledge. Interim (1xx) responses are returned like any other;
/// the caller loops until a final status. Limits: `max_header_bytes`,
/// `max_headers`, `max_body` (for Content-Length).
pub fn parse_response(
    buf: &[u8],
    head: &mut ResponseHeadParsed,
    cfg: &ResponseConfig,
    limits: &Limits,
    request_was_head: bool,
) -> Result<Status, Error> {
    head.clear();
    let lim = buf
        .len()
        .min(limits.get_max_header_bytes())
        .min(u32::MAX as usize);
    let b = buf.get(..lim).unwrap_or(buf);
    let incomplete = || {
        if buf.len() >= limits.get_max_header_bytes() || lim < buf.len() {
            Err(Error::HeadersTooLarge)
        } else {
            Ok(Status::Partial)
        }
    };
    let rules = FieldRules {
        obs_fold: cfg.allow_obs_fold,
        space_before_colon: cfg.allow_space_before_colon,
        bare_lf: cfg.allow_bare_lf,
    };

    let Some(pos) = status_line(b, head, cfg)? else {
        return incomplete();
    };
    let Some((end, _)) = parse_fields(
        b,
        pos,
        &mut head.headers,
        limits.get_max_headers(),
        rules,
        &mut Default::default(),
        &mut None,
    )?
    else {
        return incomplete();
    };
    interpret(b, head, cfg, limits, request_was_head)?;
    Ok(Status::Complete(end))
}

/// `HTTP-version SP 3DIGIT SP reason-phrase CRLF`.
fn status_line(
    b: &[u8],
    head: &mut ResponseHeadParsed,
    cfg: &ResponseConfig,
) -> Result<Option<usize>, Error> {
    let Some(prefix) = b.get(..13) else {
        // Fail early on garbage rather than waiting for 13 bytes.
        let n = b.len().min(5);
        if b.get(..n) != b"HTTP/".get(..n) {
            return Err(Error::BadStatusLine);
        }
        return Ok(None);
    };
    head.version = match parse_version(prefix.get(..8).unwrap_or_default()) {
        Ok(v) => v,
        Err(Error::VersionNotSupported) => return Err(Error::VersionNotSupported),
        Err(_) => return Err(Error::BadStatusLine),
    };
    let [b' ', d1, d2, d3, sep] = prefix.get(8..13).unwrap_or_default() else {
        return Err(Error::BadStatusLine);
    };
    let digits = [*d1, *d2, *d3];
    if !digits.iter().all(u8::is_ascii_digit) || *d1 == b'0' {
        return Err(Error::BadStatusLine);
    }
    head.status = digits
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    let reason_start = match sep {
        b' ' => 13,
        b'\r' | b'\n' if cfg.allow_missing_reason => 12,
        _ => return Err(Error::BadStatusLine),
    };
    let mut pos = reason_start;
    // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ), here possibly empty.
    while let Some(&c) = b.get(pos) {
        if !(c == b'\t' || (c >= b' ' && c != 0x7f)) {
            break;
        }
        pos += 1;
    }
    head.reason = Span::new(reason_start, pos);
    match b.get(pos) {
        None => Ok(None),
        Some(b'\r') => match b.get(pos + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some(pos + 2)),
            Some(_) => Err(Error::BareCr),
        },
        Some(b'\n') if cfg.allow_bare_lf => Ok(Some(pos + 1)),
        Some(b'\n') => Err(Error::BareLf),
        Some(_) => Err(Error::BadStatusLine),
    }
}

fn interpret(
    b: &[u8],
    head: &mut ResponseHeadParsed,
    cfg: &ResponseConfig,
    limits: &Limits,
    request_was_head: bool,
) -> Result<(), Error> {
    let mut content_length: Option<u64> = None;
    let mut te_seen = false;
    let mut chunked_last = false;
    let mut chunked_count = 0u32;
    let mut te_elements = 0u32;
    for h in &head.headers {
        let name = h.name.get(b);
        let value = h.value.get(b);
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = if cfg.allow_duplicate_content_length {
                // Every element must be the same number.
                let mut n = None;
                for el in list_elements(value) {
                    let v = parse_content_length(el)?;
                    if n.is_some_and(|n| n != v) {
                        return Err(Error::DuplicateContentLength);
                    }
                    n = Some(v);
                }
                n.ok_or(Error::ContentLengthInvalid)?
            } else {
                parse_content_length(value)?
            };
            match content_length {
                Some(prev) if prev != n || !cfg.allow_duplicate_content_length => {
                    return Err(Error::DuplicateContentLength)
                }
                _ => content_length = Some(n),
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if head.version == Version::Http10 {
                return Err(Error::TransferEncodingOnHttp10);
            }
            te_seen = true;
            for el in list_elements(value) {
                te_elements += 1;
                chunked_last = transfer_coding(el)?;
                if chunked_last {
                    chunked_count += 1;
                }
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for opt in list_elements(value) {
                if opt.eq_ignore_ascii_case(b"close") {
                    head.connection_close = true;
                } else if opt.eq_ignore_ascii_case(b"keep-alive") {
                    head.connection_keep_alive = true;
                } else if opt.eq_ignore_ascii_case(b"upgrade") {
                    head.connection_upgrade = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") && head.upgrade.is_none() {
            head.upgrade = Some(h.value);
        }
    }
    // "A sender MUST NOT apply the chunked transfer coding more than once."
    if chunked_count > 1 || (te_seen && te_elements == 0) {
        return Err(Error::TransferEncodingInvalid);
    }
    if request_was_head || is_bodyless_status(head.status) {
        head.framing = ResponseFraming::None;
        return Ok(());
    }
    head.framing = match (te_seen, content_length) {
        (true, Some(_)) if !cfg.allow_content_length_with_transfer_encoding => {
            return Err(Error::ContentLengthWithTransferEncoding)
        }
        (true, cl) => {
            if cl.is_some() {
                head.connection_close = true;
            }
            // RFC 9112 section 6.3 (4): chunked last means chunked;
            // otherwise read until close.
            if chunked_last {
                ResponseFraming::Chunked
            } else {
                ResponseFraming::UntilClose
            }
        }
        (false, Some(n)) if n > limits.get_max_body() => return Err(Error::BodyTooLarge),
        (false, Some(n)) => ResponseFraming::Length(n),
        (false, None) => ResponseFraming::UntilClose,
    };
    Ok(())
}
