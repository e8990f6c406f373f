//! Decoding errors: which rule of RFC 7541 a header block broke.

use core::fmt;

/// Why a header block could not be decoded.
///
/// Every variant except [`DecodeError::HeaderListBomb`] is an HPACK
/// decoding error, which RFC 9113 section 4.3 turns into a connection error
/// of type `COMPRESSION_ERROR`: the decoder's dynamic table can no longer be
/// trusted to match the peer's. `HeaderListBomb` maps to `GOAWAY` with
/// `ENHANCE_YOUR_CALM` (see [`DecodeError::is_compression_error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// The block ended inside a representation (an integer, a string length
    /// or a string).
    Truncated,
    /// An integer needed more continuation bytes than a 32-bit value does,
    /// or its value does not fit in 32 bits (RFC 7541 section 5.1 allows
    /// decoders to bound integers).
    IntegerOverflow,
    /// An index of 0, or an index past the end of the static and dynamic
    /// tables (RFC 7541 section 2.3.3).
    InvalidIndex {
        /// The index the block referenced.
        index: u32,
    },
    /// The Huffman code for EOS appeared inside a string literal
    /// (RFC 7541 section 5.2).
    HuffmanEos,
    /// The padding after the last Huffman symbol was longer than 7 bits
    /// (RFC 7541 section 5.2).
    HuffmanPaddingTooLong,
    /// The padding after the last Huffman symbol was not a prefix of the EOS
    /// code, i.e. it had a 0 bit (RFC 7541 section 5.2).
    HuffmanPaddingNotEos,
    /// A dynamic table size update came after a header field representation
    /// (RFC 7541 section 4.2: it MUST occur at the beginning of a block).
    SizeUpdateNotAtStart,
    /// A dynamic table size update asked for more than the acknowledged
    /// `SETTINGS_HEADER_TABLE_SIZE` (RFC 7541 section 6.3).
    SizeUpdateTooLarge {
        /// The size the update asked for.
        requested: u32,
        /// The largest size allowed at that point.
        max: u32,
    },
    /// The table size setting was lowered below the table's size and the
    /// block did not start with the dynamic table size update that this
    /// requires (RFC 7541 section 4.2).
    SizeUpdateMissing,
    /// More than two dynamic table size updates at the start of one block:
    /// at most the smallest and the final size can be signalled.
    TooManySizeUpdates,
    /// The decoded header list grew past four times
    /// `max_header_list_size`; decoding stopped there. HTTP/2 should answer
    /// with `GOAWAY` `ENHANCE_YOUR_CALM` rather than `COMPRESSION_ERROR`.
    HeaderListBomb {
        /// The configured `max_header_list_size`.
        limit: u32,
    },
}

impl DecodeError {
    /// Whether HTTP/2 should treat this error as `COMPRESSION_ERROR`
    /// (every variant except [`DecodeError::HeaderListBomb`], which is
    /// `ENHANCE_YOUR_CALM`).
    pub fn is_compression_error(&self) -> bool {
        !matches!(self, DecodeError::HeaderListBomb { .. })
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("header block truncated"),
            DecodeError::IntegerOverflow => f.write_str("integer too large"),
            DecodeError::InvalidIndex { index } => write!(f, "invalid table index {index}"),
            DecodeError::HuffmanEos => f.write_str("EOS symbol inside a Huffman string"),
            DecodeError::HuffmanPaddingTooLong => f.write_str("Huffman padding longer than 7 bits"),
            DecodeError::HuffmanPaddingNotEos => {
                f.write_str("Huffman padding is not an EOS prefix")
            }
            DecodeError::SizeUpdateNotAtStart => {
                f.write_str("dynamic table size update after a header field")
            }
            DecodeError::SizeUpdateTooLarge { requested, max } => {
                write!(f, "dynamic table size update to {requested} exceeds {max}")
            }
            DecodeError::SizeUpdateMissing => {
                f.write_str("required dynamic table size update missing")
            }
            DecodeError::TooManySizeUpdates => {
                f.write_str("more than two dynamic table size updates")
            }
            DecodeError::HeaderListBomb { limit } => {
                write!(f, "header list far exceeds the limit of {limit} bytes")
            }
        }
    }
}

impl std::error::Error for DecodeError {}
