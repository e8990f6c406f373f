//! The chunked transfer coding (RFC 9112 section 7.1): a byte-at-a-time
//! decoder and the two encoder helpers.

use crate::chars::{ows, tchar, trim_ows, FIELD};
use crate::response::write_header;
use crate::{Error, Limits};

/// Trailer fields the decoder drops (lowercase): neither kept nor merged.
///
/// RFC 9110 section 6.5.1: a sender must not put in trailers the fields whose
/// evaluation is "necessary prior to receiving the content": framing,
/// routing, authentication, request modifiers, response controls and content
/// format. Section 6.5.2: a recipient "MUST NOT merge" a trailer field into
/// the header section unless its definition says how, and may discard them.
/// So a message with such a trailer is not refused: every trailer field is
/// kept apart from the header section, and these, which could change how the
/// message is framed, routed, authorised or handled if anything read them as
/// if they were header fields, are dropped (with a debug log line):
///
/// - framing: `content-length`, `transfer-encoding`, `trailer`;
/// - hop-by-hop connection fields (RFC 9110 section 7.6.1): `connection`,
///   `keep-alive`, `proxy-connection`, `te`, `upgrade`;
/// - routing: `host`;
/// - request modifiers, controls (section 6.5.1 lists them as such): `cache-control`, `expect`,
///   `max-forwards`, `pragma`, `range`; and conditionals (section 13.1):
///   `if-match`, `if-none-match`, `if-modified-since`, `if-unmodified-since`,
///   `if-range`;
/// - authentication and state: `authorization`, `proxy-authorization`,
///   `www-authenticate`, `proxy-authenticate`, `cookie`, `set-cookie`.
///
/// Descriptive fields the same sections name (content format such as
/// `content-type`, response control data such as `vary` or `date`) are inert
/// outside the header section and are kept as trailers.
const DROPPED_TRAILERS: &[&str] = &[
    // framing
    "content-length",
    "transfer-encoding",
    "trailer",
    // connection management (hop-by-hop)
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
    // routing
    "host",
    // request modifiers: controls
    "cache-control",
    "expect",
    "max-forwards",
    "pragma",
    "range",
    // request modifiers: conditionals
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    // authentication
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "cookie",
    "set-cookie",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Hex digits of the chunk size.
    Size,
    /// BWS after the size, before `;`.
    SizeWs,
    /// After `;`, BWS before an extension name.
    ExtNameStart,
    /// Inside an extension name.
    ExtName,
    /// BWS after an extension name (before `=` or `;`).
    ExtNameWs,
    /// After `=`, BWS before the value.
    ExtValueStart,
    /// Inside a token value.
    ExtToken,
    /// Inside a quoted-string value.
    ExtQuoted,
    /// After a backslash in a quoted string.
    ExtQuotedEscape,
    /// Just after a closing quote.
    ExtQuotedEnd,
    /// BWS after a value, which only a `;` may follow.
    ExtValueWs,
    /// CR seen at the end of the size line.
    SizeLf,
    /// Chunk data; `remaining` bytes left.
    Data,
    /// Expecting the CR after chunk data.
    DataCr,
    /// Expecting the LF after chunk data.
    DataLf,
    /// Start of a trailer line, or the final empty line.
    TrailerStart,
    /// Inside a trailer line.
    TrailerLine,
    /// CR seen at the end of a trailer line.
    TrailerLf,
    /// CR of the final empty line seen.
    EndLf,
    /// The whole chunked body has been decoded.
    Done,
}

/// Progress of one [`ChunkedDecoder::decode`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkedProgress {
    /// Input bytes used. Less than the input only when `done` (the rest
    /// belongs to the next message).
    pub consumed: usize,
    /// The last chunk and trailer section have been read.
    pub done: bool,
}

/// Decoder for a chunked body, fed any split of the input (one byte at a
/// time works): it never re-scans and keeps no input except trailer lines.
///
/// Chunk extensions are checked against the RFC grammar
/// (`;name[=token|quoted-string]` with BWS) and dropped. Trailer fields are
/// parsed with the same strictness as header fields and kept apart from the
/// header section ([`trailers`](Self::trailers)); fields that must not be
/// trailers and could matter if read as header fields (framing, hop-by-hop,
/// routing, request modifiers, authentication; the list is in the source as
/// `DROPPED_TRAILERS`) are dropped, not refused (RFC 9110 section 6.5).
/// Every field line, kept or dropped, counts towards the trailer limits.
///
/// After an error the decoder keeps returning that error until
/// [`ChunkedDecoder::reset`].
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    failed: Option<Error>,
    size: u64,
    digits: usize,
    total: u64,
    ext_bytes: usize,
    trailer_bytes: usize,
    /// Trailer field lines seen, dropped ones included.
    trailer_fields: usize,
    line: Vec<u8>,
    trailers: Vec<(String, Vec<u8>)>,
    max_body: u64,
    max_digits: usize,
    max_ext_bytes: usize,
    max_trailer_bytes: usize,
    max_trailers: usize,
}

impl ChunkedDecoder {
    /// A decoder for one body, enforcing `max_body`, `max_chunk_size_digits`,
    /// `max_chunk_ext_bytes`, `max_trailer_bytes` and `max_headers` (for the
    /// number of trailer fields).
    pub fn new(limits: &Limits) -> Self {
        ChunkedDecoder {
            state: State::Size,
            failed: None,
            size: 0,
            digits: 0,
            total: 0,
            ext_bytes: 0,
            trailer_bytes: 0,
            trailer_fields: 0,
            line: Vec::new(),
            trailers: Vec::new(),
            max_body: limits.get_max_body(),
            max_digits: limits.get_max_chunk_size_digits(),
            max_ext_bytes: limits.get_max_chunk_ext_bytes(),
            max_trailer_bytes: limits.get_max_trailer_bytes(),
            max_trailers: limits.get_max_headers(),
        }
    }

    /// Prepares for the next body, keeping allocations.
    pub fn reset(&mut self) {
        self.state = State::Size;
        self.failed = None;
        self.size = 0;
        self.digits = 0;
        self.total = 0;
        self.ext_bytes = 0;
        self.trailer_bytes = 0;
        self.trailer_fields = 0;
        self.line.clear();
        self.trailers.clear();
    }

    /// True once the whole body, trailers included, has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Body bytes decoded so far.
    pub fn body_len(&self) -> u64 {
        self.total
    }

    /// Trailer fields (lowercased name, OWS-trimmed value), complete once
    /// [`ChunkedProgress::done`]. Allocates only when trailers exist.
    pub fn trailers(&self) -> &[(String, Vec<u8>)] {
        &self.trailers
    }

    /// Decodes as much of `input` as possible, appending body bytes to `out`.
    /// Stops right after the final CRLF: bytes after it are not consumed.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<ChunkedProgress, Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut i = 0;
        while let Some(&c) = input.get(i) {
            if self.state == State::Done {
                break;
            }
            if self.state == State::Data {
                let rest = input.get(i..).unwrap_or_default();
                let n = rest
                    .len()
                    .min(usize::try_from(self.size).unwrap_or(usize::MAX));
                out.extend_from_slice(rest.get(..n).unwrap_or_default());
                i += n;
                self.size -= n as u64;
                if self.size == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            i += 1;
            if let Err(e) = self.step(c) {
                self.failed = Some(e);
                return Err(e);
            }
        }
        Ok(ChunkedProgress {
            consumed: i,
            done: self.state == State::Done,
        })
    }

    fn step(&mut self, c: u8) -> Result<(), Error> {
        use State::*;
        // Extension bytes: everything from the first BWS or ';' to the CR.
        if c != b'\r'
            && matches!(
                self.state,
                SizeWs
                    | ExtNameStart
                    | ExtName
                    | ExtNameWs
                    | ExtValueStart
                    | ExtToken
                    | ExtQuoted
                    | ExtQuotedEscape
                    | ExtQuotedEnd
                    | ExtValueWs
            )
        {
            self.ext_bytes += 1;
            if self.ext_bytes > self.max_ext_bytes {
                return Err(Error::ChunkExtensionsTooLarge);
            }
        }
        if matches!(self.state, TrailerStart | TrailerLine | TrailerLf | EndLf) {
            self.trailer_bytes += 1;
            if self.trailer_bytes > self.max_trailer_bytes {
                return Err(Error::TrailersTooLarge);
            }
        }
        self.state = match self.state {
            Size => {
                if let Some(d) = hex_value(c) {
                    self.digits += 1;
                    if self.digits > self.max_digits {
                        return Err(Error::ChunkSizeTooLarge);
                    }
                    self.size = self
                        .size
                        .checked_mul(16)
                        .map(|s| s | u64::from(d))
                        .ok_or(Error::ChunkSizeTooLarge)?;
                    return Ok(());
                }
                if self.digits == 0 {
                    return Err(Error::ChunkSizeInvalid);
                }
                // Refuse before reading the data.
                self.total = self
                    .total
                    .checked_add(self.size)
                    .filter(|&t| t <= self.max_body)
                    .ok_or(Error::BodyTooLarge)?;
                match c {
                    b'\r' => SizeLf,
                    b';' => {
                        self.ext_bytes += 1;
                        if self.ext_bytes > self.max_ext_bytes {
                            return Err(Error::ChunkExtensionsTooLarge);
                        }
                        ExtNameStart
                    }
                    b' ' | b'\t' => {
                        self.ext_bytes += 1;
                        if self.ext_bytes > self.max_ext_bytes {
                            return Err(Error::ChunkExtensionsTooLarge);
                        }
                        SizeWs
                    }
                    b'\n' => return Err(Error::BareLf),
                    _ => return Err(Error::ChunkSizeInvalid),
                }
            }
            // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
            SizeWs => match c {
                b' ' | b'\t' => SizeWs,
                b';' => ExtNameStart,
                _ => return Err(Error::ChunkExtensionInvalid),
            },
            ExtNameStart => match c {
                b' ' | b'\t' => ExtNameStart,
                c if tchar(c) => ExtName,
                _ => return Err(Error::ChunkExtensionInvalid),
            },
            ExtName => match c {
                c if tchar(c) => ExtName,
                b' ' | b'\t' => ExtNameWs,
                b'=' => ExtValueStart,
                b';' => ExtNameStart,
                b'\r' => SizeLf,
                _ => return Err(Error::ChunkExtensionInvalid),
            },
            ExtNameWs => match c {
                b' ' | b'\t' => ExtNameWs,
                b'=' => ExtValueStart,
                b';' => ExtNameStart,
                _ => return Err(Error::ChunkExtensionInvalid),
            },
            ExtValueStart => match c {
                b' ' | b'\t' => ExtValueStart,
                b'"' => ExtQuoted,
                c if tchar(c) => ExtToken,
                _ => return Err(Error::ChunkExtensionInvalid),
            },
            ExtToken => match c {
                c if tchar(c) => ExtToken,
                b' ' | b'\t' => ExtValueWs,
                b';' => ExtNameStart,
                b'\r' => SizeLf,
                _ => return Err(Error::ChunkExtensionInvalid),
            },
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            ExtQuoted => match c {
                b'"' => ExtQuotedEnd,
                b'\\' => ExtQuotedEscape,
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => ExtQuoted,
                _ => return Err(Error::ChunkExtensionInvalid),
            },
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            ExtQuotedEscape => match c {
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => ExtQuoted,
                _ => return Err(Error::ChunkExtensionInvalid),
            },
            ExtQuotedEnd => match c {
                b' ' | b'\t' => ExtValueWs,
                b';' => ExtNameStart,
                b'\r' => SizeLf,
                _ => return Err(Error::ChunkExtensionInvalid),
            },
            ExtValueWs => match c {
                b' ' | b'\t' => ExtValueWs,
                b';' => ExtNameStart,
                _ => return Err(Error::ChunkExtensionInvalid),
            },
            SizeLf => match c {
                b'\n' if self.size == 0 => TrailerStart,
                b'\n' => Data,
                _ => return Err(Error::BareCr),
            },
            // Handled in `decode` without stepping byte by byte.
            Data => Data,
            DataCr => match c {
                b'\r' => DataLf,
                _ => return Err(Error::ChunkDataCrlfMissing),
            },
            DataLf => match c {
                b'\n' => {
                    self.size = 0;
                    self.digits = 0;
                    Size
                }
                _ => return Err(Error::ChunkDataCrlfMissing),
            },
            TrailerStart => match c {
                b'\r' => EndLf,
                b'\n' => return Err(Error::BareLf),
                b' ' | b'\t' => return Err(Error::ObsFold),
                _ => {
                    self.line.clear();
                    self.line.push(c);
                    TrailerLine
                }
            },
            TrailerLine => match c {
                b'\r' => TrailerLf,
                b'\n' => return Err(Error::BareLf),
                _ => {
                    self.line.push(c);
                    TrailerLine
                }
            },
            TrailerLf => match c {
                b'\n' => {
                    self.finish_trailer_line()?;
                    TrailerStart
                }
                _ => return Err(Error::BareCr),
            },
            EndLf => match c {
                b'\n' => Done,
                _ => return Err(Error::BareCr),
            },
            Done => Done,
        };
        Ok(())
    }

    /// Validates the buffered trailer line like a header field line and
    /// records it.
    fn finish_trailer_line(&mut self) -> Result<(), Error> {
        let line = &self.line;
        let colon = line.iter().position(|&c| !tchar(c)).unwrap_or(line.len());
        let (name, rest) = line.split_at(colon);
        if name.is_empty() {
            return Err(Error::HeaderNameInvalid);
        }
        let value = match rest {
            [b':', value @ ..] => value,
            [c, ..] if ows(*c) => {
                return if trim_ows(rest).first() == Some(&b':') {
                    Err(Error::WhitespaceBeforeColon)
                } else {
                    Err(Error::HeaderNameInvalid)
                }
            }
            _ => return Err(Error::HeaderNameInvalid),
        };
        if !value.iter().all(|&c| FIELD[c as usize]) {
            return Err(Error::InvalidHeaderValue);
        }
        if self.trailer_fields >= self.max_trailers {
            return Err(Error::TooManyHeaders);
        }
        self.trailer_fields += 1;
        if DROPPED_TRAILERS
            .iter()
            .any(|f| f.as_bytes().eq_ignore_ascii_case(name))
        {
            log::debug!(
                "chunked: dropped trailer field {:?}",
                String::from_utf8_lossy(name)
            );
            return Ok(());
        }
        let name: String = name
            .iter()
            .map(|&c| c.to_ascii_lowercase() as char)
            .collect();
        self.trailers.push((name, trim_ows(value).to_vec()));
        Ok(())
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Appends `n` in lowercase hex without allocating.
fn write_hex(out: &mut Vec<u8>, n: usize) {
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends one chunk holding `data`. Does nothing for empty data, which
/// would otherwise read as the last chunk.
pub fn encode_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    write_hex(out, data.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk, the trailer fields (written as with
/// [`write_header`]) and the final CRLF.
pub fn encode_last_chunk(out: &mut Vec<u8>, trailers: &[(&str, &[u8])]) {
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailers {
        write_header(out, name.as_bytes(), value);
    }
    out.extend_from_slice(b"\r\n");
}
