//! Integer representation with an N-bit prefix (RFC 7541 section 5.1).

use crate::DecodeError;

/// The most continuation bytes any 32-bit value needs: 5 x 7 bits >= 32.
/// RFC 7541 section 5.1 lets a decoder bound integers; anything longer is an
/// overflow, which also stops a peer from making us read megabytes of
/// `0x80` bytes as one number.
const MAX_CONTINUATION_BYTES: usize = 5;

/// Appends `value` with a `prefix_bits`-bit prefix (1..=8). `flags` holds the
/// representation's pattern in the bits above the prefix.
/// Takes a `usize` so that any length can be written; decoders bound what
/// they accept.
pub(crate) fn encode(value: usize, prefix_bits: u8, flags: u8, out: &mut Vec<u8>) {
    debug_assert!((1..=8).contains(&prefix_bits));
    let max_prefix = (1usize << prefix_bits) - 1;
    if value < max_prefix {
        // `value < 2^prefix_bits <= 256`, so the cast keeps every bit.
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 0x80 {
        out.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Decodes an integer with a `prefix_bits`-bit prefix starting at
/// `block[*pos]`, and advances `pos` past it.
///
/// Errors: [`DecodeError::Truncated`] if the block ends inside it,
/// [`DecodeError::IntegerOverflow`] if it needs more than 5 continuation
/// bytes or exceeds `u32::MAX`.
#[inline]
pub(crate) fn decode(block: &[u8], pos: &mut usize, prefix_bits: u8) -> Result<u32, DecodeError> {
    debug_assert!((1..=8).contains(&prefix_bits));
    let max_prefix = (1u32 << prefix_bits) - 1;
    let first = match block.get(*pos) {
        Some(&b) => u32::from(b) & max_prefix,
        None => return Err(DecodeError::Truncated),
    };
    *pos += 1;
    if first < max_prefix {
        return Ok(first);
    }
    let mut value = u64::from(max_prefix);
    let mut shift = 0u32;
    for _ in 0..MAX_CONTINUATION_BYTES {
        let byte = match block.get(*pos) {
            Some(&b) => b,
            None => return Err(DecodeError::Truncated),
        };
        *pos += 1;
        value += u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return u32::try_from(value).map_err(|_| DecodeError::IntegerOverflow);
        }
        shift += 7;
    }
    Err(DecodeError::IntegerOverflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(value: u32, prefix: u8) {
        let mut out = vec![];
        encode(value as usize, prefix, 0, &mut out);
        let mut pos = 0;
        assert_eq!(
            decode(&out, &mut pos, prefix),
            Ok(value),
            "{value} prefix {prefix}"
        );
        assert_eq!(pos, out.len());
    }

    #[test]
    fn rfc7541_c1_examples() {
        // C.1.1: 10 with a 5-bit prefix.
        let mut out = vec![];
        encode(10, 5, 0, &mut out);
        assert_eq!(out, [0x0a]);
        // C.1.2: 1337 with a 5-bit prefix.
        out.clear();
        encode(1337, 5, 0, &mut out);
        assert_eq!(out, [0x1f, 0x9a, 0x0a]);
        // C.1.3: 42 with an 8-bit prefix.
        out.clear();
        encode(42, 8, 0, &mut out);
        assert_eq!(out, [0x2a]);
        let mut pos = 0;
        assert_eq!(decode(&[0x1f, 0x9a, 0x0a], &mut pos, 5), Ok(1337));
    }

    #[test]
    fn every_prefix_round_trips_boundaries() {
        for prefix in 1..=8u8 {
            let max = (1u32 << prefix) - 1;
            for v in [
                0,
                1,
                max - 1,
                max,
                max + 1,
                127 + max,
                128 + max,
                1 << 20,
                u32::MAX - 1,
                u32::MAX,
            ] {
                round_trip(v, prefix);
            }
        }
    }

    #[test]
    fn flags_above_the_prefix_are_ignored_on_decode() {
        let mut pos = 0;
        assert_eq!(decode(&[0xe5], &mut pos, 5), Ok(5));
    }

    #[test]
    fn truncation_is_an_error() {
        let mut pos = 0;
        assert_eq!(decode(&[], &mut pos, 5), Err(DecodeError::Truncated));
        let mut pos = 0;
        assert_eq!(
            decode(&[0x1f, 0x9a], &mut pos, 5),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn overflow_is_an_error() {
        // u32::MAX + 1 with an 8-bit prefix: 255 + 0xffff_ff01.
        let mut out = vec![0xff];
        let mut rest = (1u64 << 32) - 255;
        while rest >= 0x80 {
            out.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        out.push(rest as u8);
        let mut pos = 0;
        assert_eq!(decode(&out, &mut pos, 8), Err(DecodeError::IntegerOverflow));
        // Six continuation bytes, even of zeros, are longer than any u32 needs.
        let mut pos = 0;
        let long = [0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(
            decode(&long, &mut pos, 5),
            Err(DecodeError::IntegerOverflow)
        );
        // Five continuation bytes that fit are fine.
        let mut pos = 0;
        assert_eq!(
            decode(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x00], &mut pos, 5),
            Ok(31)
        );
    }
}
