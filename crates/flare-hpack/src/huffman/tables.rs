//! Decoding tables, computed at compile time from [`CODES`].
//!
//! Two levels:
//! - [`PEEK`]: indexed by the next [`PEEK_BITS`] bits of input. Every code of
//!   at most 12 bits is resolved by one lookup, and when a short code leaves
//!   room, the entry also carries the symbol after it (two symbols per
//!   lookup). The common characters of header values have 5 to 8 bit codes.
//! - Codes of 13 to 30 bits (rare: control bytes, `<>\^{|}~`, bytes >= 128
//!   and EOS) use the canonical-code property: codes of one length are
//!   consecutive numbers, so comparing the next 32 bits against one limit per
//!   length finds the length, and an offset finds the symbol.

use super::codes::CODES;

/// Bits looked at by one [`PEEK`] lookup.
pub(crate) const PEEK_BITS: u32 = 12;

/// One [`PEEK`] entry, packed as
/// `total length | count << 6 | first symbol << 8 | second symbol << 16 | first length << 24`.
/// `count` is 0 when the next code is longer than [`PEEK_BITS`]. The total
/// length sits in the low 6 bits so that `acc.wrapping_shl(entry)` consumes
/// the decoded bits without masking.
pub(crate) type PeekEntry = u32;

/// Bits the entry's symbols take (both of them when `count` is 2).
#[inline(always)]
pub(crate) const fn total_len(e: PeekEntry) -> u32 {
    e & 0x3f
}

/// Symbols the entry resolves: 0 (a longer code), 1 or 2.
#[inline(always)]
pub(crate) const fn count(e: PeekEntry) -> u32 {
    (e >> 6) & 3
}

/// The first symbol and, when `count` is 2, the second, as bytes in order.
#[inline(always)]
pub(crate) const fn symbols(e: PeekEntry) -> [u8; 2] {
    [(e >> 8) as u8, (e >> 16) as u8]
}

/// Bits the first symbol takes.
#[inline(always)]
pub(crate) const fn first_len(e: PeekEntry) -> u32 {
    (e >> 24) & 0x1f
}

/// The first-level table (16 KiB).
pub(crate) static PEEK: [PeekEntry; 1 << PEEK_BITS] = build_peek();

/// For each code length 0..=32: the left-aligned (in 32 bits) exclusive upper
/// bound of the codes of that length or shorter.
pub(crate) static LIMIT: [u64; 33] = build_canonical().0;
/// For each code length: the numeric value of its first code.
pub(crate) static FIRST_CODE: [u32; 33] = build_canonical().1;
/// For each code length: the index in [`SORTED`] of its first symbol.
pub(crate) static OFFSET: [u16; 33] = build_canonical().2;
/// Symbols sorted by (code length, code).
pub(crate) static SORTED: [u16; 257] = build_canonical().3;

const fn entry(sym1: u32, sym2: u32, len1: u32, total: u32, count: u32) -> PeekEntry {
    total | count << 6 | sym1 << 8 | sym2 << 16 | len1 << 24
}

const fn build_peek() -> [PeekEntry; 1 << PEEK_BITS] {
    let mut table = [0u32; 1 << PEEK_BITS];
    // One symbol per entry: every index whose top bits are the code.
    let mut sym = 0;
    while sym < 256 {
        let (code, len) = CODES[sym];
        let len = len as u32;
        if len <= PEEK_BITS {
            let start = code << (PEEK_BITS - len);
            let end = (code + 1) << (PEEK_BITS - len);
            let mut i = start;
            while i < end {
                table[i as usize] = entry(sym as u32, 0, len, len, 1);
                i += 1;
            }
        }
        sym += 1;
    }
    // A second symbol where the bits after the first one hold a whole code.
    let mut i = 0;
    while i < table.len() {
        let e = table[i];
        if count(e) == 1 {
            let len1 = first_len(e);
            let rest = ((i as u32) << len1) & ((1 << PEEK_BITS) - 1);
            let next = table[rest as usize];
            let len2 = first_len(next);
            if count(next) >= 1 && len1 + len2 <= PEEK_BITS {
                table[i] = entry(
                    symbols(e)[0] as u32,
                    symbols(next)[0] as u32,
                    len1,
                    len1 + len2,
                    2,
                );
            }
        }
        i += 1;
    }
    table
}

#[allow(clippy::type_complexity)]
const fn build_canonical() -> ([u64; 33], [u32; 33], [u16; 33], [u16; 257]) {
    let mut count = [0u32; 33];
    let mut sym = 0;
    while sym < 257 {
        count[CODES[sym].1 as usize] += 1;
        sym += 1;
    }
    let mut first = [0u32; 33];
    let mut limit = [0u64; 33];
    let mut offset = [0u16; 33];
    let mut code = 0u32;
    let mut index = 0u32;
    let mut len = 1;
    while len <= 32 {
        code <<= 1;
        first[len] = code;
        offset[len] = index as u16;
        code += count[len];
        index += count[len];
        limit[len] = (code as u64) << (32 - len);
        len += 1;
    }
    // Symbols by (length, symbol); a canonical code gives them consecutive
    // codes in that order. Check that RFC 7541's code is canonical, so a
    // typo in CODES fails the build instead of decoding wrongly.
    let mut sorted = [0u16; 257];
    let mut next = offset;
    let mut sym = 0;
    while sym < 257 {
        let (code, len) = CODES[sym];
        let len = len as usize;
        let slot = next[len];
        assert!(
            code == first[len] + (slot - offset[len]) as u32,
            "HPACK code not canonical"
        );
        sorted[slot as usize] = sym as u16;
        next[len] += 1;
        sym += 1;
    }
    (limit, first, offset, sorted)
}
