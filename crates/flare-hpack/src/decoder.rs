//! The header block decoder (RFC 7541 sections 3, 4 and 6).

use crate::field::{Field, HeaderList};
use crate::static_table::{STATIC_LEN, STATIC_TABLE};
use crate::table::DynamicTable;
use crate::{huffman, integer, DecodeError};

/// The protocol's initial `SETTINGS_HEADER_TABLE_SIZE` (RFC 9113 section 6.5.2).
pub const DEFAULT_TABLE_SIZE: u32 = 4096;

/// Default [`Decoder::with_max_header_list_size`]: 64 KiB.
pub const DEFAULT_MAX_HEADER_LIST_SIZE: u32 = 64 * 1024;

/// What the decoder found out about a block it decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockInfo {
    /// Fields decoded, delivered or not.
    pub fields: u32,
    /// Fields handed to the caller; fewer than `fields` once the list went
    /// past `max_header_list_size`.
    pub delivered: u32,
    /// The decoded header list size (name + value + 32 per field) of the
    /// whole block.
    pub list_size: u64,
    /// The block went past `max_header_list_size`: fields after that point
    /// were decoded (to keep the dynamic table in step with the peer's) but
    /// not delivered. HTTP/2 answers such a request with 431.
    pub over_limit: bool,
}

/// Decodes header blocks, one complete block at a time.
///
/// ```
/// use flare_hpack::{Decoder, Encoder, Field};
///
/// let mut block = Vec::new();
/// Encoder::new().encode([Field::new(b":method", b"GET"), Field::new(b"x-id", b"7")], &mut block);
///
/// let mut decoder = Decoder::new();
/// let mut names = Vec::new();
/// let info = decoder.decode(&block, |f| names.push(f.name.to_vec())).unwrap();
/// assert_eq!(names, [b":method".to_vec(), b"x-id".to_vec()]);
/// assert!(!info.over_limit);
/// ```
///
/// Memory is bounded by the acknowledged table size (the arena holds at most
/// twice that) plus one scratch buffer as large as the largest string of a
/// block; nothing is allocated per field.
#[derive(Debug, Clone)]
pub struct Decoder {
    table: DynamicTable,
    /// The acknowledged `SETTINGS_HEADER_TABLE_SIZE`: no size update may
    /// exceed it.
    setting: u32,
    /// Set when the setting went below the table's size: the next block
    /// must start with an update to at most this size.
    required_update: Option<u32>,
    max_header_list_size: u32,
    /// Decoded strings of the current field.
    scratch: Vec<u8>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with the protocol's initial table size (4096) and the
    /// default header list limit ([`DEFAULT_MAX_HEADER_LIST_SIZE`]).
    pub fn new() -> Self {
        Decoder {
            table: DynamicTable::new(DEFAULT_TABLE_SIZE as usize),
            setting: DEFAULT_TABLE_SIZE,
            required_update: None,
            max_header_list_size: DEFAULT_MAX_HEADER_LIST_SIZE,
            scratch: Vec::new(),
        }
    }

    /// Sets the largest decoded header list (name + value + 32 per field)
    /// delivered per block; default 64 KiB. Past it, fields are still decoded
    /// but no longer delivered and [`BlockInfo::over_limit`] is set (HTTP/2:
    /// 431); past four times it, decoding stops with
    /// [`DecodeError::HeaderListBomb`] (HTTP/2: `ENHANCE_YOUR_CALM`). This
    /// bounds the memory and time a small block can make us spend by
    /// referencing a large table entry many times.
    pub fn with_max_header_list_size(mut self, bytes: u32) -> Self {
        self.max_header_list_size = bytes;
        self
    }

    /// The header list limit in force.
    pub fn max_header_list_size(&self) -> u32 {
        self.max_header_list_size
    }

    /// Tells the decoder that the peer acknowledged our
    /// `SETTINGS_HEADER_TABLE_SIZE` of `size`. Updates in later blocks may
    /// not exceed it, and if it is below the table's current maximum, the
    /// next block must start with an update to at most the smallest size
    /// set since the last block (RFC 7541 section 4.2).
    pub fn set_max_table_size(&mut self, size: u32) {
        self.setting = size;
        if (size as usize) < self.table.max_size() {
            self.required_update = Some(self.required_update.map_or(size, |r| r.min(size)));
        }
    }

    /// The dynamic table's current maximum size, as the peer last set it.
    pub fn table_max_size(&self) -> usize {
        self.table.max_size()
    }

    /// The dynamic table's current size (RFC 7541 section 4.1).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Decodes `block`, clearing `list` and filling it with the fields.
    pub fn decode_into(
        &mut self,
        block: &[u8],
        list: &mut HeaderList,
    ) -> Result<BlockInfo, DecodeError> {
        list.clear();
        self.decode(block, |field| list.push(field))
    }

    /// Decodes one complete header block (the concatenated fragments of
    /// HEADERS/PUSH_PROMISE and CONTINUATION), calling `on_field` for each
    /// field in order while the list stays within the limit.
    ///
    /// On error the dynamic table may have been changed by the part of the
    /// block before the error; the connection must then be closed
    /// ([`DecodeError::is_compression_error`]).
    #[inline]
    pub fn decode<F>(&mut self, block: &[u8], mut on_field: F) -> Result<BlockInfo, DecodeError>
    where
        F: FnMut(Field<'_>),
    {
        self.decode_with_origin(block, |field, _| on_field(field))
    }

    /// [`decode`](Self::decode), also telling where each field came from,
    /// so that a caller validating fields (HTTP/2's rules on names and
    /// values) can skip what it already knows: a static entry is valid as it
    /// is, and a dynamic entry cannot change while it lives.
    pub fn decode_with_origin<F>(
        &mut self,
        block: &[u8],
        mut on_field: F,
    ) -> Result<BlockInfo, DecodeError>
    where
        F: FnMut(Field<'_>, Origin),
    {
        let limit = u64::from(self.max_header_list_size);
        let mut info = BlockInfo {
            fields: 0,
            delivered: 0,
            list_size: 0,
            over_limit: false,
        };
        let mut pos = 0;

        // RFC 7541 section 4.2: "This dynamic table size update MUST occur at
        // the beginning of the first header block following the change to
        // the dynamic table size."
        let mut updates = 0;
        let mut smallest = u32::MAX;
        while let Some(&b) = block.get(pos) {
            if b & 0xe0 != 0x20 {
                break;
            }
            let size = integer::decode(block, &mut pos, 5)?;
            // Section 6.3: "The new maximum size MUST be lower than or equal
            // to the limit determined by the protocol using HPACK."
            if size > self.setting {
                return Err(DecodeError::SizeUpdateTooLarge {
                    requested: size,
                    max: self.setting,
                });
            }
            updates += 1;
            if updates > 2 {
                return Err(DecodeError::TooManySizeUpdates);
            }
            smallest = smallest.min(size);
            self.table.set_max_size(size as usize);
        }
        if let Some(required) = self.required_update.take() {
            if updates == 0 {
                return Err(DecodeError::SizeUpdateMissing);
            }
            if smallest > required {
                return Err(DecodeError::SizeUpdateTooLarge {
                    requested: smallest,
                    max: required,
                });
            }
        }

        let Decoder { table, scratch, .. } = self;
        while let Some(&b) = block.get(pos) {
            let (field, origin) = if b & 0x80 != 0 {
                // Section 6.1: indexed header field.
                let index = integer::decode(block, &mut pos, 7)?;
                (lookup(table, index)?, indexed_origin(table, index))
            } else if b & 0xe0 == 0x20 {
                return Err(DecodeError::SizeUpdateNotAtStart);
            } else {
                // Section 6.2: literals. 01: incremental indexing (6-bit
                // prefix); 0000: without indexing; 0001: never indexed
                // (4-bit prefix).
                let indexing = b & 0x40 != 0;
                let never = b & 0xf0 == 0x10;
                let index = integer::decode(block, &mut pos, if indexing { 6 } else { 4 })?;
                scratch.clear();
                if index != 0 && !indexing {
                    let name = lookup(table, index)?.name;
                    read_string(block, &mut pos, scratch)?;
                    let field = Field {
                        name,
                        value: scratch,
                        sensitive: never,
                    };
                    (field, name_origin(index))
                } else {
                    if index == 0 {
                        read_string(block, &mut pos, scratch)?;
                    } else {
                        // Section 4.4: the name may belong to an entry that
                        // this insertion evicts, so copy it out first.
                        scratch.extend_from_slice(lookup(table, index)?.name);
                    }
                    let name_len = scratch.len();
                    read_string(block, &mut pos, scratch)?;
                    let (name, value) = scratch.split_at(name_len);
                    if indexing {
                        table.insert(name, value);
                    }
                    let field = Field {
                        name,
                        value,
                        sensitive: never,
                    };
                    (field, name_origin(index))
                }
            };
            info.fields += 1;
            info.list_size += field.size() as u64;
            if info.list_size > limit {
                info.over_limit = true;
                if info.list_size > limit.saturating_mul(4) {
                    return Err(DecodeError::HeaderListBomb {
                        limit: self.max_header_list_size,
                    });
                }
            } else {
                info.delivered += 1;
                on_field(field, origin);
            }
        }
        Ok(info)
    }
}

/// Where a decoded field came from ([`Decoder::decode_with_origin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// Name and value are the static table's entry `index` (1..=61).
    Static(u8),
    /// The name is that of the static entry `index`; the value was a literal.
    StaticName(u8),
    /// Name and value are the dynamic table's entry inserted with this
    /// sequence number (0 for the decoder's first insertion, counting up).
    /// An entry never changes while it lives and a number is never given
    /// twice, so what a caller learnt about a field with this origin holds
    /// for every later field with the same one.
    Dynamic(u64),
    /// A literal value with a literal name or a dynamic entry's name.
    Literal,
}

/// The origin of an indexed field whose `index` was found.
#[inline]
fn indexed_origin(table: &DynamicTable, index: u32) -> Origin {
    let i = index as usize;
    if i <= STATIC_LEN {
        Origin::Static(i as u8)
    } else {
        // Position `p` (0 the newest) holds the entry inserted `p + 1`
        // insertions ago.
        let back = (i - STATIC_LEN) as u64;
        Origin::Dynamic(table.next_seq().wrapping_sub(back))
    }
}

/// The origin of a literal value whose name had `index` (0: literal name).
#[inline]
fn name_origin(index: u32) -> Origin {
    match index as usize {
        1..=STATIC_LEN => Origin::StaticName(index as u8),
        _ => Origin::Literal,
    }
}

/// The entry at `index` in the combined index space (section 2.3.3).
#[inline]
fn lookup(table: &DynamicTable, index: u32) -> Result<Field<'_>, DecodeError> {
    let i = index as usize;
    let found = if i == 0 {
        None
    } else if i <= STATIC_LEN {
        STATIC_TABLE.get(i - 1).copied()
    } else {
        table.get(i - STATIC_LEN - 1)
    };
    match found {
        Some((name, value)) => Ok(Field {
            name,
            value,
            sensitive: false,
        }),
        None => Err(DecodeError::InvalidIndex { index }),
    }
}

/// Reads a string literal (section 5.2) at `pos`, appending its decoded
/// bytes to `out`.
#[inline]
fn read_string(block: &[u8], pos: &mut usize, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let huffman = block.get(*pos).is_some_and(|&b| b & 0x80 != 0);
    let len = integer::decode(block, pos, 7)? as usize;
    let end = pos.checked_add(len).ok_or(DecodeError::Truncated)?;
    let bytes = block.get(*pos..end).ok_or(DecodeError::Truncated)?;
    let start = *pos;
    *pos = end;
    if huffman {
        huffman::decode_in(block, start..end, out)
    } else {
        out.extend_from_slice(bytes);
        Ok(())
    }
}
