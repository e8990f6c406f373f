//! CRC32c (Castagnoli), the checksum of `PP2_TYPE_CRC32C`: "calculate the
//! CRC32c checksum of the PROXY header as described in RFC4960, Appendix B"
//! (section 2.2.3). Reflected polynomial 0x82F63B78, initial value and final
//! XOR all ones; one 256-entry table built at compile time.

const POLY: u32 = 0x82F6_3B78;

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// A running CRC32c.
#[derive(Clone, Copy, Debug)]
pub(super) struct Crc32c(u32);

impl Crc32c {
    pub(super) const fn new() -> Self {
        Crc32c(!0)
    }

    pub(super) fn update(mut self, bytes: &[u8]) -> Self {
        for &b in bytes {
            self.0 = TABLE[((self.0 ^ u32::from(b)) & 0xFF) as usize] ^ (self.0 >> 8);
        }
        self
    }

    pub(super) const fn finish(self) -> u32 {
        !self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Crc32c;

    #[test]
    fn check_values() {
        // The CRC catalogue's check value for CRC-32/ISCSI, and RFC 3720
        // appendix B.4's 32 bytes of zeros and of ones.
        assert_eq!(Crc32c::new().update(b"123456789").finish(), 0xE306_9283);
        assert_eq!(Crc32c::new().update(&[0; 32]).finish(), 0x8A91_36AA);
        assert_eq!(Crc32c::new().update(&[0xFF; 32]).finish(), 0x62A8_AB43);
        let split = Crc32c::new().update(b"1234").update(b"56789").finish();
        assert_eq!(split, 0xE306_9283);
    }
}
