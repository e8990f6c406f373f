//! Incremental UTF-8 validation of text messages.
//!
//! RFC 6455 section 8.1: "When an endpoint is to interpret a byte stream as
//! UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8
//! stream, that endpoint MUST _Fail the WebSocket Connection_." Validation
//! runs on each piece of payload as it arrives (across fragments and across
//! partial reads of one frame) and fails on the first byte that no valid
//! continuation could follow: a sequence that can still complete (at most 3
//! bytes) is carried to the next piece, anything else fails at once
//! (Autobahn 6.* checks this "fail fast" property).

/// Validation state carried between pieces of one text message.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Utf8Validator {
    carry: [u8; 4],
    carry_len: u8,
}

/// The piece holds a byte sequence that is not a prefix of valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidUtf8;

impl Utf8Validator {
    /// Forgets any carried prefix (start of a new message).
    pub(crate) fn reset(&mut self) {
        self.carry_len = 0;
    }

    /// Validates the next piece of the message.
    pub(crate) fn feed(&mut self, mut piece: &[u8]) -> Result<(), InvalidUtf8> {
        if self.carry_len > 0 {
            // Complete the carried sequence one byte at a time; std's error
            // tells "invalid" (error_len is Some) from "incomplete" (None).
            while let Some((&b, rest)) = piece.split_first() {
                self.carry[self.carry_len as usize] = b;
                self.carry_len += 1;
                piece = rest;
                match core::str::from_utf8(&self.carry[..self.carry_len as usize]) {
                    Ok(_) => {
                        self.carry_len = 0;
                        break;
                    }
                    Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                    Err(_) => {}
                }
            }
            if self.carry_len > 0 {
                return Ok(());
            }
        }
        match core::str::from_utf8(piece) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                let tail = &piece[e.valid_up_to()..];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carry_len = tail.len() as u8;
                Ok(())
            }
        }
    }

    /// The message ended: a carried incomplete sequence is an error.
    pub(crate) fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let ok = self.carry_len == 0;
        self.carry_len = 0;
        if ok {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_split(data: &[u8], split: usize) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::default();
        for piece in data.chunks(split.max(1)) {
            v.feed(piece)?;
        }
        v.finish()
    }

    #[test]
    fn valid_text_in_any_split() {
        let s = "κόσμε 𝄞 \u{10FFFF} \u{FFFD} ascii \u{0800}";
        for split in 1..s.len() + 1 {
            assert_eq!(feed_split(s.as_bytes(), split), Ok(()), "split {split}");
        }
    }

    #[test]
    fn fails_on_first_impossible_prefix() {
        // Each of these fails at the byte shown, before more input arrives.
        for bad in [
            &[
                0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0,
            ][..],
            &[0xf4, 0x90], // above U+10FFFF
            &[0xed, 0xa0], // surrogate
            &[0xc0],       // overlong lead byte
            &[0xe0, 0x80], // overlong
            &[0x80],       // stray continuation
            &[0xf8],       // invalid lead byte
        ] {
            for split in 1..=bad.len() {
                let mut v = Utf8Validator::default();
                let r = bad.chunks(split).try_for_each(|p| v.feed(p));
                assert_eq!(r, Err(InvalidUtf8), "{bad:02x?} split {split}");
            }
        }
    }

    #[test]
    fn incomplete_tail_is_carried_then_fails_at_finish() {
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(&[b'a', 0xf0, 0x9d]), Ok(()));
        assert_eq!(v.feed(&[0x84]), Ok(()));
        assert_eq!(v.finish(), Err(InvalidUtf8));
        assert_eq!(v.feed(&[0xf0, 0x9d, 0x84, 0x9e]), Ok(()));
        assert_eq!(v.finish(), Ok(()));
    }
}
