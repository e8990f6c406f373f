//! Huffman coding of string literals (RFC 7541 section 5.2, Appendix B).

mod codes;
mod tables;

use crate::DecodeError;
use codes::CODES;
use tables::{PeekEntry, FIRST_CODE, LIMIT, OFFSET, PEEK, PEEK_BITS, SORTED};

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
///
/// Errors (section 5.2): EOS inside the string, padding longer than 7 bits,
/// padding that is not all ones.
pub(crate) fn decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    // The shortest code is 5 bits, so the output is at most 8/5 of the input.
    out.reserve(src.len() + src.len() / 2 + src.len() / 8 + 1);
    let mut reader = BitReader {
        src,
        pos: 0,
        acc: 0,
        bits: 0,
    };

    // Bulk: whole 8-byte loads while at least 8 input bytes remain.
    while reader.pos + 8 <= src.len() {
        reader.refill_wide();
        while reader.bits >= 30 {
            reader.step(out)?;
        }
    }
    // The last bytes, one at a time.
    loop {
        reader.refill_narrow();
        if reader.bits < 30 {
            break;
        }
        reader.step(out)?;
    }
    reader.finish(out)
}

/// A left-aligned bit buffer over the input: the next bit to decode is the
/// most significant bit of `acc`, and `bits` of it are valid. Bits below the
/// valid ones are zero or a copy of the input that follows.
struct BitReader<'a> {
    src: &'a [u8],
    pos: usize,
    acc: u64,
    bits: u32,
}

impl BitReader<'_> {
    /// Fills `acc` to at least 57 valid bits; needs 8 unread input bytes.
    #[inline(always)]
    fn refill_wide(&mut self) {
        let mut word = [0u8; 8];
        if let Some(bytes) = self.src.get(self.pos..self.pos + 8) {
            word.copy_from_slice(bytes);
        }
        // Bits already valid stay; ORing the same input bits again below
        // them is harmless, so whole bytes are counted and the partial byte
        // is simply loaded again next time.
        self.acc |= u64::from_be_bytes(word) >> self.bits;
        let take = (63 - self.bits) / 8;
        self.pos += take as usize;
        self.bits += take * 8;
    }

    /// Adds input bytes one at a time while they fit.
    #[inline]
    fn refill_narrow(&mut self) {
        while self.bits <= 56 {
            let Some(&b) = self.src.get(self.pos) else {
                break;
            };
            self.acc |= u64::from(b) << (56 - self.bits);
            self.pos += 1;
            self.bits += 8;
        }
    }

    /// Decodes one or two symbols; requires `bits >= 30`, so that any code,
    /// EOS included, is entirely valid.
    #[inline(always)]
    fn step(&mut self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        let e: PeekEntry = PEEK[(self.acc >> (64 - PEEK_BITS)) as usize];
        match e >> 26 {
            2 => {
                out.extend_from_slice(&[e as u8, (e >> 8) as u8]);
                self.consume((e >> 21) & 0x1f);
            }
            1 => {
                out.push(e as u8);
                self.consume((e >> 21) & 0x1f);
            }
            _ => {
                let (sym, len) = self.long_code();
                if sym == EOS {
                    return Err(DecodeError::HuffmanEos);
                }
                out.push(sym as u8);
                self.consume(len);
            }
        }
        Ok(())
    }

    /// The symbol and length of the code longer than [`PEEK_BITS`] that
    /// starts the buffer (which may extend past the valid bits).
    #[inline(never)]
    fn long_code(&self) -> (u16, u32) {
        let top = self.acc >> 32;
        let mut len = PEEK_BITS as usize + 1;
        while len < 30 && top >= LIMIT[len] {
            len += 1;
        }
        // `top < LIMIT[30] = 2^32` always holds, and the code is canonical,
        // so the index lands inside this length's run of SORTED.
        let index =
            usize::from(OFFSET[len]) + ((top >> (32 - len)) as u32 - FIRST_CODE[len]) as usize;
        (SORTED.get(index).copied().unwrap_or(EOS), len as u32)
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.bits -= n;
    }

    /// Decodes what is left (fewer than 30 bits, no more input), then checks
    /// the padding.
    fn finish(mut self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        loop {
            if self.bits == 0 {
                return Ok(());
            }
            let e = PEEK[(self.acc >> (64 - PEEK_BITS)) as usize];
            let count = e >> 26;
            let len1 = (e >> 16) & 0x1f;
            if count >= 1 && len1 <= self.bits {
                out.push(e as u8);
                self.consume(len1);
                continue;
            }
            if count == 0 {
                let (sym, len) = self.long_code();
                if len <= self.bits {
                    if sym == EOS {
                        return Err(DecodeError::HuffmanEos);
                    }
                    out.push(sym as u8);
                    self.consume(len);
                    continue;
                }
            }
            break;
        }
        // The valid bits left are not a whole code: they must be padding.
        if self.bits > 7 {
            return Err(DecodeError::HuffmanPaddingTooLong);
        }
        let mask = !(u64::MAX >> self.bits);
        if self.acc & mask != mask {
            return Err(DecodeError::HuffmanPaddingNotEos);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
