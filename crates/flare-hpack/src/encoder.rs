//! The header block encoder and its indexing strategy.

use crate::field::Field;
use crate::index::FieldIndex;
use crate::static_table::{self, StaticMatch, STATIC_LEN};
use crate::table::DynamicTable;
use crate::{huffman, integer};

/// The largest dynamic table the encoder keeps, whatever the peer allows:
/// a peer advertising a huge `SETTINGS_HEADER_TABLE_SIZE` must not make us
/// allocate for it.
pub const MAX_ENCODER_TABLE_SIZE: u32 = 4096;

/// Cookies shorter than this are sent never-indexed: short values are easy
/// to guess byte by byte through compression side channels (RFC 7541
/// section 7.1.3), long ones are worth indexing.
const SHORT_COOKIE: usize = 20;

/// Encodes header blocks, appending them to a `Vec<u8>`.
///
/// Strategy: a field already in the static or dynamic table is sent as an
/// index; otherwise as a literal (reusing an indexed name where one exists)
/// that is added to the dynamic table unless it is sensitive, too large
/// (over 3/4 of the table), or of a kind whose values rarely repeat
/// (`:path`, `content-length`, `etag`, ...). Strings are Huffman coded when
/// that is shorter. Sensitive fields (marked by the caller, `authorization`,
/// `proxy-authorization`, `set-cookie`, short `cookie`s) are sent as "never
/// indexed" and never enter the table.
///
/// ```
/// use flare_hpack::{Encoder, Field};
///
/// let mut encoder = Encoder::new();
/// let mut block = Vec::new();
/// encoder.encode([Field::new(b"x-trace", b"abc")], &mut block);
/// let first = block.len();
/// block.clear();
/// encoder.encode([Field::new(b"x-trace", b"abc")], &mut block);
/// assert_eq!(block.len(), 1); // now one byte: an index into the dynamic table
/// assert!(first > 1);
/// ```
#[derive(Debug, Clone)]
pub struct Encoder {
    table: DynamicTable,
    /// Finds fields and names in `table` by hash.
    index: FieldIndex,
    /// Our own cap, at most [`MAX_ENCODER_TABLE_SIZE`].
    cap: u32,
    /// The peer's `SETTINGS_HEADER_TABLE_SIZE`.
    peer_setting: u32,
    /// Size changes to signal at the start of the next block: the smallest
    /// size since the last block, and the final one.
    pending_update: Option<(u32, u32)>,
    /// What each position of the last blocks encoded to, reused while the
    /// same field comes at the same position and the output would not change
    /// (a response's fields are much the same every time).
    memo: Vec<Memo>,
    /// Bumped when the table's size is changed (which may evict entries).
    epoch: u64,
}

/// Positions of a block memoized.
const MEMO_FIELDS: usize = 16;
/// Fields longer than this (name and value) are not memoized.
const MEMO_MAX_FIELD: usize = 128;

/// When an encoded field may be reused for the same field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reuse {
    /// It changed the table (an insertion).
    Never,
    /// It depends on nothing but the field (static index, literal with a
    /// static or literal name).
    Always,
    /// It refers to the dynamic table: while no entry was inserted or evicted.
    WhileTable,
}

/// One field and its encoding.
#[derive(Debug, Clone, Default)]
struct Memo {
    name: Vec<u8>,
    value: Vec<u8>,
    sensitive: bool,
    out: Vec<u8>,
    /// The table state (sequence number, epoch) the output depends on, if it
    /// does.
    table: Option<(u64, u64)>,
    valid: bool,
}

impl Memo {
    #[inline]
    fn matches(&self, f: &Field<'_>, seq: u64, epoch: u64) -> bool {
        self.valid
            && self.table.map_or(true, |t| t == (seq, epoch))
            && self.sensitive == f.sensitive
            && same(&self.value, f.value)
            && same(&self.name, f.name)
    }
}

/// `a == b`, without a call for the short strings of header fields: words
/// that overlap where the length is not a multiple of their size.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0..=3 => a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0,
        4..=7 => load4(a, 0) == load4(b, 0) && load4(a, n - 4) == load4(b, n - 4),
        8..=16 => load8(a, 0) == load8(b, 0) && load8(a, n - 8) == load8(b, n - 8),
        17..=32 => {
            (load8(a, 0) ^ load8(b, 0))
                | (load8(a, 8) ^ load8(b, 8))
                | (load8(a, n - 16) ^ load8(b, n - 16))
                | (load8(a, n - 8) ^ load8(b, n - 8))
                == 0
        }
        _ => a == b,
    }
}

/// The eight octets at `at` (callers check the length).
#[inline(always)]
fn load8(s: &[u8], at: usize) -> u64 {
    match s.get(at..at + 8) {
        Some(&[a, b, c, d, e, f, g, h]) => u64::from_ne_bytes([a, b, c, d, e, f, g, h]),
        _ => 0,
    }
}

/// The four octets at `at` (callers check the length).
#[inline(always)]
fn load4(s: &[u8], at: usize) -> u32 {
    match s.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_ne_bytes([a, b, c, d]),
        _ => 0,
    }
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder with a 4096-byte table, the protocol's initial size.
    pub fn new() -> Self {
        Encoder {
            table: DynamicTable::new(MAX_ENCODER_TABLE_SIZE as usize),
            index: FieldIndex::default(),
            cap: MAX_ENCODER_TABLE_SIZE,
            peer_setting: crate::DEFAULT_TABLE_SIZE,
            pending_update: None,
            memo: Vec::new(),
            epoch: 0,
        }
    }

    /// Caps our dynamic table at `bytes` (clamped to
    /// [`MAX_ENCODER_TABLE_SIZE`], the default). 0 disables indexing into
    /// the dynamic table; the change is signalled in the next block.
    pub fn with_max_table_size(mut self, bytes: u32) -> Self {
        self.cap = bytes.min(MAX_ENCODER_TABLE_SIZE);
        self.apply_size();
        self
    }

    /// Records the peer's `SETTINGS_HEADER_TABLE_SIZE`. Our table uses the
    /// smaller of it and our cap; the change is signalled at the start of
    /// the next block (RFC 7541 section 4.2).
    pub fn set_peer_max_table_size(&mut self, bytes: u32) {
        self.peer_setting = bytes;
        self.apply_size();
    }

    /// The size our dynamic table may grow to, once pending updates are sent.
    pub fn table_max_size(&self) -> u32 {
        self.cap.min(self.peer_setting)
    }

    /// The dynamic table's current size (RFC 7541 section 4.1).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    fn apply_size(&mut self) {
        let size = self.table_max_size();
        self.pending_update = match self.pending_update {
            Some((smallest, _)) => Some((smallest.min(size), size)),
            None if size as usize == self.table.max_size() => None,
            None => Some((size, size)),
        };
    }

    /// Encodes `fields` as one header block, appended to `out`.
    pub fn encode<'f, I>(&mut self, fields: I, out: &mut Vec<u8>)
    where
        I: IntoIterator<Item = Field<'f>>,
    {
        if let Some((smallest, last)) = self.pending_update.take() {
            // Section 4.2: the smallest size since the last block, then the
            // final one, as dynamic table size updates (section 6.3).
            if smallest < last {
                self.table.set_max_size(smallest as usize);
                integer::encode(smallest as usize, 5, 0x20, out);
            }
            self.table.set_max_size(last as usize);
            integer::encode(last as usize, 5, 0x20, out);
            self.epoch += 1;
        }
        for (i, field) in fields.into_iter().enumerate() {
            let seq = self.table.next_seq();
            if let Some(m) = self.memo.get(i) {
                if m.matches(&field, seq, self.epoch) {
                    out.extend_from_slice(&m.out);
                    continue;
                }
            }
            let start = out.len();
            let reuse = self.encode_field(field, out);
            if i >= MEMO_FIELDS {
                continue;
            }
            if self.memo.len() <= i {
                self.memo.push(Memo::default());
            }
            let Some(m) = self.memo.get_mut(i) else {
                continue;
            };
            m.valid =
                reuse != Reuse::Never && field.name.len() + field.value.len() <= MEMO_MAX_FIELD;
            if m.valid {
                m.name.clear();
                m.name.extend_from_slice(field.name);
                m.value.clear();
                m.value.extend_from_slice(field.value);
                m.sensitive = field.sensitive;
                m.out.clear();
                m.out
                    .extend_from_slice(out.get(start..).unwrap_or_default());
                m.table = (reuse == Reuse::WhileTable).then_some((seq, self.epoch));
            }
        }
    }

    fn encode_field(&mut self, field: Field<'_>, out: &mut Vec<u8>) -> Reuse {
        let Field { name, value, .. } = field;
        let sensitive = field.sensitive || is_sensitive(name, value);
        let static_match = static_table::lookup(name, value);
        if let (StaticMatch::Field(index), false) = (static_match, sensitive) {
            integer::encode(usize::from(index), 7, 0x80, out);
            return Reuse::Always;
        }
        if let (StaticMatch::Name(index), true) = (static_match, values_rarely_repeat(name)) {
            // Never indexed, so never in the dynamic table: no lookup.
            let (flags, prefix) = if sensitive { (0x10, 4) } else { (0x00, 4) };
            integer::encode(usize::from(index), prefix, flags, out);
            encode_string(value, out);
            return Reuse::Always;
        }
        let hashes = FieldIndex::hash(name, value);
        if !sensitive {
            if let Some(i) = self.index.find_field(&self.table, name, value, hashes) {
                integer::encode(dynamic_index(i), 7, 0x80, out);
                return Reuse::WhileTable;
            }
        }
        let name_index = match static_match {
            StaticMatch::Field(i) | StaticMatch::Name(i) => Some(usize::from(i)),
            StaticMatch::None => self
                .index
                .find_name(&self.table, name, hashes)
                .map(dynamic_index),
        };
        let entry_size = name.len() + value.len() + 32;
        let index_it = !sensitive
            && entry_size <= self.table.max_size() * 3 / 4
            && !values_rarely_repeat(name);
        // Section 6.2: 01 incremental indexing (6-bit prefix), 0001 never
        // indexed, 0000 without indexing (4-bit prefixes).
        let (flags, prefix) = match (index_it, sensitive) {
            (true, _) => (0x40, 6),
            (false, true) => (0x10, 4),
            (false, false) => (0x00, 4),
        };
        let dynamic_name = name_index.is_some_and(|i| i > STATIC_LEN);
        match name_index {
            Some(i) => integer::encode(i, prefix, flags, out),
            None => {
                out.push(flags);
                encode_string(name, out);
            }
        }
        encode_string(value, out);
        if index_it {
            let seq = self.table.next_seq();
            self.table.reserve_max();
            self.table.insert(name, value);
            if self.table.next_seq() != seq {
                self.index.record(&self.table, seq, hashes);
            }
            Reuse::Never
        } else if dynamic_name {
            Reuse::WhileTable
        } else {
            Reuse::Always
        }
    }
}

/// The combined index (section 2.3.3) of dynamic position `i`.
fn dynamic_index(i: usize) -> usize {
    STATIC_LEN + 1 + i
}

/// Fields that carry secrets and must never be indexed (section 7.1.3).
fn is_sensitive(name: &[u8], value: &[u8]) -> bool {
    match name {
        b"authorization" | b"proxy-authorization" | b"set-cookie" => true,
        b"cookie" => value.len() < SHORT_COOKIE,
        _ => false,
    }
}

/// Names whose values are usually unique per message: indexing them would
/// only evict entries that are reused.
fn values_rarely_repeat(name: &[u8]) -> bool {
    matches!(
        name,
        b":path"
            | b"age"
            | b"content-length"
            | b"content-range"
            | b"etag"
            | b"if-modified-since"
            | b"if-none-match"
            | b"last-modified"
            | b"location"
    )
}

/// Appends a string literal (section 5.2), Huffman coded when shorter.
fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    let huffman_len = huffman::encoded_len(s);
    if huffman_len < s.len() {
        integer::encode(huffman_len, 7, 0x80, out);
        huffman::encode(s, out);
    } else {
        integer::encode(s.len(), 7, 0x00, out);
        out.extend_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn same_agrees_with_slice_equality_at_every_length_and_position() {
        for n in 0..48 {
            let a: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
            assert!(same(&a, &a.clone()), "{n}");
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 0x20;
                assert!(!same(&a, &b), "{n} {i}");
            }
            assert!(!same(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }
}
