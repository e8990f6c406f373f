//! Request heads: request line (RFC 9112 section 3), field lines, and the
//! framing and connection semantics a server needs before reading a body.

use crate::chars::{
    list_elements, skip_path, skip_tchar, skip_visible, valid_authority, valid_host_value,
};
use crate::fields::{
    field_kind, parse_content_length, parse_fields, transfer_coding, FieldRules, Marked,
    CONNECTION, CONTENT_LENGTH, EXPECT, HOST, MARKED_REST, TRANSFER_ENCODING, UPGRADE,
};
use crate::{Error, Limits, Span, Status, Version};

/// Request method (RFC 9110 section 9). Methods are case-sensitive.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    #[default]
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH`
    Patch,
    /// Any other valid token; its bytes are in [`RequestHead::method_span`].
    Other,
}

impl Method {
    /// Classifies method bytes (already known to be a token).
    #[inline]
    pub fn from_bytes(m: &[u8]) -> Method {
        match m {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }

    /// The method name, or `None` for [`Method::Other`].
    pub fn as_str(&self) -> Option<&'static str> {
        Some(match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Other => return None,
        })
    }
}

/// Form of the request-target (RFC 9112 section 3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TargetForm {
    /// `/path?query`
    #[default]
    Origin,
    /// `scheme://authority/path?query` (proxies; servers must accept it too).
    Absolute,
    /// `host:port`, only with CONNECT.
    Authority,
    /// `*`, only with OPTIONS.
    Asterisk,
}

/// One header field line: name and value as spans into the parsed buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeaderSpan {
    /// Field name, as sent (compare case-insensitively).
    pub name: Span,
    /// Field value with leading and trailing OWS trimmed.
    pub value: Span,
}

/// What the head says about the message body (RFC 9112 section 6.3), already
/// validated: at most one Content-Length, never together with
/// Transfer-Encoding, and chunked as the only transfer coding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body (neither Content-Length nor Transfer-Encoding).
    #[default]
    None,
    /// Exactly this many body bytes follow (already `<= max_body`).
    Length(u64),
    /// A chunked body follows; decode it with [`crate::ChunkedDecoder`].
    Chunked,
}

/// The `Expect` field (RFC 9110 section 10.1.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expect {
    /// No expectation (also for `100-continue` on HTTP/1.0, which a server
    /// MUST ignore).
    #[default]
    None,
    /// `100-continue`: send `100 Continue` before reading the body, or a
    /// final status instead.
    Continue,
    /// Any other expectation: the server should answer 417.
    Other,
}

/// Reusable parse result; [`parse_request`] clears and refills it, so once
/// `headers` has grown no parse allocates.
#[derive(Clone, Debug, Default)]
pub struct RequestHead {
    /// Request method.
    pub method: Method,
    /// Method bytes (needed for [`Method::Other`]).
    pub method_span: Span,
    /// The whole request-target.
    ///
    /// Guarantee: after a successful parse, the bytes of `target` (hence of
    /// `path`, `query` and `authority`, which lie within it) are visible
    /// ASCII, 0x21..=0x7E, so `std::str::from_utf8` on them cannot fail (a
    /// caller may skip the check, e.g. with `from_utf8_unchecked`). The
    /// method bytes are a token, also ASCII. Field values, however, may hold obs-text
    /// (0x80..=0xFF).
    pub target: Span,
    /// Form of the target.
    pub target_form: TargetForm,
    /// Origin form: the target up to `?`. Absolute form: the path part after
    /// the authority up to `?`, empty if the target has no path (treat as
    /// `/`). Asterisk form: `*`. Authority form: empty.
    pub path: Span,
    /// The query after `?` (without the `?`), if there is a `?`.
    pub query: Option<Span>,
    /// Absolute and authority forms: the target's `host[:port]`. RFC 9112
    /// section 3.2.2: a server MUST then use it and ignore the Host field.
    pub authority: Option<Span>,
    /// HTTP version.
    pub version: Version,
    /// Field lines in order of arrival.
    pub headers: Vec<HeaderSpan>,
    /// Validated body framing.
    pub framing: BodyFraming,
    /// A `close` connection option is present (case-insensitive, any
    /// Connection field, comma lists).
    pub connection_close: bool,
    /// A `keep-alive` connection option is present (matters for HTTP/1.0).
    pub connection_keep_alive: bool,
    /// An `upgrade` connection option is present.
    pub connection_upgrade: bool,
    /// Value of the first Upgrade field.
    pub upgrade: Option<Span>,
    /// Expectation.
    pub expect: Expect,
    /// Value of the Host field (validated as `uri-host [":" port]`, may be
    /// empty).
    pub host: Option<Span>,
}

impl RequestHead {
    /// Resets every field, keeping the `headers` allocation.
    pub fn clear(&mut self) {
        self.method = Method::Get;
        self.method_span = Span::default();
        self.target = Span::default();
        self.target_form = TargetForm::Origin;
        self.path = Span::default();
        self.query = None;
        self.authority = None;
        self.version = Version::Http11;
        self.headers.clear();
        self.framing = BodyFraming::None;
        self.connection_close = false;
        self.connection_keep_alive = false;
        self.connection_upgrade = false;
        self.upgrade = None;
        self.expect = Expect::None;
        self.host = None;
    }

    /// Value of the first field named `name` (case-insensitive).
    pub fn header<'a>(&self, buf: &'a [u8], name: &str) -> Option<&'a [u8]> {
        let name = name.as_bytes();
        self.headers
            .iter()
            .find(|h| h.name.len() == name.len() && h.name.get(buf).eq_ignore_ascii_case(name))
            .map(|h| h.value.get(buf))
    }

    /// Whether the connection may stay open after this exchange
    /// (RFC 9112 section 9.3): HTTP/1.1 unless `close`; HTTP/1.0 only with
    /// `keep-alive` and without `close`.
    pub fn keep_alive(&self) -> bool {
        match self.version {
            Version::Http11 => !self.connection_close,
            Version::Http10 => self.connection_keep_alive && !self.connection_close,
        }
    }
}

/// Parses one request head from the start of `buf` into `head`.
///
/// Empty lines (CRLF) before the request line are skipped (RFC 9112
/// section 2.2) and count as consumed. On `Partial`, call again with more
/// bytes appended; on `Complete(n)` the body (see [`RequestHead::framing`])
/// starts at `buf[n]`. Spans in `head` index into `buf`.
///
/// Each call re-parses from the start of `buf` (the httparse model), so a
/// peer trickling a head one byte per packet costs O(n^2) over the head.
/// A driver can bound that by calling again only when the newly read bytes
/// contain a LF (no line, hence no new result, can complete without one) or
/// the buffer has reached `max_header_bytes` (so the limit errors still
/// fire); an invalid byte is then reported at the next line end instead.
///
/// Errors are final: answer with [`Error::status`] and close the connection.
/// Limits apply even while the head is incomplete: more than
/// `max_request_line` bytes without a line end is 414, and `max_header_bytes`
/// bytes without a complete head is 431.
///
/// Only a `Complete` result fills `head` in full; after `Partial` or an error
/// it holds whatever was parsed on the way (e.g. the request line, some
/// fields, a Host value already checked) and should not be used.
pub fn parse_request(buf: &[u8], head: &mut RequestHead, limits: &Limits) -> Result<Status, Error> {
    head.clear();
    let max_head = limits.get_max_header_bytes();
    let lim = buf.len().min(max_head).min(u32::MAX as usize);
    let b = buf.get(..lim).unwrap_or(buf);
    let incomplete = || {
        if buf.len() >= max_head || lim < buf.len() {
            Err(Error::HeadersTooLarge)
        } else {
            Ok(Status::Partial)
        }
    };

    let mut pos = 0;
    // `GET ` at the very start: no empty lines to skip, no method to scan.
    // (Empty lines before the request line are rare.)
    let get = b.get(..4) == Some(b"GET ");
    if !get {
        loop {
            match b.get(pos) {
                Some(b'\r') => match b.get(pos + 1) {
                    Some(b'\n') => pos += 2,
                    Some(_) => return Err(Error::BareCr),
                    None => return incomplete(),
                },
                Some(b'\n') => return Err(Error::BareLf),
                Some(_) => break,
                None => return incomplete(),
            }
        }
    }

    let line_start = pos;
    match request_line(b, pos, get, head)? {
        Some(next) => {
            if next - 2 - line_start > limits.get_max_request_line() {
                return Err(Error::UriTooLong);
            }
            pos = next;
        }
        None => {
            let mut so_far = b.len() - line_start;
            if b.last() == Some(&b'\r') {
                so_far -= 1;
            }
            if so_far > limits.get_max_request_line() {
                return Err(Error::UriTooLong);
            }
            return incomplete();
        }
    }

    let mut marked: Marked = 0;
    match parse_fields(
        b,
        pos,
        &mut head.headers,
        limits.get_max_headers(),
        FieldRules::STRICT,
        &mut marked,
        &mut head.host,
    )? {
        // Host alone, checked: nothing else to interpret (`clear` reset it).
        Some((end, true)) => Ok(Status::Complete(end)),
        Some((end, false)) => {
            interpret_fields(b, head, limits, marked)?;
            Ok(Status::Complete(end))
        }
        None => incomplete(),
    }
}

/// `method SP request-target SP HTTP-version CRLF` from `pos`; returns the
/// offset after the CRLF, or `None` if `b` ends first. `get`: the caller has
/// seen `GET ` at `pos`.
#[inline(always)]
fn request_line(
    b: &[u8],
    mut pos: usize,
    get: bool,
    head: &mut RequestHead,
) -> Result<Option<usize>, Error> {
    let m_start = pos;
    let method;
    if get {
        method = Method::Get;
        pos += 3;
    } else {
        pos = skip_tchar(b, pos);
        match b.get(pos) {
            None => return Ok(None),
            Some(b' ') if pos > m_start => {}
            Some(_) => return Err(Error::BadMethod),
        }
        method = Method::from_bytes(b.get(m_start..pos).unwrap_or_default());
    }
    head.method = method;
    head.method_span = Span::new(m_start, pos);
    pos += 1;

    let t_start = pos;
    pos = skip_path(b, pos);
    let mut query = None;
    let mut stop = b.get(pos);
    if stop == Some(&b'?') {
        query = Some(pos);
        pos = skip_visible(b, pos + 1);
        stop = b.get(pos);
    }
    match stop {
        None => return Ok(None),
        Some(b' ') if pos > t_start => {}
        Some(_) => return Err(Error::BadTarget),
    }
    if b.get(t_start) == Some(&b'/') && method != Method::Connect {
        // Origin form, the usual case (see classify_target).
        head.target = Span::new(t_start, pos);
        head.path = Span::new(t_start, query.unwrap_or(pos));
        head.query = query.map(|q| Span::new(q + 1, pos));
    } else {
        classify_target(b, t_start, pos, query, head)?;
    }
    pos += 1;

    // Fast path: `HTTP/1.1` CRLF in one 10-byte compare.
    if b.get(pos..pos + 10) == Some(b"HTTP/1.1\r\n") {
        head.version = Version::Http11;
        return Ok(Some(pos + 10));
    }
    let Some(v) = b.get(pos..pos + 8) else {
        return Ok(None);
    };
    head.version = parse_version(v)?;
    pos += 8;
    match b.get(pos) {
        None => Ok(None),
        Some(b'\r') => match b.get(pos + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some(pos + 2)),
            Some(_) => Err(Error::BareCr),
        },
        Some(b'\n') => Err(Error::BareLf),
        Some(_) => Err(Error::BadVersion),
    }
}

/// `HTTP/1.0` or `HTTP/1.1`; other `HTTP/d.d` is 505 (RFC 9112 section 2.3).
#[inline]
pub(crate) fn parse_version(v: &[u8]) -> Result<Version, Error> {
    match v {
        b"HTTP/1.1" => Ok(Version::Http11),
        b"HTTP/1.0" => Ok(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(Error::VersionNotSupported)
        }
        _ => Err(Error::BadVersion),
    }
}

/// Sets target, form, path, query and authority (RFC 9112 section 3.2).
fn classify_target(
    b: &[u8],
    start: usize,
    end: usize,
    query: Option<usize>,
    head: &mut RequestHead,
) -> Result<(), Error> {
    let t = b.get(start..end).unwrap_or_default();
    let path_end = query.unwrap_or(end);
    head.target = Span::new(start, end);
    head.query = query.map(|q| Span::new(q + 1, end));

    // "When making a CONNECT request ... a client MUST send only the host
    // and port of the tunnel destination as the request-target."
    if head.method == Method::Connect {
        if query.is_some() || !valid_authority(t, true) {
            return Err(Error::BadTarget);
        }
        head.target_form = TargetForm::Authority;
        head.path = Span::new(start, start);
        head.authority = Some(head.target);
        return Ok(());
    }
    match t.first() {
        Some(b'/') => {
            head.target_form = TargetForm::Origin;
            head.path = Span::new(start, path_end);
            Ok(())
        }
        // "The asterisk-form ... is only used for a server-wide OPTIONS request."
        Some(b'*') if t.len() == 1 => {
            if head.method != Method::Options {
                return Err(Error::BadTarget);
            }
            head.target_form = TargetForm::Asterisk;
            head.path = head.target;
            Ok(())
        }
        Some(c) if c.is_ascii_alphabetic() => {
            // absolute-URI: scheme "://" authority path-abempty [ "?" query ]
            let path_part = t.get(..path_end - start).unwrap_or_default();
            let scheme_len = path_part
                .iter()
                .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
                .ok_or(Error::BadTarget)?;
            let after = path_part.get(scheme_len..).unwrap_or_default();
            let rest = after.strip_prefix(b"://").ok_or(Error::BadTarget)?;
            let auth_len = rest.iter().position(|&c| c == b'/').unwrap_or(rest.len());
            let auth = rest.get(..auth_len).unwrap_or_default();
            // An http(s) URI has a non-empty host; userinfo is deprecated
            // and treated as an error (RFC 9110 section 4.2.4).
            if auth.is_empty() || !valid_authority(auth, false) {
                return Err(Error::BadTarget);
            }
            let auth_start = start + scheme_len + 3;
            head.target_form = TargetForm::Absolute;
            head.authority = Some(Span::new(auth_start, auth_start + auth_len));
            head.path = Span::new(auth_start + auth_len, path_end);
            Ok(())
        }
        _ => Err(Error::BadTarget),
    }
}

/// Framing, Host, Connection, Upgrade and Expect semantics, from the fields
/// `marked` while parsing (in order of arrival, so the first error wins as
/// it would in a pass over every field).
#[inline(always)]
fn interpret_fields(
    b: &[u8],
    head: &mut RequestHead,
    limits: &Limits,
    marked: Marked,
) -> Result<(), Error> {
    // The usual request: one interpreted field with a bit of its own.
    if marked.is_power_of_two() && marked < 1 << MARKED_REST {
        // `head.host` is only set yet if a Host field's value was checked
        // while parsing: then it is that field, and the request is done.
        // Everything else was reset by `clear`.
        if head.host.is_some() {
            return Ok(());
        }
        // The same with a Host value still to check.
        let index = marked.trailing_zeros() as usize;
        if let Some(&h) = head.headers.get(index) {
            if h.name.len() == 4 {
                // Only Host has a 4-byte name among the marked ones.
                if !valid_host_value(b, h.value) {
                    return Err(Error::InvalidHost);
                }
                head.host = Some(h.value);
                return Ok(());
            }
        }
    }
    interpret_all(b, head, limits, marked)
}

/// [`interpret_fields`] for any set of marked fields.
#[inline(never)]
fn interpret_all(
    b: &[u8],
    head: &mut RequestHead,
    limits: &Limits,
    marked: Marked,
) -> Result<(), Error> {
    let mut content_length = None;
    let mut chunked = false;
    let mut hosts = 0u32;
    let mut expect = Expect::None;
    // A Host value checked while parsing (see `parse_fields`).
    let checked_host = head.host;
    let mut low = marked & !(1 << MARKED_REST);
    let mut i = 0;
    loop {
        let index = if low != 0 {
            let index = low.trailing_zeros() as usize;
            low &= low - 1;
            index
        } else if marked >> MARKED_REST != 0 {
            // Fields from MARKED_REST on are rare: classify them again here.
            i = i.max(MARKED_REST);
            if i >= head.headers.len() {
                break;
            }
            i += 1;
            i - 1
        } else {
            break;
        };
        let Some(&h) = head.headers.get(index) else {
            break;
        };
        // Below MARKED_REST the field is marked, and the interpreted names
        // have distinct lengths.
        let kind = if index < MARKED_REST {
            match h.name.len() {
                4 => HOST,
                6 => EXPECT,
                7 => UPGRADE,
                10 => CONNECTION,
                14 => CONTENT_LENGTH,
                17 => TRANSFER_ENCODING,
                _ => 0,
            }
        } else {
            field_kind(h.name.get(b))
        };
        let value = h.value.get(b);
        match kind {
            HOST => {
                // RFC 9112 section 3.2: 400 for more than one Host field line
                // or an invalid Host value.
                hosts += 1;
                if hosts > 1 {
                    return Err(Error::MultipleHost);
                }
                // Spans of different fields differ.
                let checked = checked_host == Some(h.value);
                if !checked && !valid_host_value(b, h.value) {
                    return Err(Error::InvalidHost);
                }
                head.host = Some(h.value);
            }
            EXPECT => {
                for el in list_elements(value) {
                    if el.eq_ignore_ascii_case(b"100-continue") {
                        if expect == Expect::None {
                            expect = Expect::Continue;
                        }
                    } else {
                        expect = Expect::Other;
                    }
                }
            }
            UPGRADE if head.upgrade.is_none() => {
                head.upgrade = Some(h.value);
            }
            CONNECTION => {
                for opt in list_elements(value) {
                    if opt.eq_ignore_ascii_case(b"close") {
                        head.connection_close = true;
                    } else if opt.eq_ignore_ascii_case(b"keep-alive") {
                        head.connection_keep_alive = true;
                    } else if opt.eq_ignore_ascii_case(b"upgrade") {
                        head.connection_upgrade = true;
                    }
                }
            }
            CONTENT_LENGTH => {
                if content_length.is_some() {
                    return Err(Error::DuplicateContentLength);
                }
                content_length = Some(parse_content_length(value)?);
            }
            TRANSFER_ENCODING => {
                // RFC 9112 section 6.1: Transfer-Encoding in HTTP/1.0 means
                // faulty framing.
                if head.version == Version::Http10 {
                    return Err(Error::TransferEncodingOnHttp10);
                }
                let mut any = false;
                for el in list_elements(value) {
                    any = true;
                    if !transfer_coding(el)? {
                        // "A server that receives a request message with a
                        // transfer coding it does not understand SHOULD
                        // respond with 501"; chunked must also be final.
                        return Err(Error::TransferEncodingUnsupported);
                    }
                    // "A sender MUST NOT apply the chunked transfer coding
                    // more than once to a message body."
                    if chunked {
                        return Err(Error::TransferEncodingInvalid);
                    }
                    chunked = true;
                }
                if !any {
                    return Err(Error::TransferEncodingInvalid);
                }
            }
            _ => {}
        }
    }
    if hosts == 0 && head.version == Version::Http11 {
        return Err(Error::MissingHost);
    }
    // RFC 9112 section 6.3 (3): both present "ought to be handled as an
    // error"; a server MAY reject and MUST then close. We reject.
    head.framing = match (content_length, chunked) {
        (Some(_), true) => return Err(Error::ContentLengthWithTransferEncoding),
        (None, true) => BodyFraming::Chunked,
        (Some(n), false) if n > limits.get_max_body() => return Err(Error::BodyTooLarge),
        (Some(n), false) => BodyFraming::Length(n),
        (None, false) => BodyFraming::None,
    };
    // RFC 9110 section 10.1.1: "A server that receives a 100-continue
    // expectation in an HTTP/1.0 request MUST ignore that expectation."
    if expect == Expect::Continue && head.version == Version::Http10 {
        expect = Expect::None;
    }
    head.expect = expect;
    Ok(())
}
