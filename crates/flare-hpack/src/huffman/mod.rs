//! Huffman coding of string literals (RFC 7541 section 5.2, Appendix B).

mod codes;
mod tables;

use crate::DecodeError;
use codes::CODES;
use core::ops::Range;
use tables::{
    count, first_len, symbols, total_len, PeekEntry, FIRST_CODE, LIMIT, OFFSET, PEEK, PEEK_BITS,
    SORTED,
};

/// The EOS symbol, which must never appear inside a string.
const EOS: u16 = 256;

/// Bit length of the code of each byte value, for [`encoded_len`].
static CODE_LEN: [u8; 256] = {
    let mut lens = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        lens[i] = CODES[i].1;
        i += 1;
    }
    lens
};

/// The length in bytes of the Huffman encoding of `src`, padding included.
pub(crate) fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src
        .iter()
        .map(|&b| usize::from(CODE_LEN[usize::from(b)]))
        .sum();
    bits.div_ceil(8)
}

/// Appends the Huffman encoding of `src` to `out`, padded with the most
/// significant bits of EOS (all ones) as section 5.2 requires.
pub(crate) fn encode(src: &[u8], out: &mut Vec<u8>) {
    out.reserve(encoded_len(src));
    // Bits are appended at the low end; at most 31 wait + 30 new fit in 64.
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    for &b in src {
        let (code, len) = CODES[usize::from(b)];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        if bits >= 32 {
            bits -= 32;
            out.extend_from_slice(&((acc >> bits) as u32).to_be_bytes());
        }
    }
    while bits >= 8 {
        bits -= 8;
        out.push((acc >> bits) as u8);
    }
    if bits > 0 {
        let pad = 8 - bits;
        out.push(((acc << pad) as u8) | ((1u8 << pad) - 1));
    }
}

/// Decodes the Huffman string `src`, appending the bytes to `out`.
#[cfg(test)]
pub(crate) fn decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    decode_in(src, 0..src.len(), out)
}

/// Decodes the Huffman string `block[range]`, appending the bytes to `out`.
///
/// Errors (section 5.2): EOS inside the string, padding longer than 7 bits,
/// padding that is not all ones.
///
/// The bytes of `block` after the string are only read as lookahead: 8-byte
/// loads may run past the string's end, and every symbol is checked to lie
/// within the valid bits, so whatever follows never changes the result.
///
/// The bit buffer `acc` is left-aligned: the next bit to decode is its most
/// significant bit and `bits` of it are valid. Bits below the valid ones are
/// zero or the block's bytes that follow. Everything lives in locals so that
/// the lookup chain (shift, load, shift) stays in registers.
pub(crate) fn decode_in(
    block: &[u8],
    range: Range<usize>,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    let Range {
        start: mut pos,
        end,
    } = range;
    // The shortest code is 5 bits, so the output is at most 8/5 of the
    // input; two more bytes let every step store two symbols unconditionally.
    let out_start = out.len();
    out.resize(out_start + end.saturating_sub(pos) * 8 / 5 + 2, 0);
    let buf = &mut out[out_start..];
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    let mut written = 0;

    let result = 'run: {
        'input: loop {
            // Refill: one 8-byte load where the block has 8 more bytes,
            // counting only whole bytes of the string as taken (ORing the
            // same bits again next time is harmless); else byte by byte.
            if let Some(word) = block.get(pos..pos + 8) {
                let mut be = [0u8; 8];
                be.copy_from_slice(word);
                acc |= u64::from_be_bytes(be) >> bits;
                let take = ((63 - bits) as usize / 8).min(end.saturating_sub(pos));
                pos += take;
                bits += take as u32 * 8;
            } else {
                while bits <= 56 && pos < end {
                    let Some(&b) = block.get(pos) else { break };
                    acc |= u64::from(b) << (56 - bits);
                    pos += 1;
                    bits += 8;
                }
            }
            // Lookups while any code (up to 30 bits, EOS included) is whole.
            while bits >= 30 {
                let e: PeekEntry = PEEK[(acc >> (64 - PEEK_BITS)) as usize];
                if count(e) == 0 {
                    match long_code(acc) {
                        (EOS, _) => break 'run Err(DecodeError::HuffmanEos),
                        (sym, len) => {
                            let Some(slot) = buf.get_mut(written) else {
                                break 'run Err(DecodeError::Truncated);
                            };
                            *slot = sym as u8;
                            written += 1;
                            acc <<= len;
                            bits -= len;
                            continue;
                        }
                    }
                }
                // Store both symbol slots and advance by the count: no
                // branch on whether the lookup gave one symbol or two.
                let Some(slot) = buf.get_mut(written..written + 2) else {
                    // Cannot happen: `buf` has room for every symbol the
                    // input can hold, plus two.
                    break 'run Err(DecodeError::Truncated);
                };
                slot.copy_from_slice(&symbols(e));
                written += count(e) as usize;
                acc = acc.wrapping_shl(e);
                bits -= total_len(e);
            }
            if pos < end {
                continue 'input;
            }
            // The input is used up and fewer than 30 bits remain: decode
            // them checking that each symbol lies within the valid bits.
            while bits > 0 {
                let e = PEEK[(acc >> (64 - PEEK_BITS)) as usize];
                if count(e) != 0 && total_len(e) <= bits {
                    let Some(slot) = buf.get_mut(written..written + 2) else {
                        break 'run Err(DecodeError::Truncated);
                    };
                    slot.copy_from_slice(&symbols(e));
                    written += count(e) as usize;
                    acc = acc.wrapping_shl(e);
                    bits -= total_len(e);
                    continue;
                }
                // One symbol, which may be a long code or incomplete.
                let (sym, len) = if count(e) == 0 {
                    long_code(acc)
                } else {
                    (u16::from(symbols(e)[0]), first_len(e))
                };
                if len > bits {
                    break;
                }
                if sym == EOS {
                    break 'run Err(DecodeError::HuffmanEos);
                }
                let Some(slot) = buf.get_mut(written) else {
                    break 'run Err(DecodeError::Truncated);
                };
                *slot = sym as u8;
                written += 1;
                acc <<= len;
                bits -= len;
            }
            break 'input;
        }
        // What is left is not a whole code: it must be padding, at most 7
        // bits, all ones (the start of EOS).
        if bits > 7 {
            break 'run Err(DecodeError::HuffmanPaddingTooLong);
        }
        let mask = !(u64::MAX >> bits);
        if acc & mask != mask {
            break 'run Err(DecodeError::HuffmanPaddingNotEos);
        }
        Ok(())
    };
    out.truncate(out_start + written);
    result
}

/// The symbol and length of the code longer than [`PEEK_BITS`] that starts
/// `acc` (which may extend past the valid bits).
#[inline(never)]
fn long_code(acc: u64) -> (u16, u32) {
    let top = acc >> 32;
    let mut len = PEEK_BITS as usize + 1;
    while len < 30 && top >= LIMIT[len] {
        len += 1;
    }
    // Callers come here only when the first 12 bits start no code, so
    // `top >= LIMIT[12]`; `top < LIMIT[30] = 2^32` always holds; the code is
    // canonical. So the index lands inside this length's run of SORTED (and
    // if it did not, the result would be EOS, an error, not a panic).
    let index = usize::from(OFFSET[len])
        + ((top >> (32 - len)) as u32).wrapping_sub(FIRST_CODE[len]) as usize;
    (SORTED.get(index).copied().unwrap_or(EOS), len as u32)
}

#[cfg(test)]
mod tests;
