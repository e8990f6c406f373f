//! Message heads: decoding a header block into a validated [`Head`] (RFC
//! 9113 section 8.2 and 8.3) and the fields we refuse to send.

use flare_hpack::{DecodeError, Decoder, Field, Origin};

/// A request (server role) or response (client role) head, pseudo-headers
/// split out and validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// `:method` (requests; empty in responses).
    pub method: Vec<u8>,
    /// `:scheme` (empty for plain CONNECT and responses).
    pub scheme: Vec<u8>,
    /// `:authority`, if present.
    pub authority: Option<Vec<u8>>,
    /// `:path` (empty for plain CONNECT and responses).
    pub path: Vec<u8>,
    /// `:protocol` of an extended CONNECT (RFC 8441).
    pub protocol: Option<Vec<u8>>,
    /// `:status` (responses).
    pub status: Option<u16>,
    /// Regular fields in order, names lowercase.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
    /// The `content-length` value, if one was sent.
    pub content_length: Option<u64>,
}

/// What a header block turned out to be.
pub(crate) enum Block {
    /// A valid head (or trailers, with only `fields` set).
    Head(Head),
    /// Malformed (section 8.1.1): stream error PROTOCOL_ERROR. (The
    /// validator's reason strings document the rules; they are not kept.)
    Malformed,
    /// Over `max_header_list_size`: answered 431 (server) / reset (client).
    TooLarge,
}

/// Which kind of block is expected.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    Request { connect_protocol: bool },
    Response,
    Trailers,
}

/// Heads the application gave back ([`crate::Connection::recycle_head`]), so
/// that decoding a head at steady state allocates nothing: the next head is
/// decoded into one of them, overwriting its buffers in place (a field list
/// keeps its entries, so a request like the last one reuses every buffer).
#[derive(Debug, Default)]
pub(crate) struct HeadPool {
    heads: Vec<Head>,
    /// Field buffers left over when a head had fewer fields than the one it
    /// reused.
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Buffers for `:authority` and `:protocol` (an `Option` cannot keep an
    /// empty buffer).
    bytes: Vec<Vec<u8>>,
    /// What the fields of recently used dynamic table entries turned out to
    /// be, so that a field repeated from the table is validated once.
    known: KnownEntries,
}

/// Heads kept at most: the default concurrent-stream limit, as a read may
/// bring that many requests at once.
const POOL_HEADS: usize = 128;
/// Spare field buffers and byte buffers kept at most.
const POOL_SPARES: usize = 64;
/// Heads whose buffers hold more than this are freed rather than kept.
const POOL_MAX_HEAD: usize = 4096;

impl HeadPool {
    /// An empty head, with the buffers of a recycled one if there is one; its
    /// `fields` still holds old entries, overwritten by [`Validator::push`]
    /// and cut by [`Validator::finish`].
    fn take(&mut self) -> Head {
        let Some(mut h) = self.heads.pop() else {
            return Head::default();
        };
        h.method.clear();
        h.scheme.clear();
        h.path.clear();
        if let Some(a) = h.authority.take() {
            self.keep_bytes(a);
        }
        if let Some(p) = h.protocol.take() {
            self.keep_bytes(p);
        }
        h.status = None;
        h.content_length = None;
        h
    }

    /// A buffer holding a copy of `src`.
    fn bytes(&mut self, src: &[u8]) -> Vec<u8> {
        let mut v = self.bytes.pop().unwrap_or_default();
        v.clear();
        v.extend_from_slice(src);
        v
    }

    fn keep_bytes(&mut self, v: Vec<u8>) {
        if v.capacity() > 0 && v.capacity() <= POOL_MAX_HEAD && self.bytes.len() < POOL_SPARES {
            self.bytes.push(v);
        }
    }

    /// Takes back a field list and its buffers.
    pub(crate) fn recycle_fields(&mut self, fields: Vec<(Vec<u8>, Vec<u8>)>) {
        self.recycle(Head {
            fields,
            ..Head::default()
        });
    }

    /// Takes back a head and its buffers.
    pub(crate) fn recycle(&mut self, head: Head) {
        if self.heads.len() >= POOL_HEADS {
            return;
        }
        let held = head.method.capacity()
            + head.scheme.capacity()
            + head.path.capacity()
            + head.authority.as_ref().map_or(0, Vec::capacity)
            + head.protocol.as_ref().map_or(0, Vec::capacity)
            + head
                .fields
                .iter()
                .map(|(n, v)| n.capacity() + v.capacity())
                .sum::<usize>();
        if held <= POOL_MAX_HEAD {
            self.heads.push(head);
        }
    }
}

/// Decodes and validates one complete block. `Err` is a connection error:
/// HPACK failed (COMPRESSION_ERROR) or the bomb limit was hit. Buffers come
/// from `pool`, and go back to it when the block is not a valid head.
pub(crate) fn decode(
    decoder: &mut Decoder,
    block: &[u8],
    expect: Expect,
    pool: &mut HeadPool,
) -> Result<Block, DecodeError> {
    let head = pool.take();
    let mut v = Validator {
        head,
        filled: 0,
        pool,
        expect,
        error: None,
        regular_seen: false,
        seen: 0,
    };
    let info = match decoder.decode_with_origin(block, |f, o| v.field(f, o)) {
        Ok(info) => info,
        Err(e) => {
            v.pool.recycle(v.head);
            return Err(e);
        }
    };
    if info.over_limit {
        v.pool.recycle(v.head);
        return Ok(Block::TooLarge);
    }
    if v.error.is_some() {
        v.pool.recycle(v.head);
        return Ok(Block::Malformed);
    }
    Ok(v.finish().map_or(Block::Malformed, Block::Head))
}

/// What a field's name makes it, once its name and value passed the checks
/// that every field needs (section 8.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A pseudo-header: its bit.
    Pseudo(u8),
    /// A regular field with no rule of its own: kept as it is.
    Plain,
    /// A regular field with a rule of its own (`content-length`, `te`,
    /// connection-specific ones), or whose name is still to be checked.
    Special,
}

/// Slots of [`KnownEntries`]: more than a request usually takes from the
/// table.
const KNOWN_SLOTS: usize = 32;

/// A direct-mapped cache from dynamic table entries (by HPACK sequence
/// number) to what their field is. Sound because an entry never changes
/// while it lives and its number is never given again
/// ([`Origin::Dynamic`]).
#[derive(Debug, Default)]
struct KnownEntries {
    /// Sequence number plus one (0: empty) and the kind.
    slots: [(u64, Option<Kind>); KNOWN_SLOTS],
}

impl KnownEntries {
    #[inline]
    fn get(&self, seq: u64) -> Option<Kind> {
        let (s, kind) = self.slots[seq as usize % KNOWN_SLOTS];
        if s == seq.wrapping_add(1) {
            kind
        } else {
            None
        }
    }

    /// Remembers a field that needs no more than `kind` says.
    #[inline]
    fn put(&mut self, seq: u64, kind: Kind) {
        if kind != Kind::Special {
            self.slots[seq as usize % KNOWN_SLOTS] = (seq.wrapping_add(1), Some(kind));
        }
    }
}

/// The kind of the static table's entry `index` (RFC 7541 Appendix A): its
/// names are lowercase tokens, and its values pass section 8.2.1.
#[inline]
fn static_kind(index: u8) -> Kind {
    match index {
        1 => Kind::Pseudo(AUTHORITY),
        2 | 3 => Kind::Pseudo(METHOD),
        4 | 5 => Kind::Pseudo(PATH),
        6 | 7 => Kind::Pseudo(SCHEME),
        8..=14 => Kind::Pseudo(STATUS),
        // content-length, transfer-encoding
        28 | 57 => Kind::Special,
        _ => Kind::Plain,
    }
}

/// The kind of a field named `name`; `Err` if no field may have that name.
#[inline]
fn classify(name: &[u8]) -> Result<Kind, &'static str> {
    if let Some(pseudo) = name.strip_prefix(b":") {
        return match pseudo {
            b"method" => Ok(Kind::Pseudo(METHOD)),
            b"scheme" => Ok(Kind::Pseudo(SCHEME)),
            b"authority" => Ok(Kind::Pseudo(AUTHORITY)),
            b"path" => Ok(Kind::Pseudo(PATH)),
            b"protocol" => Ok(Kind::Pseudo(PROTOCOL)),
            b"status" => Ok(Kind::Pseudo(STATUS)),
            _ => Err("unknown pseudo-header"),
        };
    }
    // Section 8.2.1: names are lowercase tokens.
    if name.is_empty() || !name.iter().all(|&b| is_name_byte(b)) {
        return Err("invalid or uppercase field name");
    }
    if is_connection_specific(name) || name == b"te" || name == b"content-length" {
        return Ok(Kind::Special);
    }
    Ok(Kind::Plain)
}

/// Section 8.2.1: values must not contain NUL, CR or LF, nor start or end
/// with whitespace. Eight bytes at a time.
#[inline]
fn check_value(v: &[u8]) -> Result<(), &'static str> {
    if matches!(v.first(), Some(b' ' | b'\t')) || matches!(v.last(), Some(b' ' | b'\t')) {
        return Err("field value has leading or trailing whitespace");
    }
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether any byte of `x` is zero (exact: the borrow only runs into
    // bytes above a zero one).
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let bad = |x: u64| {
        zero_byte(x)
            | zero_byte(x ^ u64::from_ne_bytes([b'\r'; 8]))
            | zero_byte(x ^ u64::from_ne_bytes([b'\n'; 8]))
    };
    let mut chunks = v.chunks_exact(8);
    let mut found = 0;
    for c in &mut chunks {
        found |= bad(u64::from_ne_bytes(
            <[u8; 8]>::try_from(c).unwrap_or_default(),
        ));
    }
    // The tail, padded with spaces.
    let mut last = [b' '; 8];
    let tail = chunks.remainder();
    last[..tail.len()].copy_from_slice(tail);
    found |= bad(u64::from_ne_bytes(last));
    if found != 0 {
        return Err("field value contains NUL, CR or LF");
    }
    Ok(())
}

const METHOD: u8 = 1;
const SCHEME: u8 = 2;
const AUTHORITY: u8 = 4;
const PATH: u8 = 8;
const PROTOCOL: u8 = 16;
const STATUS: u8 = 32;

struct Validator<'p> {
    head: Head,
    /// Entries of `head.fields` written so far (later ones are stale).
    filled: usize,
    pool: &'p mut HeadPool,
    expect: Expect,
    error: Option<&'static str>,
    regular_seen: bool,
    seen: u8,
}

impl Validator<'_> {
    fn field(&mut self, f: Field<'_>, origin: Origin) {
        if self.error.is_none() {
            if let Err(e) = self.check(f, origin) {
                self.error = Some(e);
            }
        }
    }

    fn check(&mut self, f: Field<'_>, origin: Origin) -> Result<(), &'static str> {
        let kind = match origin {
            // A static entry's name and value pass every rule below.
            Origin::Static(i) => static_kind(i),
            Origin::StaticName(i) => {
                check_value(f.value)?;
                static_kind(i)
            }
            Origin::Dynamic(seq) => match self.pool.known.get(seq) {
                Some(kind) => kind,
                None => {
                    check_value(f.value)?;
                    let kind = classify(f.name)?;
                    self.pool.known.put(seq, kind);
                    kind
                }
            },
            _ => {
                check_value(f.value)?;
                classify(f.name)?
            }
        };
        match kind {
            Kind::Pseudo(bit) => self.pseudo(bit, f.value),
            Kind::Plain => {
                self.regular_seen = true;
                self.regular(f.name, f.value);
                Ok(())
            }
            Kind::Special => self.special(f.name, f.value),
        }
    }

    fn pseudo(&mut self, bit: u8, value: &[u8]) -> Result<(), &'static str> {
        // Section 8.3: "All pseudo-header fields MUST appear in a field
        // block before all regular field lines."
        if self.regular_seen {
            return Err("pseudo-header after a regular field");
        }
        let request = bit != STATUS;
        match self.expect {
            Expect::Trailers => return Err("pseudo-header in trailers"),
            Expect::Request { .. } if !request => {
                return Err("response pseudo-header in a request")
            }
            Expect::Response if request => return Err("request pseudo-header in a response"),
            _ => {}
        }
        if self.seen & bit != 0 {
            return Err("duplicate pseudo-header");
        }
        self.seen |= bit;
        // (Each appears once: the buffers were cleared by `take`.)
        match bit {
            STATUS => self.head.status = Some(parse_status(value).ok_or("invalid :status")?),
            METHOD => self.head.method.extend_from_slice(value),
            SCHEME => self.head.scheme.extend_from_slice(value),
            PATH => self.head.path.extend_from_slice(value),
            AUTHORITY => self.head.authority = Some(self.pool.bytes(value)),
            _ => self.head.protocol = Some(self.pool.bytes(value)),
        }
        Ok(())
    }

    /// A regular field with a rule of its own (or a name still to check).
    fn special(&mut self, name: &[u8], value: &[u8]) -> Result<(), &'static str> {
        self.regular_seen = true;
        // Section 8.2.1: names are lowercase tokens.
        if name.is_empty() || !name.iter().all(|&b| is_name_byte(b)) {
            return Err("invalid or uppercase field name");
        }
        // Section 8.2.2: connection-specific fields are malformed; `te` may
        // only carry "trailers".
        if is_connection_specific(name) {
            return Err("connection-specific field");
        }
        if name == b"te" && value != b"trailers" {
            return Err("te other than trailers");
        }
        if name == b"content-length" && self.expect != Expect::Trailers {
            let n = parse_length(value).ok_or("invalid content-length")?;
            if self.head.content_length.is_some_and(|c| c != n) {
                return Err("conflicting content-length values");
            }
            self.head.content_length = Some(n);
        }
        self.regular(name, value);
        Ok(())
    }

    /// Keeps a valid regular field (a trailer only if it may be kept).
    fn regular(&mut self, name: &[u8], value: &[u8]) {
        if self.expect == Expect::Trailers && is_dropped_trailer(name) {
            log::debug!(
                "h2: dropped trailer field {:?}",
                String::from_utf8_lossy(name)
            );
            return;
        }
        self.push(name, value);
    }

    /// Appends a regular field, into the buffers of a stale entry if any.
    fn push(&mut self, name: &[u8], value: &[u8]) {
        let fields = &mut self.head.fields;
        if let Some((n, v)) = fields.get_mut(self.filled) {
            n.clear();
            n.extend_from_slice(name);
            v.clear();
            v.extend_from_slice(value);
        } else {
            let (mut n, mut v) = self.pool.pairs.pop().unwrap_or_default();
            n.clear();
            n.extend_from_slice(name);
            v.clear();
            v.extend_from_slice(value);
            fields.push((n, v));
        }
        self.filled += 1;
    }

    fn finish(mut self) -> Result<Head, &'static str> {
        match check_finish(&self.head, self.seen, self.expect) {
            Ok(()) => {
                // Stale entries left from the recycled head become spares.
                let pool = &mut *self.pool;
                for pair in self.head.fields.drain(self.filled..) {
                    let small = pair.0.capacity() + pair.1.capacity() <= POOL_MAX_HEAD;
                    if small && pool.pairs.len() < POOL_SPARES {
                        pool.pairs.push(pair);
                    }
                }
                Ok(self.head)
            }
            Err(e) => {
                self.pool.recycle(self.head);
                Err(e)
            }
        }
    }
}

fn check_finish(head: &Head, seen: u8, expect: Expect) -> Result<(), &'static str> {
    match expect {
        Expect::Trailers => {}
        Expect::Response => {
            if seen & STATUS == 0 {
                return Err("missing :status");
            }
        }
        Expect::Request { connect_protocol } => {
            let connect = head.method == b"CONNECT";
            if seen & PROTOCOL != 0 {
                // RFC 8441 section 4: only with the setting on, only
                // with CONNECT, and then :scheme and :path are required.
                if !connect_protocol || !connect {
                    return Err(":protocol not allowed");
                }
                if seen & (METHOD | SCHEME | AUTHORITY | PATH) != METHOD | SCHEME | AUTHORITY | PATH
                {
                    return Err("extended CONNECT missing pseudo-headers");
                }
            } else if connect {
                // Section 8.5: ":scheme and :path MUST be omitted", and
                // :authority is required.
                if seen != METHOD | AUTHORITY {
                    return Err("CONNECT with the wrong pseudo-headers");
                }
            } else if seen & (METHOD | SCHEME | PATH) != METHOD | SCHEME | PATH {
                return Err("missing required pseudo-header");
            }
            if seen & PATH != 0 && head.path.is_empty() {
                return Err("empty :path");
            }
        }
    }
    Ok(())
}

/// Lowercase token bytes (RFC 9110 section 5.6.2), as a table.
static NAME_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = matches!(b as u8, b'a'..=b'z' | b'0'..=b'9' | b'!' | b'#' | b'$' | b'%' | b'&'
            | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~');
        b += 1;
    }
    t
};

fn is_name_byte(b: u8) -> bool {
    NAME_BYTES[usize::from(b)]
}

/// Fields that only make sense on one HTTP/1.1 hop (section 8.2.2).
/// Trailer fields dropped from a received trailer section: neither kept nor
/// merged (names lowercase, as section 8.2.1 requires).
///
/// RFC 9110 section 6.5.1 forbids senders to put in trailers what is needed
/// before the content (framing, routing, request modifiers, authentication,
/// response controls, content format); section 6.5.2 forbids recipients to
/// merge trailers into the header section. A message carrying one is not
/// refused: trailers are delivered apart ([`Event::Trailers`](crate::Event)),
/// and the fields below, which could change how a request is framed, routed,
/// handled or authorised if anything read them as header fields, are dropped
/// (the same set as flare-h1's chunked decoder). Connection-specific fields
/// never get here: in any field block they make the message malformed
/// (RFC 9113 section 8.2.2), and so do pseudo-headers in trailers (section
/// 8.1). Descriptive fields (`content-type`, `vary`, `date`, ...) are kept as
/// trailers.
const DROPPED_TRAILERS: &[&[u8]] = &[
    // framing
    b"content-length",
    b"trailer",
    // hop-by-hop (`te: trailers`, the one value allowed here)
    b"te",
    // routing
    b"host",
    // request modifiers: controls and conditionals
    b"cache-control",
    b"expect",
    b"max-forwards",
    b"pragma",
    b"range",
    b"if-match",
    b"if-none-match",
    b"if-modified-since",
    b"if-unmodified-since",
    b"if-range",
    // authentication
    b"authorization",
    b"proxy-authorization",
    b"www-authenticate",
    b"proxy-authenticate",
    b"cookie",
    b"set-cookie",
];

fn is_dropped_trailer(name: &[u8]) -> bool {
    DROPPED_TRAILERS.contains(&name)
}

pub(crate) fn is_connection_specific(name: &[u8]) -> bool {
    matches!(
        name,
        b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade"
    )
}

fn parse_status(v: &[u8]) -> Option<u16> {
    if v.len() != 3 {
        return None;
    }
    let n = parse_length(v)?;
    (100..=999).contains(&n).then_some(n as u16)
}

fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

/// Formats a status code as three ASCII digits.
pub(crate) fn status_bytes(status: u16) -> [u8; 3] {
    [
        b'0' + (status / 100 % 10) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::check_value;

    #[test]
    fn check_value_finds_nul_cr_lf_anywhere_and_whitespace_at_the_ends() {
        for n in 1..20 {
            for i in 0..n {
                for b in 0..=255u8 {
                    let mut v = vec![b'v'; n];
                    v[i] = b;
                    let at_end = i == 0 || i == n - 1;
                    let bad =
                        matches!(b, 0 | b'\r' | b'\n') || (at_end && matches!(b, b' ' | b'\t'));
                    assert_eq!(check_value(&v).is_err(), bad, "{n} {i} {b}");
                }
            }
        }
        assert!(check_value(b"").is_ok());
    }
}
