//! Base64 (RFC 4648 section 4, standard alphabet with padding), for
//! `Sec-WebSocket-Key` and `Sec-WebSocket-Accept`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes `input` into `out`, which must be `4 * ceil(len / 3)` bytes long.
pub(crate) fn encode_into(input: &[u8], out: &mut [u8]) {
    debug_assert_eq!(out.len(), input.len().div_ceil(3) * 4);
    for (chunk, o) in input.chunks(3).zip(out.chunks_exact_mut(4)) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        o[0] = ALPHABET[(n >> 18) as usize & 63];
        o[1] = ALPHABET[(n >> 12) as usize & 63];
        o[2] = if chunk.len() > 1 {
            ALPHABET[(n >> 6) as usize & 63]
        } else {
            b'='
        };
        o[3] = if chunk.len() > 2 {
            ALPHABET[n as usize & 63]
        } else {
            b'='
        };
    }
}

fn value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Decodes canonical padded base64 of exactly `N` bytes; anything else
/// (wrong length, bad characters, non-zero pad bits) is `None`.
pub(crate) fn decode_exact<const N: usize>(input: &[u8]) -> Option<[u8; N]> {
    if input.len() != N.div_ceil(3) * 4 {
        return None;
    }
    let mut out = [0u8; N];
    let mut o = 0;
    for quad in input.chunks_exact(4) {
        let pads = quad.iter().rev().take_while(|&&c| c == b'=').count();
        let data = 4 - pads;
        // Bytes this quad should carry, given how many remain.
        let want = (N - o).min(3);
        if data != want + 1 || pads > 2 {
            return None;
        }
        let mut n = 0u32;
        for (i, &c) in quad[..data].iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out[o..o + want].copy_from_slice(&bytes[1..1 + want]);
        // RFC 4648 section 3.5: pad bits must be zero in canonical encoding.
        let used_bits = 8 * want;
        if n & ((1u32 << (24 - used_bits)) - 1) != 0 {
            return None;
        }
        o += want;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &[u8]) -> String {
        let mut out = vec![0; s.len().div_ceil(3) * 4];
        encode_into(s, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// RFC 4648 section 10.
    #[test]
    fn rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(enc(i.as_bytes()), o);
        }
        assert_eq!(decode_exact::<1>(b"Zg=="), Some(*b"f"));
        assert_eq!(decode_exact::<2>(b"Zm8="), Some(*b"fo"));
        assert_eq!(decode_exact::<3>(b"Zm9v"), Some(*b"foo"));
        assert_eq!(decode_exact::<4>(b"Zm9vYg=="), Some(*b"foob"));
        assert_eq!(decode_exact::<5>(b"Zm9vYmE="), Some(*b"fooba"));
        assert_eq!(decode_exact::<6>(b"Zm9vYmFy"), Some(*b"foobar"));
    }

    #[test]
    fn sixteen_byte_keys() {
        let key = decode_exact::<16>(b"dGhlIHNhbXBsZSBub25jZQ==").unwrap();
        assert_eq!(&key, b"the sample nonce");
        for bad in [
            &b"dGhlIHNhbXBsZSBub25jZQ="[..], // short
            b"dGhlIHNhbXBsZSBub25jZQ===",    // long
            b"dGhlIHNhbXBsZSBub25jZR==",     // non-zero pad bits
            b"dGhlIHNhbXBsZSBub25j*Q==",     // bad character
            b"dGhlIHNhbXBsZSBub25jZQZ=",     // data where padding belongs
            b"dGhl=HNhbXBsZSBub25jZQ==",     // padding inside
        ] {
            assert_eq!(decode_exact::<16>(bad), None, "{:?}", bad);
        }
    }
}
