//! Payload masking (RFC 6455 section 5.3), a word at a time.

/// XORs `buf` with the masking `key`, where `buf` starts `offset` bytes into
/// the frame's payload.
///
/// RFC 6455 section 5.3: "Octet i of the transformed data
/// ("transformed-octet-i") is the XOR of octet i of the original data
/// ("original-octet-i") with octet at index i modulo 4 of the masking key".
/// The running `offset` lets a payload be unmasked piece by piece as it
/// arrives. Masking and unmasking are the same operation.
///
/// Works on eight bytes at a time with the key rotated to `offset` and
/// repeated into a `u64`; the loop is plain safe code that the compiler
/// unrolls and vectorizes.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let k = u32::from_ne_bytes(key);
    // In memory order, byte j of the rotated key is key[(offset + j) % 4].
    let rotated = if cfg!(target_endian = "little") {
        k.rotate_right(8 * (offset % 4) as u32)
    } else {
        k.rotate_left(8 * (offset % 4) as u32)
    };
    let wide = u64::from(rotated) | (u64::from(rotated) << 32);
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        for word in block.chunks_exact_mut(8) {
            let v = u64::from_ne_bytes(word.try_into().unwrap_or([0; 8])) ^ wide;
            word.copy_from_slice(&v.to_ne_bytes());
        }
    }
    let rest = blocks.into_remainder();
    let mut words = rest.chunks_exact_mut(8);
    for word in &mut words {
        let v = u64::from_ne_bytes(word.try_into().unwrap_or([0; 8])) ^ wide;
        word.copy_from_slice(&v.to_ne_bytes());
    }
    let key_bytes = rotated.to_ne_bytes();
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= key_bytes[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::apply_mask;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn matches_bytewise_for_every_length_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..100 {
            for offset in 0..8 {
                let data: Vec<u8> = (0..len as u8).map(|x| x.wrapping_mul(31)).collect();
                let mut a = data.clone();
                let mut b = data.clone();
                apply_mask(&mut a, key, offset);
                naive(&mut b, key, offset);
                assert_eq!(a, b, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn pieces_with_running_offset_equal_whole() {
        let key = [1, 2, 3, 4];
        let data: Vec<u8> = (0..=255).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for split in [1usize, 3, 5, 7, 13, 64, 100] {
            let mut pieces = data.clone();
            let mut off = 0;
            for chunk in pieces.chunks_mut(split) {
                let n = chunk.len();
                apply_mask(chunk, key, off);
                off += n;
            }
            assert_eq!(pieces, whole, "split {split}");
        }
    }
}
