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

/// The fields whose semantics the request parser interprets, by name.
pub(crate) const HOST: u8 = 1;
pub(crate) const EXPECT: u8 = 2;
pub(crate) const UPGRADE: u8 = 3;
pub(crate) const CONNECTION: u8 = 4;
pub(crate) const CONTENT_LENGTH: u8 = 5;
pub(crate) const TRANSFER_ENCODING: u8 = 6;

/// Which of the interpreted fields (the constants above) `name` is, or 0.
///
/// `name` must be a token: then OR-ing 0x20 into a byte lowercases a letter
/// and maps no other tchar onto a letter or `-` (only CR would become `-`), so
/// the word compares below are exact case-insensitive compares. The length
/// picks the one candidate; words overlap instead of looping over bytes.
#[inline(always)]
pub(crate) fn field_kind(name: &[u8]) -> u8 {
    #[inline(always)]
    fn w8(s: &[u8], at: usize) -> u64 {
        s.get(at..)
            .and_then(|s| s.first_chunk::<8>())
            .map_or(0, |w| u64::from_le_bytes(*w) | 0x2020_2020_2020_2020)
    }
    #[inline(always)]
    fn w4(s: &[u8], at: usize) -> u32 {
        s.get(at..)
            .and_then(|s| s.first_chunk::<4>())
            .map_or(0, |w| u32::from_le_bytes(*w) | 0x2020_2020)
    }
    const fn l8(s: &[u8], at: usize) -> u64 {
        u64::from_le_bytes([
            s[at],
            s[at + 1],
            s[at + 2],
            s[at + 3],
            s[at + 4],
            s[at + 5],
            s[at + 6],
            s[at + 7],
        ])
    }
    const fn l4(s: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([s[at], s[at + 1], s[at + 2], s[at + 3]])
    }
    const CONNECTION_6: u32 = l4(b"connection", 6);
    const EXPECT_0: u32 = l4(b"expect", 0);
    const EXPECT_2: u32 = l4(b"expect", 2);
    const HOST_0: u32 = l4(b"host", 0);
    const UPGRADE_0: u32 = l4(b"upgrade", 0);
    const UPGRADE_3: u32 = l4(b"upgrade", 3);
    const CONNECTION_0: u64 = l8(b"connection", 0);
    const CONTENT_LENGTH_0: u64 = l8(b"content-length", 0);
    const CONTENT_LENGTH_6: u64 = l8(b"content-length", 6);
    const TRANSFER_ENCODING_0: u64 = l8(b"transfer-encoding", 0);
    const TRANSFER_ENCODING_8: u64 = l8(b"transfer-encoding", 8);
    const TRANSFER_ENCODING_9: u64 = l8(b"transfer-encoding", 9);
    match name.len() {
        4 if w4(name, 0) == HOST_0 => HOST,
        6 if w4(name, 0) == EXPECT_0 && w4(name, 2) == EXPECT_2 => EXPECT,
        7 if w4(name, 0) == UPGRADE_0 && w4(name, 3) == UPGRADE_3 => UPGRADE,
        10 if w8(name, 0) == CONNECTION_0 && w4(name, 6) == CONNECTION_6 => CONNECTION,
        14 if w8(name, 0) == CONTENT_LENGTH_0 && w8(name, 6) == CONTENT_LENGTH_6 => CONTENT_LENGTH,
        17 if w8(name, 0) == TRANSFER_ENCODING_0
            && w8(name, 8) == TRANSFER_ENCODING_8
            && w8(name, 9) == TRANSFER_ENCODING_9 =>
        {
            TRANSFER_ENCODING
        }
        _ => 0,
    }
}

/// The interpreted fields (see [`field_kind`]) among the parsed ones, as a
/// bit set: bit `i` for field `i` below [`MARKED_REST`], and bit
/// [`MARKED_REST`] if any field from there on is one (those few are
/// classified again when interpreted). One word keeps the field loop's state
/// in registers.
pub(crate) type Marked = u64;

/// The first field index that has no bit of its own in [`Marked`].
pub(crate) const MARKED_REST: usize = 63;

/// Whether the field line at `pos` starts with `Host:` (any case), from one
/// word. OR-ing 0x20 maps only `H` and `h` onto `h` (and so on for `o`, `s`,
/// `t`); the colon is compared as is.
#[inline(always)]
fn starts_with_host_colon(b: &[u8], pos: usize) -> bool {
    const HOST_COLON: u64 = u64::from_le_bytes(*b"host:\0\0\0");
    pos < b.len().saturating_sub(7)
        && b.get(pos..pos + 8)
            .and_then(|s| s.first_chunk::<8>())
            .is_some_and(|w| (u64::from_le_bytes(*w) & 0xff_ffff_ffff) | 0x2020_2020 == HOST_COLON)
}

/// Parses field lines from `pos` (the start of a line) up to and including
/// the empty line. Returns the offset after the empty line, or `None` if `b`
/// ends first; with it `true` if the only field line was a Host field whose
/// value was checked (so `marked` is 1 and `host` is set: nothing is left
/// to interpret). `headers` (empty on entry: both parsers clear their head
/// first) is appended to; more than `max` fields is an error.
/// `marked` records the fields [`field_kind`] knows; `host` is set to the
/// value of a Host field whose value is already known to pass
/// `valid_authority(value, false)` (the last one, if several), and is left
/// alone otherwise.
#[inline(always)]
pub(crate) fn parse_fields(
    b: &[u8],
    mut pos: usize,
    headers: &mut Vec<HeaderSpan>,
    max: usize,
    rules: FieldRules,
    marked: &mut Marked,
    host: &mut Option<Span>,
) -> Result<Option<(usize, bool)>, Error> {
    debug_assert!(headers.is_empty());
    // Host is usually the first field line (RFC 9110 section 7.2 asks user
    // agents to send it first): its name is recognized without a scan.
    if starts_with_host_colon(b, pos) {
        let name = Span::new(pos, pos + 4);
        let host_ok;
        match field_value(b, pos + 5, name, HOST, 0, headers, max, rules, marked, host)? {
            Some((next, ok)) => (pos, host_ok) = (next, ok),
            None => return Ok(None),
        }
        // Often the only field line (HTTP/1.1 clients must send Host).
        if b.get(pos..pos + 2) == Some(b"\r\n") {
            return Ok(Some((pos + 2, host_ok)));
        }
    }
    let end = if rules.obs_fold | rules.space_before_colon | rules.bare_lf {
        field_lines(b, pos, headers, max, rules, marked, host)?
    } else {
        strict_field_lines(b, pos, headers, max, marked, host)?
    };
    Ok(end.map(|end| (end, false)))
}

/// [`field_lines`] with [`FieldRules::STRICT`], out of line: the loop then
/// has the registers to itself.
#[inline(never)]
fn strict_field_lines(
    b: &[u8],
    pos: usize,
    headers: &mut Vec<HeaderSpan>,
    max: usize,
    marked: &mut Marked,
    host: &mut Option<Span>,
) -> Result<Option<usize>, Error> {
    field_lines(b, pos, headers, max, FieldRules::STRICT, marked, host)
}

/// The field lines of [`parse_fields`] from `pos`, one at a time.
#[inline(always)]
fn field_lines(
    b: &[u8],
    mut pos: usize,
    headers: &mut Vec<HeaderSpan>,
    max: usize,
    rules: FieldRules,
    marked: &mut Marked,
    host: &mut Option<Span>,
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
        let kind = field_kind(b.get(name_start..name_end).unwrap_or_default());
        let name = Span::new(name_start, name_end);
        let index = headers.len();
        match field_value(
            b,
            pos + 1,
            name,
            kind,
            index,
            headers,
            max,
            rules,
            marked,
            host,
        )? {
            Some((next, _)) => pos = next,
            None => return Ok(None),
        }
    }
}

/// The rest of a field line from just after the colon at `pos - 1`: OWS,
/// the value and the line end. Appends the field (named `name`, of the
/// [`field_kind`] `kind`; `index` is `headers.len()`) and returns the offset
/// of the next line and whether the field is a Host field with a checked
/// value (then set in `host`), or `None` if `b` ends first.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn field_value(
    b: &[u8],
    mut pos: usize,
    name: Span,
    kind: u8,
    index: usize,
    headers: &mut Vec<HeaderSpan>,
    max: usize,
    rules: FieldRules,
    marked: &mut Marked,
    host: &mut Option<Span>,
) -> Result<Option<(usize, bool)>, Error> {
    // A Host value that is plainly `host[:port]` up to the CR, after none or
    // one SP, is checked here, from the block the value scan would load
    // anyway. It starts with a host byte, so there is no more OWS to skip.
    let mut host_ok = false;
    let mut value_start = pos;
    if kind == HOST {
        let start = pos + usize::from(b.get(pos) == Some(&b' '));
        if let Some(cr) = crate::chars::plain_host_then_cr(b, start) {
            value_start = start;
            pos = cr;
            host_ok = true;
        }
    }
    if !host_ok {
        while b.get(pos).is_some_and(|&c| ows(c)) {
            pos += 1;
        }
        value_start = pos;
    }
    let mut scanned = host_ok;
    let mut value_end;
    loop {
        if !scanned {
            pos = skip_field(b, pos);
        }
        scanned = false;
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
                Some(b' ' | b'\t') => {
                    // Folded: the hint covered the first line only.
                    host_ok = false;
                    continue;
                }
                Some(_) => {}
            }
        }
        break;
    }
    // A checked Host value ends with a host byte, never with OWS.
    if !host_ok {
        while value_end > value_start && b.get(value_end - 1).is_some_and(|&c| ows(c)) {
            value_end -= 1;
        }
    }
    debug_assert_eq!(index, headers.len());
    if index >= max {
        return Err(Error::TooManyHeaders);
    }
    let value = Span::new(value_start, value_end);
    if kind != 0 {
        *marked |= 1 << index.min(MARKED_REST);
    }
    if host_ok {
        *host = Some(value);
    }
    headers.push(HeaderSpan { name, value });
    Ok(Some((pos, host_ok)))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-word `Host:` check agrees with a case-insensitive compare for
    /// every byte value at each of its five positions, and needs a whole
    /// word (otherwise the general path decides).
    #[test]
    fn host_colon_word_matches_naive() {
        for pos in 0..8 {
            for c in 0..=255u8 {
                let mut line = *b"Host: a\r";
                line[pos] = c;
                let naive = line[..4].eq_ignore_ascii_case(b"host") && line[4] == b':';
                assert_eq!(starts_with_host_colon(&line, 0), naive, "{line:?}");
                let mut shifted = vec![b'x'; 3];
                shifted.extend_from_slice(&line);
                assert_eq!(starts_with_host_colon(&shifted, 3), naive);
                assert!(!starts_with_host_colon(&line[..7], 0));
            }
        }
    }
}
