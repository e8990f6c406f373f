//! Field lines (RFC 9112 section 5): `field-name ":" OWS field-value OWS CRLF`,
//! shared by the request parser (strict) and the response parser (leniency
//! opt-in).

use crate::chars::{ows, skip_field, skip_tchar};
use crate::request::HeaderSpan;
use crate::{Error, Span};

/// Which deviations from RFC 9112 a caller tolerates. The request parser
/// uses [`FieldRules::STRICT`].
#[derive(Clone, Copy)]
pub(crate) struct FieldRules {
    /// Accept obs-fold continuation lines; the value span then covers the
    /// raw CRLF and leading whitespace of each continuation line.
    pub obs_fold: bool,
    /// Accept whitespace between the field name and the colon.
    pub space_before_colon: bool,
    /// Accept a bare LF as a line end.
    pub bare_lf: bool,
}

impl FieldRules {
    pub(crate) const STRICT: FieldRules = FieldRules {
        obs_fold: false,
        space_before_colon: false,
        bare_lf: false,
    };
}

/// Parses field lines from `pos` (the start of a line) up to and including
/// the empty line. Returns the offset after the empty line, or `None` if `b`
/// ends first. `headers` is appended to; more than `max` fields is an error.
#[inline(always)]
pub(crate) fn parse_fields(
    b: &[u8],
    mut pos: usize,
    headers: &mut Vec<HeaderSpan>,
    max: usize,
    rules: FieldRules,
) -> Result<Option<usize>, Error> {
    loop {
        // Line start: the empty line ends the section.
        let Some(&first) = b.get(pos) else {
            return Ok(None);
        };
        match first {
            b'\r' => {
                return match b.get(pos + 1) {
                    None => Ok(None),
                    Some(b'\n') => Ok(Some(pos + 2)),
                    Some(_) => Err(Error::BareCr),
                }
            }
            b'\n' if rules.bare_lf => return Ok(Some(pos + 1)),
            b'\n' => return Err(Error::BareLf),
            // RFC 9112 section 5.2: obs-fold is rejected with 400 in requests;
            // section 2.2: whitespace before the first field line MUST be
            // rejected. A lenient caller's folds are consumed below, so a line
            // starting with whitespace here is always the second case or a
            // strict fold.
            b' ' | b'\t' => return Err(Error::ObsFold),
            _ => {}
        }

        let name_start = pos;
        pos = skip_tchar(b, pos);
        let name_end = pos;
        let Some(&c) = b.get(pos) else {
            return Ok(None);
        };
        if name_end == name_start {
            return Err(Error::HeaderNameInvalid);
        }
        match c {
            b':' => {}
            b' ' | b'\t' => {
                // RFC 9112 section 5.1: no whitespace is allowed between the
                // field name and colon; a server MUST reject it with 400.
                while b.get(pos).is_some_and(|&c| ows(c)) {
                    pos += 1;
                }
                match b.get(pos) {
                    None => return Ok(None),
                    Some(b':') if rules.space_before_colon => {}
                    Some(b':') => return Err(Error::WhitespaceBeforeColon),
                    Some(_) => return Err(Error::HeaderNameInvalid),
                }
            }
            _ => return Err(Error::HeaderNameInvalid),
        }
        pos += 1; // the colon

        while b.get(pos).is_some_and(|&c| ows(c)) {
            pos += 1;
        }
        let value_start = pos;
        let mut value_end;
        loop {
            pos = skip_field(b, pos);
            match b.get(pos) {
                None => return Ok(None),
                Some(b'\r') => match b.get(pos + 1) {
                    None => return Ok(None),
                    Some(b'\n') => {
                        value_end = pos;
                        pos += 2;
                    }
                    Some(_) => return Err(Error::BareCr),
                },
                Some(b'\n') if rules.bare_lf => {
                    value_end = pos;
                    pos += 1;
                }
                Some(b'\n') => return Err(Error::BareLf),
                Some(_) => return Err(Error::InvalidHeaderValue),
            }
            if rules.obs_fold {
                match b.get(pos) {
                    None => return Ok(None),
                    Some(b' ' | b'\t') => continue,
                    Some(_) => {}
                }
            }
            break;
        }
        while value_end > value_start && b.get(value_end - 1).is_some_and(|&c| ows(c)) {
            value_end -= 1;
        }
        if headers.len() >= max {
            return Err(Error::TooManyHeaders);
        }
        headers.push(HeaderSpan {
            name: Span::new(name_start, name_end),
            value: Span::new(value_start, value_end),
        });
    }
}

/// Parses `1*DIGIT` Content-Length (RFC 9110 section 8.6). A comma means a
/// list of values, which a server must reject even if they are equal.
pub(crate) fn parse_content_length(v: &[u8]) -> Result<u64, Error> {
    if v.contains(&b',') {
        return Err(Error::DuplicateContentLength);
    }
    if v.is_empty() {
        return Err(Error::ContentLengthInvalid);
    }
    let mut n: u64 = 0;
    for &c in v {
        if !c.is_ascii_digit() {
            return Err(Error::ContentLengthInvalid);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or(Error::ContentLengthInvalid)?;
    }
    Ok(n)
}

/// One element of a Transfer-Encoding list: `Ok(true)` for `chunked`,
/// `Ok(false)` for a well-formed other coding (with or without parameters),
/// an error if the element is not `token *( OWS ";" OWS transfer-parameter )`.
pub(crate) fn transfer_coding(el: &[u8]) -> Result<bool, Error> {
    if el.eq_ignore_ascii_case(b"chunked") {
        return Ok(true);
    }
    let name_end = skip_tchar(el, 0);
    let (name, rest) = el.split_at(name_end);
    let rest = crate::chars::trim_ows(rest);
    if name.is_empty() {
        return Err(Error::TransferEncodingInvalid);
    }
    match rest.first() {
        None => Ok(false),
        // RFC 9112 section 7.1: chunked defines no parameters.
        Some(b';') if name.eq_ignore_ascii_case(b"chunked") => Err(Error::TransferEncodingInvalid),
        Some(b';') => Ok(false),
        // Whitespace or junk inside a coding name, e.g. "chun ked".
        Some(_) => Err(Error::TransferEncodingInvalid),
    }
}
