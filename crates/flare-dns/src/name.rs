//! Domain names: validated labels, compression-aware decoding and encoding.

use core::fmt;
use core::hash::{Hash, Hasher};
use std::collections::HashMap;

use crate::error::DecodeError;
use crate::wire::Reader;

/// The most bytes a name takes in wire form, root label included (RFC 1035 3.1).
pub const MAX_NAME_WIRE_LEN: usize = 255;
/// The most bytes in a label (RFC 1035 2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// The most bytes in a name's text form without the final dot (255 - 2).
pub const MAX_NAME_TEXT_LEN: usize = 253;
/// The most compression pointers one name may follow while decoding. Every pointer
/// must also point strictly backwards, which already rules out loops; this caps the
/// work per name at a small constant as well.
pub const MAX_POINTERS: usize = 32;

/// A domain name, stored in uncompressed wire form (length-prefixed labels ending
/// with the empty root label). Comparison and hashing ignore ASCII case (RFC 4343).
#[derive(Clone)]
pub struct Name {
    wire: Vec<u8>,
}

/// Why a text name was rejected by [`Name::from_ascii`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// The name was empty.
    Empty,
    /// The name was longer than 253 bytes (not counting a final dot).
    TooLong {
        /// Its length.
        len: usize,
    },
    /// A label was longer than 63 bytes.
    LabelTooLong {
        /// The label's length.
        len: usize,
    },
    /// The name had an empty label (`a..b`, or a leading dot).
    EmptyLabel,
    /// The name held a byte that cannot appear in a host name: a control byte (NUL,
    /// CR, LF, ...), a space, `@`, `\`, or a non-ASCII byte (use the IDNA A-label).
    ForbiddenByte {
        /// The byte.
        byte: u8,
    },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Empty => f.write_str("empty name"),
            Self::TooLong { len } => write!(f, "name of {len} bytes exceeds {MAX_NAME_TEXT_LEN}"),
            Self::LabelTooLong { len } => write!(f, "label of {len} bytes exceeds {MAX_LABEL_LEN}"),
            Self::EmptyLabel => f.write_str("empty label"),
            Self::ForbiddenByte { byte } => write!(f, "forbidden byte {byte:#04x} in name"),
        }
    }
}

impl std::error::Error for NameError {}

impl Name {
    /// The root name `.`.
    pub fn root() -> Self {
        Self { wire: vec![0] }
    }

    /// Parses a host name such as `www.example.com` or `www.example.com.` (the final
    /// dot is optional and not remembered; see [`Name::is_fqdn_text`]).
    ///
    /// Rejects empty labels, labels over 63 bytes, names over 253 bytes, and bytes
    /// that have no place in a host name: control bytes (NUL, CR, LF, ...), space,
    /// `@`, `\` and non-ASCII bytes. `"."` is the root.
    pub fn from_ascii(text: &str) -> Result<Self, NameError> {
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return Err(NameError::Empty);
        }
        if bytes == b"." {
            return Ok(Self::root());
        }
        let body = bytes.strip_suffix(b".").unwrap_or(bytes);
        if body.len() > MAX_NAME_TEXT_LEN {
            return Err(NameError::TooLong { len: body.len() });
        }
        if let Some(&byte) = body.iter().find(|&&b| forbidden(b)) {
            return Err(NameError::ForbiddenByte { byte });
        }
        let mut wire = Vec::with_capacity(body.len() + 2);
        for label in body.split(|&b| b == b'.') {
            if label.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong { len: label.len() });
            }
            wire.push(label.len() as u8);
            wire.extend_from_slice(label);
        }
        wire.push(0);
        Ok(Self { wire })
    }

    /// Whether `text` ends with a dot, i.e. names an absolute name that must not be
    /// extended with the search list.
    pub fn is_fqdn_text(text: &str) -> bool {
        text.ends_with('.')
    }

    /// Builds a name from labels, checking the label and total lengths. Labels may
    /// hold any bytes (the wire allows them); use [`Name::from_ascii`] for host names.
    pub fn from_labels<'a, I: IntoIterator<Item = &'a [u8]>>(labels: I) -> Result<Self, NameError> {
        let mut wire = Vec::new();
        for label in labels {
            if label.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong { len: label.len() });
            }
            wire.push(label.len() as u8);
            wire.extend_from_slice(label);
        }
        wire.push(0);
        if wire.len() > MAX_NAME_WIRE_LEN {
            return Err(NameError::TooLong {
                len: wire.len() - 2,
            });
        }
        Ok(Self { wire })
    }

    /// The uncompressed wire form, root label included.
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// Whether this is the root name.
    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// The labels, leftmost first, root excluded.
    pub fn labels(&self) -> Labels<'_> {
        Labels { rest: &self.wire }
    }

    /// The number of labels, root excluded.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// This name with `suffix` appended (`www` + `example.com`), used to walk a
    /// search list.
    pub fn join(&self, suffix: &Name) -> Result<Name, NameError> {
        let head = self
            .wire
            .get(..self.wire.len().saturating_sub(1))
            .unwrap_or(&[]);
        let len = head.len() + suffix.wire.len();
        if len > MAX_NAME_WIRE_LEN {
            return Err(NameError::TooLong {
                len: len.saturating_sub(2),
            });
        }
        let mut wire = Vec::with_capacity(len);
        wire.extend_from_slice(head);
        wire.extend_from_slice(&suffix.wire);
        Ok(Name { wire })
    }

    /// Decodes a possibly compressed name at the reader's position and moves past it.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let msg = r.message();
        let start = r.pos();
        let mut wire = Vec::with_capacity(32);
        // `pos` walks the labels; `limit` bounds reads before the first pointer (the
        // caller's limit) and after a pointer (the pointer's own position).
        let mut pos = start;
        let mut limit = r.end();
        let mut resume = None;
        let mut pointers = 0;
        loop {
            let &len = msg
                .get(pos)
                .filter(|_| pos < limit)
                .ok_or(DecodeError::Truncated { offset: pos })?;
            match len & 0xC0 {
                0x00 => {
                    let n = usize::from(len);
                    if wire.len() + 1 + n > MAX_NAME_WIRE_LEN {
                        return Err(DecodeError::NameTooLong { offset: start });
                    }
                    if n == 0 {
                        wire.push(0);
                        r.set_pos(resume.unwrap_or(pos + 1));
                        return Ok(Self { wire });
                    }
                    let label = msg
                        .get(pos + 1..pos + 1 + n)
                        .filter(|_| pos + 1 + n <= limit)
                        .ok_or(DecodeError::Truncated { offset: pos })?;
                    wire.push(len);
                    wire.extend_from_slice(label);
                    pos += 1 + n;
                }
                0xC0 => {
                    let &low = msg
                        .get(pos + 1)
                        .filter(|_| pos + 1 < limit)
                        .ok_or(DecodeError::Truncated { offset: pos })?;
                    let target = usize::from(u16::from_be_bytes([len & 0x3F, low]));
                    // RFC 1035 4.1.4: a pointer names a "prior occurrence"; anything
                    // else is a loop or garbage.
                    if target >= pos {
                        return Err(DecodeError::PointerNotBackward { offset: pos });
                    }
                    pointers += 1;
                    if pointers > MAX_POINTERS {
                        return Err(DecodeError::TooManyPointers { offset: start });
                    }
                    if resume.is_none() {
                        resume = Some(pos + 2);
                    }
                    limit = pos;
                    pos = target;
                }
                _ => {
                    return Err(DecodeError::BadLabelType {
                        offset: pos,
                        byte: len,
                    })
                }
            }
        }
    }

    /// Appends the name uncompressed.
    pub(crate) fn encode_plain(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.wire);
    }

    /// The wire form with ASCII letters folded to lower case.
    fn folded(&self) -> Vec<u8> {
        self.wire.to_ascii_lowercase()
    }
}

fn forbidden(b: u8) -> bool {
    !(0x21..0x7F).contains(&b) || b == b'@' || b == b'\\'
}

/// The labels of a [`Name`].
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, tail) = self.rest.split_first()?;
        let n = usize::from(len);
        if n == 0 || n > tail.len() {
            return None;
        }
        let (label, rest) = tail.split_at(n);
        self.rest = rest;
        Some(label)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.wire.eq_ignore_ascii_case(&other.wire)
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in &self.wire {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            for &b in label {
                match b {
                    b'.' | b'\\' => write!(f, "\\{}", b as char)?,
                    0x21..=0x7E => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

impl core::str::FromStr for Name {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, NameError> {
        Self::from_ascii(s)
    }
}

/// Remembers where name suffixes were written so later names can point at them
/// (RFC 1035 4.1.4).
#[derive(Debug, Default)]
pub(crate) struct Compressor {
    /// Offset of the message start within the output buffer.
    base: usize,
    /// Case-folded suffix wire form -> offset from the message start.
    seen: HashMap<Vec<u8>, u16>,
}

impl Compressor {
    /// A compressor for a message that starts at `base` in the output buffer.
    pub(crate) fn new(base: usize) -> Self {
        Self {
            base,
            seen: HashMap::new(),
        }
    }

    /// Appends `name`, replacing its longest already-written suffix with a pointer.
    pub(crate) fn encode(&mut self, name: &Name, out: &mut Vec<u8>) {
        let folded = name.folded();
        let mut i = 0;
        while let Some(&len) = folded.get(i) {
            if len == 0 {
                out.push(0);
                return;
            }
            let suffix = folded.get(i..).unwrap_or(&[]);
            if let Some(&offset) = self.seen.get(suffix) {
                out.extend_from_slice(&(0xC000 | offset).to_be_bytes());
                return;
            }
            let here = out.len() - self.base;
            // Pointers carry 14 bits; suffixes written later than that cannot be named.
            if here < 0x4000 {
                self.seen.insert(suffix.to_vec(), here as u16);
            }
            let end = (i + 1 + usize::from(len)).min(folded.len());
            out.extend_from_slice(name.wire.get(i..end).unwrap_or(&[]));
            i = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_at(msg: &[u8], pos: usize) -> Result<Name, DecodeError> {
        let mut r = Reader::new(msg);
        r.set_pos(pos);
        Name::decode(&mut r)
    }

    #[test]
    fn parses_and_displays() {
        let n = Name::from_ascii("WWW.Example.com.").unwrap();
        assert_eq!(n.to_string(), "WWW.Example.com");
        assert_eq!(n, Name::from_ascii("www.example.COM").unwrap());
        assert_eq!(n.label_count(), 3);
        assert_eq!(Name::from_ascii(".").unwrap(), Name::root());
        assert_eq!(Name::root().to_string(), ".");
    }

    #[test]
    fn rejects_bad_host_names() {
        let long_label = "a".repeat(64);
        assert_eq!(
            Name::from_ascii(&long_label),
            Err(NameError::LabelTooLong { len: 64 })
        );
        assert!(Name::from_ascii(&"a".repeat(63)).is_ok());
        // 4 * 63 + 3 dots = 255 > 253.
        let long = [long_label.get(..63).unwrap(); 4].join(".");
        assert_eq!(
            Name::from_ascii(&long),
            Err(NameError::TooLong { len: 255 })
        );
        let just_fits = format!("{}.{}", "a".repeat(63), vec!["b".repeat(63); 3].join("."));
        assert_eq!(just_fits.len(), 255);
        let fits = just_fits.get(2..).unwrap();
        assert_eq!(fits.len(), 253);
        assert!(Name::from_ascii(fits).is_ok());
        for (s, b) in [
            ("a\0b", 0u8),
            ("a\rb", b'\r'),
            ("a\nb", b'\n'),
            ("u@h", b'@'),
            ("a b", b' '),
        ] {
            assert_eq!(
                Name::from_ascii(s),
                Err(NameError::ForbiddenByte { byte: b }),
                "{s:?}"
            );
        }
        assert_eq!(
            Name::from_ascii("é.com"),
            Err(NameError::ForbiddenByte { byte: 0xC3 })
        );
        assert_eq!(Name::from_ascii(""), Err(NameError::Empty));
        assert_eq!(Name::from_ascii("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(Name::from_ascii(".a"), Err(NameError::EmptyLabel));
    }

    #[test]
    fn joins_for_search() {
        let a = Name::from_ascii("www").unwrap();
        let b = Name::from_ascii("example.com").unwrap();
        assert_eq!(
            a.join(&b).unwrap(),
            Name::from_ascii("www.example.com").unwrap()
        );
        let big = Name::from_ascii(&vec!["a".repeat(63); 3].join(".")).unwrap();
        assert!(big.join(&big).is_err());
    }

    #[test]
    fn decodes_pointers_and_rejects_loops() {
        // "example.com" at 0, then "www" + pointer to 0 at 13.
        let mut msg = vec![7];
        msg.extend_from_slice(b"example");
        msg.extend_from_slice(&[3, b'c', b'o', b'm', 0]);
        msg.extend_from_slice(&[3, b'w', b'w', b'w', 0xC0, 0]);
        let n = decode_at(&msg, 13).unwrap();
        assert_eq!(n.to_string(), "www.example.com");
        // A pointer to itself.
        assert_eq!(
            decode_at(&[0xC0, 0], 0),
            Err(DecodeError::PointerNotBackward { offset: 0 })
        );
        // Forward pointer.
        assert_eq!(
            decode_at(&[0xC0, 2, 0], 0),
            Err(DecodeError::PointerNotBackward { offset: 0 })
        );
        // Two pointers pointing at each other: the second points back at the first,
        // the first then points forward.
        assert_eq!(
            decode_at(&[0xC0, 2, 0xC0, 0], 2),
            Err(DecodeError::PointerNotBackward { offset: 0 })
        );
        assert_eq!(
            decode_at(&[0x40], 0),
            Err(DecodeError::BadLabelType {
                offset: 0,
                byte: 0x40
            })
        );
        assert_eq!(
            decode_at(&[3, b'a'], 0),
            Err(DecodeError::Truncated { offset: 0 })
        );
        assert_eq!(
            decode_at(&[0xC0], 0),
            Err(DecodeError::Truncated { offset: 0 })
        );
    }

    #[test]
    fn pointer_chain_depth_is_capped() {
        // Each entry is a one-byte label followed by a pointer to the previous entry:
        // a valid backward chain longer than MAX_POINTERS.
        let mut msg = vec![0u8];
        let mut prev = 0u16;
        for _ in 0..=MAX_POINTERS {
            let here = msg.len() as u16;
            msg.extend_from_slice(&[0xC0 | (prev >> 8) as u8, prev as u8]);
            prev = here;
        }
        let last = usize::from(prev);
        assert_eq!(
            decode_at(&msg, last),
            Err(DecodeError::TooManyPointers { offset: last })
        );
        // One fewer pointer decodes.
        let mut r = Reader::new(&msg);
        r.set_pos(last - 2);
        assert_eq!(Name::decode(&mut r).unwrap(), Name::root());
    }

    #[test]
    fn decoded_names_are_capped_at_255_bytes() {
        // 5 labels of 63 bytes = 320 wire bytes.
        let mut msg = Vec::new();
        for _ in 0..5 {
            msg.push(63);
            msg.extend_from_slice(&[b'a'; 63]);
        }
        msg.push(0);
        assert_eq!(
            decode_at(&msg, 0),
            Err(DecodeError::NameTooLong { offset: 0 })
        );
    }

    #[test]
    fn compressor_reuses_suffixes() {
        let mut out = vec![0xAA, 0xBB]; // a TCP length prefix before the message
        let mut c = Compressor::new(2);
        c.encode(&Name::from_ascii("www.example.com").unwrap(), &mut out);
        c.encode(&Name::from_ascii("mail.EXAMPLE.com").unwrap(), &mut out);
        c.encode(&Name::from_ascii("www.example.com").unwrap(), &mut out);
        // second: 4 mail + pointer to offset 4 ("example.com" after "\x03www").
        assert_eq!(&out[19..], &[4, b'm', b'a', b'i', b'l', 0xC0, 4, 0xC0, 0]);
        let n = decode_at(&out[2..], 17 + 7).unwrap();
        assert_eq!(n.to_string(), "www.example.com");
    }
}
