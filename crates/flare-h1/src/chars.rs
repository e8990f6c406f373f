//! Byte-class tables and word-at-a-time scans for the hot loops.

const fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

const fn make_tchar() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = is_tchar(i as u8);
        i += 1;
    }
    t
}

/// field-vchar / SP / HTAB / obs-text: bytes allowed inside a field value
/// (RFC 9110 section 5.5).
const fn make_field() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i == 0x09 || (i >= 0x20 && i != 0x7f);
        i += 1;
    }
    t
}

/// reg-name bytes of a URI host: unreserved / pct-encoded / sub-delims
/// (RFC 3986 section 3.2.2).
const fn make_reg_name() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        i += 1;
    }
    t
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostClass {
    Invalid,
    RegName,
    Colon,
}

const fn make_host_class() -> [HostClass; 256] {
    let reg = make_reg_name();
    let mut t = [HostClass::Invalid; 256];
    let mut i = 0;
    while i < 256 {
        if reg[i] {
            t[i] = HostClass::RegName;
        }
        i += 1;
    }
    t[b':' as usize] = HostClass::Colon;
    t
}

/// Byte classes of `reg-name [ ":" port ]`, scanned in one pass.
static HOST_CLASS: [HostClass; 256] = make_host_class();

/// tchar (RFC 9110 section 5.6.2).
pub(crate) static TCHAR: [bool; 256] = make_tchar();
/// Bytes allowed in a field value.
pub(crate) static FIELD: [bool; 256] = make_field();

#[inline(always)]
pub(crate) fn tchar(c: u8) -> bool {
    TCHAR[c as usize]
}

#[inline(always)]
pub(crate) fn ows(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;
const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;

// Exact per-byte classifiers over a little-endian word: the high bit of
// each byte of the result is set iff that byte matches. No carry crosses a
// byte boundary, so unlike the usual "has zero byte" trick every flag is
// exact and the first match can be located with `trailing_zeros`.

/// Bytes below `n` (`n <= 0x80`).
#[inline(always)]
fn lt(x: u64, n: u8) -> u64 {
    !(((x & LOWS) + ONES * u64::from(0x80 - n)) | x) & HIGHS
}

/// Bytes that are not ASCII digits.
#[inline(always)]
fn not_digits(w: u64) -> u64 {
    // Digits become 0..=9; every other byte a value of at least 10.
    let x = w ^ (ONES * u64::from(b'0'));
    (((x & LOWS) + ONES * u64::from(0x80 - 10u8)) | x) & HIGHS
}

/// Bytes equal to `v`.
#[inline(always)]
fn eq(x: u64, v: u8) -> u64 {
    let y = x ^ (ONES * u64::from(v));
    !(((y & LOWS) + LOWS) | y) & HIGHS
}

#[inline(always)]
fn word(b: &[u8], i: usize) -> Option<u64> {
    // `i + 8 <= b.len()` in one compare (see `block`).
    if i >= b.len().saturating_sub(7) {
        return None;
    }
    b.get(i..i + 8)
        .and_then(|s| s.first_chunk::<8>())
        .map(|w| u64::from_le_bytes(*w))
}

/// Index of the first flagged byte of a non-zero flag word.
#[inline(always)]
fn first(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

/// Flags the bytes of the 16 at `b[i..]` for which `bad` holds: byte `k` of
/// the result is 0xFF if `bad(b[i + k])`, else 0. `None` if fewer than 16
/// bytes are left. Written so that LLVM vectorizes it with baseline SSE2
/// (one compare chain for 16 bytes, no per-byte branch), which is why `bad`
/// must use `&`/`|` on `bool`s, not `&&`/`||`.
#[inline(always)]
fn block(b: &[u8], i: usize, bad: impl Fn(u8) -> bool) -> Option<u128> {
    // `i + 16 <= b.len()` in one compare (no overflow: `i < b.len()`).
    if i >= b.len().saturating_sub(15) {
        return None;
    }
    let block = b.get(i..i + 16)?.first_chunk::<16>()?;
    let mut m = [0u8; 16];
    for (m, &c) in m.iter_mut().zip(block) {
        *m = u8::from(bad(c)).wrapping_neg();
    }
    Some(u128::from_le_bytes(m))
}

/// Index of the first flagged byte of a [`block`] result, 16 if none.
///
/// Callers test the index (`< 16`) rather than the flags (`!= 0`): both
/// halves of the flags are then only needed in general registers, and LLVM
/// does not also rebuild the vector for a zero test.
#[inline(always)]
fn first16(flags: u128) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

#[inline(always)]
fn not_visible(c: u8) -> bool {
    c.wrapping_sub(0x21) >= 0x5e
}

#[inline(always)]
fn not_field(c: u8) -> bool {
    (c < 0x20) & (c != b'\t') | (c == 0x7f)
}

/// Not a letter, digit or `-` (the usual field-name bytes).
#[inline(always)]
fn not_name_common(c: u8) -> bool {
    !(((c | 0x20).wrapping_sub(b'a') < 26) | (c.wrapping_sub(b'0') < 10) | (c == b'-'))
}

/// Not a letter, digit, `-` or `.` (the usual host bytes).
#[inline(always)]
fn not_host_common(c: u8) -> bool {
    not_name_common(c) & (c != b'.')
}

/// Skips visible ASCII (0x21..=0x7E) other than `?` from `i`; returns the
/// index of the first other byte (or `b.len()`).
#[inline(always)]
pub(crate) fn skip_path(b: &[u8], mut i: usize) -> usize {
    while let Some(bad) = block(b, i, |c| not_visible(c) | (c == b'?')) {
        let k = first16(bad);
        if k < 16 {
            return i + k;
        }
        i += 16;
    }
    skip_path_tail(b, i)
}

/// The end of [`skip_path`]: fewer than 16 bytes left. Out of line to keep
/// the callers' hot loops small.
#[inline(never)]
fn skip_path_tail(b: &[u8], mut i: usize) -> usize {
    while let Some(w) = word(b, i) {
        let bad = lt(w, 0x21) | (w & HIGHS) | eq(w, 0x7f) | eq(w, b'?');
        if bad != 0 {
            return i + first(bad);
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if !(0x21..0x7f).contains(&c) || c == b'?' {
            break;
        }
        i += 1;
    }
    i
}

/// Skips visible ASCII (0x21..=0x7E) from `i`.
#[inline(always)]
pub(crate) fn skip_visible(b: &[u8], mut i: usize) -> usize {
    while let Some(bad) = block(b, i, not_visible) {
        let k = first16(bad);
        if k < 16 {
            return i + k;
        }
        i += 16;
    }
    skip_visible_tail(b, i)
}

/// The end of [`skip_visible`]: fewer than 16 bytes left. Out of line to keep
/// the callers' hot loops small.
#[inline(never)]
fn skip_visible_tail(b: &[u8], mut i: usize) -> usize {
    while let Some(w) = word(b, i) {
        let bad = lt(w, 0x21) | (w & HIGHS) | eq(w, 0x7f);
        if bad != 0 {
            return i + first(bad);
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if !(0x21..0x7f).contains(&c) {
            break;
        }
        i += 1;
    }
    i
}

/// Skips field-value bytes (HTAB, SP, VCHAR, obs-text) from `i`.
#[inline(always)]
pub(crate) fn skip_field(b: &[u8], mut i: usize) -> usize {
    while let Some(bad) = block(b, i, not_field) {
        let k = first16(bad);
        if k < 16 {
            return i + k;
        }
        i += 16;
    }
    skip_field_tail(b, i)
}

/// The end of [`skip_field`]: fewer than 16 bytes left. Out of line to keep
/// the callers' hot loops small.
#[inline(never)]
fn skip_field_tail(b: &[u8], mut i: usize) -> usize {
    while let Some(w) = word(b, i) {
        let bad = (lt(w, 0x20) & !eq(w, b'\t')) | eq(w, 0x7f);
        if bad != 0 {
            return i + first(bad);
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if !FIELD[c as usize] {
            break;
        }
        i += 1;
    }
    i
}

/// Whether `v` holds a CR, LF or NUL: the bytes that could split a head if a
/// value were written as is. Eight bytes at a time.
#[inline]
pub(crate) fn has_line_break_or_nul(v: &[u8]) -> bool {
    let mut i = 0;
    while let Some(w) = word(v, i) {
        if (eq(w, b'\r') | eq(w, b'\n') | eq(w, 0)) != 0 {
            return true;
        }
        i += 8;
    }
    v[i.min(v.len())..]
        .iter()
        .any(|&c| matches!(c, b'\r' | b'\n' | 0))
}

/// Skips tchar bytes from `i`. Runs of the common name bytes (letters,
/// digits, `-`) are skipped sixteen (near the end of `b`, eight) at a time;
/// other tchars one at a time.
#[inline(always)]
pub(crate) fn skip_tchar(b: &[u8], mut i: usize) -> usize {
    loop {
        match block(b, i, not_name_common) {
            Some(other) => {
                let k = first16(other);
                i += k;
                if k == 16 {
                    continue;
                }
            }
            None => i = skip_name_words(b, i),
        }
        match b.get(i) {
            // The colon after a field name, the usual stop: no table look-up.
            Some(b':') => return i,
            Some(&c) if tchar(c) => i += 1,
            _ => return i,
        }
    }
}

/// [`skip_tchar`] with fewer than 16 bytes left: the common name bytes eight
/// at a time, up to the first other byte. Out of line (see `skip_field_tail`).
#[inline(never)]
fn skip_name_words(b: &[u8], mut i: usize) -> usize {
    while let Some(w) = word(b, i) {
        let folded = w | (ONES * 0x20);
        let letter = !lt(folded, b'a') & lt(folded, b'z' + 1);
        let digit = !lt(w, b'0') & lt(w, b'9' + 1);
        let other = !(letter | digit | eq(w, b'-')) & HIGHS;
        if other != 0 {
            return i + first(other);
        }
        i += 8;
    }
    i
}

/// Trims SP / HTAB (and CR / LF, which only reach here inside values the
/// lenient client parser unfolded) from both ends.
pub(crate) fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [c, rest @ ..] = v {
        if !matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            break;
        }
        v = rest;
    }
    while let [rest @ .., c] = v {
        if !matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            break;
        }
        v = rest;
    }
    v
}

/// Non-empty elements of a comma-separated list (RFC 9110 section 5.6.1),
/// OWS-trimmed. Empty elements are skipped as the RFC requires.
pub(crate) fn list_elements(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&c| c == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// Skips letters, digits, `-` and `.` (the bytes of nearly every host name and
/// IPv4 address) in `v` from 0, eight at a time; the last partial word is
/// taken overlapping the previous one. Returns the index of the first other
/// byte (or `v.len()`).
#[inline(always)]
fn skip_common_host(v: &[u8]) -> usize {
    #[inline(always)]
    fn others(w: u64) -> u64 {
        let folded = w | (ONES * 0x20);
        let letter = !lt(folded, b'a') & lt(folded, b'z' + 1);
        let digit = !lt(w, b'0') & lt(w, b'9' + 1);
        !(letter | digit | eq(w, b'-') | eq(w, b'.')) & HIGHS
    }
    let n = v.len();
    if n >= 16 {
        let mut i = 0;
        loop {
            // `i + 16 <= n` here, and the last block is taken at `n - 16`.
            let Some(bad) = block(v, i, not_host_common) else {
                return n;
            };
            let k = first16(bad);
            if k < 16 {
                return i + k;
            }
            if i + 16 == n {
                return n;
            }
            i = (i + 16).min(n - 16);
        }
    }
    if n < 8 {
        return v
            .iter()
            .position(|&c| !(c.is_ascii_alphanumeric() || c == b'-' || c == b'.'))
            .unwrap_or(n);
    }
    let mut i = 0;
    loop {
        // `i + 8 <= n` here, and the last word is taken at `n - 8`.
        let Some(w) = word(v, i) else { return n };
        let bad = others(w);
        if bad != 0 {
            return i + first(bad);
        }
        if i + 8 == n {
            return n;
        }
        i = (i + 8).min(n - 8);
    }
}

/// If `b[start..]` is a non-empty run of letters, digits, `-` and `.`,
/// optionally followed by `:` and fewer than eight digits, and then CR, all
/// within 16 + 8 bytes: the index of that CR. The bytes before it then pass
/// both the field-value scan and `valid_authority(_, false)`. `None` means
/// "decide the long way", not "invalid".
#[inline(always)]
pub(crate) fn plain_host_then_cr(b: &[u8], start: usize) -> Option<usize> {
    let k = first16(block(b, start, not_host_common)?);
    // Neither an empty host (0) nor one running past the block (16).
    if k.wrapping_sub(1) >= 15 {
        return None;
    }
    let p = start + k;
    match b.get(p) {
        Some(b'\r') => Some(p),
        Some(b':') => {
            let w = word(b, p + 1)?;
            let not_digit = not_digits(w);
            if not_digit == 0 {
                return None;
            }
            let q = p + 1 + first(not_digit);
            (b.get(q) == Some(&b'\r')).then_some(q)
        }
        _ => None,
    }
}

/// [`valid_authority`]`(value, false)` for a Host value `span` of `b`.
///
/// Values of 1 to 16 bytes followed by enough of `b` for one 16-byte block
/// (the CRLFs after a Host value usually are) and made of letters, digits,
/// `-`, `.` and `:` are decided from that one block: a non-empty host, then
/// optionally `:` and digits only.
#[inline(always)]
pub(crate) fn valid_host_value(b: &[u8], span: crate::Span) -> bool {
    let start = span.start as usize;
    let n = span.len();
    if (1..=16).contains(&n) {
        if let Some(others) = block(b, start, not_host_common) {
            // 16 if there is no other byte in the block; `n <= 16`.
            let colon = first16(others);
            if colon >= n {
                return true;
            }
            if b.get(start + colon) == Some(&b':') {
                // The port: the bytes after the colon, all digits.
                let port = n - colon - 1;
                if let Some(w) = word(b, start + colon + 1) {
                    if port <= 8 {
                        let in_port = u64::MAX.checked_shr(8 * (8 - port) as u32).unwrap_or(0);
                        let not_digit = not_digits(w) & in_port;
                        return colon > 0 && not_digit == 0;
                    }
                }
            }
        }
    }
    valid_authority(span.get(b), false)
}

/// `uri-host [ ":" port ]` with `port = *DIGIT`; with `require_port`, the
/// authority-form of CONNECT (`uri-host ":" port`, non-empty port and host).
/// Without it, an entirely empty value is allowed (Host of a request whose
/// target has no authority, RFC 9112 section 3.2).
///
/// Every byte accepted is visible ASCII.
pub(crate) fn valid_authority(v: &[u8], require_port: bool) -> bool {
    let Some(&first_byte) = v.first() else {
        return !require_port;
    };
    let (host_len, rest) = if first_byte == b'[' {
        let inner = v.get(1..).unwrap_or_default();
        let Some(close) = inner.iter().position(|&c| c == b']') else {
            return false;
        };
        let (ip, rest) = inner.split_at(close);
        if !ip
            .iter()
            .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
        {
            return false;
        }
        (ip.len(), rest.get(1..).unwrap_or_default())
    } else {
        // The common bytes eight at a time, then the rest of reg-name
        // (`_`, `~`, `%`, sub-delims) one at a time up to the first ':'.
        let mut end = skip_common_host(v);
        while let Some(&c) = v.get(end) {
            match HOST_CLASS[c as usize] {
                HostClass::RegName => end += 1,
                HostClass::Colon => break,
                HostClass::Invalid => return false,
            }
        }
        (end, v.get(end..).unwrap_or_default())
    };
    if host_len == 0 {
        return false;
    }
    match rest {
        [] => !require_port,
        [b':', port @ ..] => {
            port.iter().all(u8::is_ascii_digit) && !(require_port && port.is_empty())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(b: &[u8], mut i: usize, ok: impl Fn(u8) -> bool) -> usize {
        while i < b.len() && ok(b[i]) {
            i += 1;
        }
        i
    }

    /// The word-at-a-time scans agree with byte-at-a-time ones on every
    /// single-byte stop position and every byte value.
    #[test]
    fn swar_scans_match_naive() {
        for len in 0..20 {
            for stop in 0..=len {
                for bad in 0..=255u8 {
                    let mut v = vec![b'a'; len];
                    if stop < len {
                        v[stop] = bad;
                    }
                    let vis = |c: u8| (0x21..0x7f).contains(&c);
                    assert_eq!(skip_visible(&v, 0), naive(&v, 0, vis));
                    assert_eq!(skip_path(&v, 0), naive(&v, 0, |c| vis(c) && c != b'?'));
                    assert_eq!(skip_field(&v, 0), naive(&v, 0, |c| FIELD[c as usize]));
                    assert_eq!(skip_tchar(&v, 0), naive(&v, 0, tchar));
                }
            }
        }
    }

    /// `uri-host [ ":" port ]` with `port = *DIGIT`; with `require_port`, the
    /// authority-form of CONNECT (`uri-host ":" port`, non-empty port and host).
    /// Without it, an entirely empty value is allowed (Host of a request whose
    /// target has no authority, RFC 9112 section 3.2).
    fn valid_authority_naive(v: &[u8], require_port: bool) -> bool {
        if v.is_empty() {
            return !require_port;
        }
        let (host, rest) = if let Some(inner) = v.strip_prefix(b"[") {
            let Some(close) = inner.iter().position(|&c| c == b']') else {
                return false;
            };
            let (ip, rest) = inner.split_at(close);
            if ip.is_empty()
                || !ip
                    .iter()
                    .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
            {
                return false;
            }
            (ip, rest.get(1..).unwrap_or(&[]))
        } else {
            // One pass: reg-name bytes up to the first ':'.
            let mut end = v.len();
            for (i, &c) in v.iter().enumerate() {
                match HOST_CLASS[c as usize] {
                    HostClass::RegName => {}
                    HostClass::Colon => {
                        end = i;
                        break;
                    }
                    HostClass::Invalid => return false,
                }
            }
            v.split_at(end)
        };
        if host.is_empty() {
            return false;
        }
        match rest {
            [] => !require_port,
            [b':', port @ ..] => {
                port.iter().all(u8::is_ascii_digit) && !(require_port && port.is_empty())
            }
            _ => false,
        }
    }

    /// The fast authority check agrees with the straightforward one on every
    /// byte at every position of a few shapes, with and without a port.
    #[test]
    fn authority_matches_naive() {
        let shapes: [&[u8]; 8] = [
            b"example.com",
            b"127.0.0.1:18201",
            b"a",
            b"www.example-host.co.uk:443",
            b"[::1]:80",
            b"h_st~x%41.example.org:",
            b"abcdefgh",
            b"abcdefghi:1",
        ];
        for shape in shapes {
            for pos in 0..shape.len() {
                for c in 0..=255u8 {
                    let mut v = shape.to_vec();
                    v[pos] = c;
                    for req in [false, true] {
                        assert_eq!(
                            valid_authority(&v, req),
                            valid_authority_naive(&v, req),
                            "{:?} {req}",
                            String::from_utf8_lossy(&v)
                        );
                    }
                }
            }
            for len in 0..=shape.len() {
                for req in [false, true] {
                    let v = &shape[..len];
                    assert_eq!(valid_authority(v, req), valid_authority_naive(v, req));
                }
            }
        }
    }

    /// The block Host check agrees with `valid_authority` for every byte at
    /// every position of values of each length up to 20, followed by CRLFs
    /// or by the end of the buffer.
    #[test]
    fn host_value_matches_authority() {
        let base = b"www.example.com:8080";
        for len in 0..=base.len() {
            for split in 0..=len {
                // Host part of `split` bytes, then `:` and digits.
                let mut v: Vec<u8> = base[..split].to_vec();
                if split < len {
                    v.push(b':');
                    v.extend(b"12345678901234567890".iter().take(len - split - 1));
                }
                for pos in 0..v.len() {
                    for c in 0..=255u8 {
                        let mut w = v.clone();
                        w[pos] = c;
                        for tail in [&b"\r\n\r\n0123456789abcdef"[..], b""] {
                            let mut buf = b"Host: ".to_vec();
                            buf.extend_from_slice(&w);
                            buf.extend_from_slice(tail);
                            let span = crate::Span::new(6, 6 + w.len());
                            // The parse-time hint only ever vouches for a
                            // valid value ending at a CR.
                            if let Some(cr) = plain_host_then_cr(&buf, 6) {
                                assert_eq!(buf[cr], b'\r');
                                let v = &buf[6..cr];
                                assert!(valid_authority(v, false), "{v:?}");
                                assert_eq!(skip_field(v, 0), v.len());
                            }
                            assert_eq!(
                                valid_host_value(&buf, span),
                                valid_authority(&w, false),
                                "{:?}",
                                String::from_utf8_lossy(&w)
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn authority_forms() {
        assert!(valid_authority(b"example.com:443", true));
        assert!(valid_authority(b"[::1]:8080", true));
        assert!(!valid_authority(b"example.com", true));
        assert!(!valid_authority(b"example.com:", true));
        assert!(!valid_authority(b":80", true));
        assert!(!valid_authority(b"a@b:80", true));
        assert!(valid_authority(b"", false));
        assert!(valid_authority(b"example.com", false));
        assert!(valid_authority(b"example.com:", false));
        assert!(valid_authority(b"[2001:db8::1]", false));
        assert!(!valid_authority(b"[2001:db8::1", false));
        assert!(!valid_authority(b"[]", false));
        assert!(!valid_authority(b"a b", false));
        assert!(!valid_authority(b"a/b", false));
        assert!(!valid_authority(b"a:b", false));
    }
}
