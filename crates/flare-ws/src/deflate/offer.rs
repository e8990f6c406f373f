//! Parsing `Sec-WebSocket-Extensions` values (RFC 6455 section 9.1) and
//! permessage-deflate parameters (RFC 7692 section 7.1).
//!
//! ```text
//! extension-list = 1#extension
//! extension = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```

/// One permessage-deflate offer (or, on the client, the server's response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DeflateOffer {
    /// `false` if a parameter was unknown, repeated or had a bad value: RFC
    /// 7692 section 7.1 makes the offer unusable, so it is declined.
    pub valid: bool,
    /// `server_no_context_takeover` was present.
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover` was present.
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N`.
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits` (`Some(None)` when valueless).
    pub client_max_window_bits: Option<Option<u8>>,
}

/// Iterates over the elements of an extension list: each item is the
/// extension name and the raw parameter part (after the first `;`).
pub struct ExtensionIter<'a> {
    rest: &'a [u8],
}

impl<'a> ExtensionIter<'a> {
    /// Elements of one `Sec-WebSocket-Extensions` field value.
    pub fn new(value: &'a [u8]) -> Self {
        ExtensionIter { rest: value }
    }
}

/// Splits `s` at the first `sep` outside a quoted-string.
fn split_unquoted(s: &[u8], sep: u8) -> (&[u8], Option<&[u8]>) {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &c) in s.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && c == b'\\' {
            escaped = true;
        } else if c == b'"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            return (&s[..i], Some(&s[i + 1..]));
        }
    }
    (s, None)
}

pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

impl<'a> Iterator for ExtensionIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (element, rest) = split_unquoted(self.rest, b',');
            self.rest = rest.unwrap_or(&[]);
            let element = trim(element);
            if element.is_empty() {
                continue; // empty list elements are allowed (RFC 9110 5.6.1)
            }
            let (name, params) = split_unquoted(element, b';');
            return Some((trim(name), params.unwrap_or(&[])));
        }
    }
}

/// The value of a window-bits parameter: RFC 7692 section 7.1.2, "The
/// value MUST be a decimal integer in the range of 8 to 15 without leading
/// zeros" (quoted-string values are unquoted first, section 7.1).
fn window_bits(value: &[u8]) -> Option<u8> {
    let v = match value {
        [b'"', inner @ .., b'"'] => inner,
        v => v,
    };
    match v {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

/// Parses the parameters of one permessage-deflate element.
pub(crate) fn parse_params(mut params: &[u8]) -> DeflateOffer {
    let mut o = DeflateOffer {
        valid: true,
        ..DeflateOffer::default()
    };
    loop {
        let (param, rest) = split_unquoted(params, b';');
        let param = trim(param);
        let (name, value) = match split_unquoted(param, b'=') {
            (n, Some(v)) => (trim(n), Some(trim(v))),
            (n, None) => (n, None),
        };
        let ok = match (name.to_ascii_lowercase().as_slice(), value) {
            (b"", None) if rest.is_none() && param.is_empty() => true,
            (b"server_no_context_takeover", None) => {
                !std::mem::replace(&mut o.server_no_context_takeover, true)
            }
            (b"client_no_context_takeover", None) => {
                !std::mem::replace(&mut o.client_no_context_takeover, true)
            }
            (b"server_max_window_bits", Some(v)) => match window_bits(v) {
                Some(b) if o.server_max_window_bits.is_none() => {
                    o.server_max_window_bits = Some(b);
                    true
                }
                _ => false,
            },
            (b"client_max_window_bits", None) if o.client_max_window_bits.is_none() => {
                o.client_max_window_bits = Some(None);
                true
            }
            (b"client_max_window_bits", Some(v)) => match window_bits(v) {
                Some(b) if o.client_max_window_bits.is_none() => {
                    o.client_max_window_bits = Some(Some(b));
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if !ok {
            o.valid = false;
        }
        match rest {
            Some(r) => params = r,
            None => return o,
        }
    }
}

/// Appends every permessage-deflate offer in `value` (one field value of
/// `Sec-WebSocket-Extensions`) to `offers`, in order; other extensions are
/// skipped.
pub fn parse_offers(value: &[u8], offers: &mut Vec<DeflateOffer>) {
    for (name, params) in ExtensionIter::new(value) {
        if name.eq_ignore_ascii_case(b"permessage-deflate") {
            offers.push(parse_params(params));
        }
    }
}
