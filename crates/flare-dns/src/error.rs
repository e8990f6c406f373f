//! Errors of the message codec.

use core::fmt;

use crate::message::Rcode;
use crate::name::NameError;

/// The message section a record or count belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Section {
    /// The question section.
    Question,
    /// The answer section.
    Answer,
    /// The authority section.
    Authority,
    /// The additional section.
    Additional,
}

/// Why a DNS message could not be decoded.
///
/// Offsets are byte positions from the start of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message ended before a field that starts at `offset` was complete.
    Truncated {
        /// Where the incomplete field starts.
        offset: usize,
    },
    /// A label length byte used the reserved `01`/`10` high bits (RFC 1035 4.1.4, RFC 6891 5).
    BadLabelType {
        /// Where the length byte is.
        offset: usize,
        /// The length byte.
        byte: u8,
    },
    /// A compression pointer did not point strictly before itself, which is how
    /// loops are built.
    PointerNotBackward {
        /// Where the pointer is.
        offset: usize,
    },
    /// A name followed more compression pointers than [`MAX_POINTERS`](crate::MAX_POINTERS).
    TooManyPointers {
        /// Where the name starts.
        offset: usize,
    },
    /// A decoded name was longer than 255 bytes in wire form (RFC 1035 3.1).
    NameTooLong {
        /// Where the name starts.
        offset: usize,
    },
    /// A section count promised more entries than the remaining bytes could hold.
    CountTooLarge {
        /// The section.
        section: Section,
        /// The count read off the wire.
        count: u16,
    },
    /// An RDLENGTH did not fit the rest of the message, or did not match what the
    /// record type needs.
    BadRdataLength {
        /// Where the record's RDATA starts.
        offset: usize,
        /// The record type.
        rtype: u16,
    },
    /// An OPT pseudo-record appeared twice, outside the additional section, or with an
    /// owner other than the root (RFC 6891 6.1.1).
    BadOpt {
        /// Where the record starts.
        offset: usize,
    },
    /// Bytes were left over after the last section.
    TrailingBytes {
        /// Where the leftover bytes start.
        offset: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { offset } => {
                write!(f, "message truncated in a field at byte {offset}")
            }
            Self::BadLabelType { offset, byte } => {
                write!(f, "reserved label type {byte:#04x} at byte {offset}")
            }
            Self::PointerNotBackward { offset } => {
                write!(
                    f,
                    "compression pointer at byte {offset} does not point backwards"
                )
            }
            Self::TooManyPointers { offset } => {
                write!(
                    f,
                    "name at byte {offset} follows too many compression pointers"
                )
            }
            Self::NameTooLong { offset } => write!(f, "name at byte {offset} exceeds 255 bytes"),
            Self::CountTooLarge { section, count } => {
                write!(f, "{section:?} count {count} exceeds the message size")
            }
            Self::BadRdataLength { offset, rtype } => {
                write!(f, "bad RDLENGTH for type {rtype} at byte {offset}")
            }
            Self::BadOpt { offset } => {
                write!(f, "misplaced or duplicate OPT record at byte {offset}")
            }
            Self::TrailingBytes { offset } => write!(f, "trailing bytes after byte {offset}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a DNS message could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// A section held more than 65535 entries.
    TooManyEntries {
        /// The section.
        section: Section,
    },
    /// A TXT character-string was longer than 255 bytes.
    TxtStringTooLong {
        /// Its length.
        len: usize,
    },
    /// A record's RDATA (or the OPT options) exceeded 65535 bytes.
    RdataTooLong {
        /// The record type.
        rtype: u16,
    },
    /// An EDNS option's data exceeded 65535 bytes.
    OptionTooLong {
        /// The option code.
        code: u16,
    },
    /// The whole message exceeded 65535 bytes, the most TCP framing can carry.
    MessageTooLong,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooManyEntries { section } => {
                write!(f, "{section:?} section has over 65535 entries")
            }
            Self::TxtStringTooLong { len } => write!(f, "TXT string of {len} bytes exceeds 255"),
            Self::RdataTooLong { rtype } => write!(f, "RDATA of type {rtype} exceeds 65535 bytes"),
            Self::OptionTooLong { code } => write!(f, "EDNS option {code} exceeds 65535 bytes"),
            Self::MessageTooLong => f.write_str("message exceeds 65535 bytes"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Why a lookup failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveError {
    /// The host is not a valid name (too long, a label over 63 bytes, a forbidden byte).
    InvalidName(NameError),
    /// No name was found after walking the search list (RFC 2308 NXDOMAIN).
    NxDomain,
    /// The name exists but has no addresses of the families asked for.
    NoData,
    /// No server answered within `timeout * attempts * servers`.
    Timeout,
    /// The last server tried answered with this failure code (SERVFAIL, REFUSED, ...).
    ServerFailure {
        /// The response code.
        rcode: Rcode,
    },
    /// The last server tried sent a response that could not be decoded.
    MalformedResponse(DecodeError),
    /// A CNAME chain was longer than the configured maximum (or looped).
    CnameChainTooLong,
    /// No name servers are configured.
    NoNameservers,
    /// A query could not be encoded.
    Encode(EncodeError),
    /// A socket operation failed at the front end.
    Io(std::io::ErrorKind),
    /// A [`ReactorResolver`](crate::ReactorResolver) already had its maximum number
    /// of lookups in flight.
    TooManyLookups,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName(e) => write!(f, "invalid host name: {e}"),
            Self::NxDomain => f.write_str("no such name"),
            Self::NoData => f.write_str("name has no addresses"),
            Self::Timeout => f.write_str("no name server answered in time"),
            Self::ServerFailure { rcode } => write!(f, "name server failed with rcode {}", rcode.0),
            Self::MalformedResponse(e) => write!(f, "malformed response: {e}"),
            Self::CnameChainTooLong => f.write_str("CNAME chain too long"),
            Self::NoNameservers => f.write_str("no name servers configured"),
            Self::Encode(e) => write!(f, "could not encode query: {e}"),
            Self::Io(kind) => write!(f, "socket error: {kind}"),
            Self::TooManyLookups => f.write_str("too many lookups in flight"),
        }
    }
}

impl std::error::Error for ResolveError {}
