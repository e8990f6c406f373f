//! The DEFLATE streams of permessage-deflate (RFC 7692 section 7.2) on
//! miniz_oxide, allocated lazily.
//!
//! State sizes (miniz_oxide 0.8.9, x86-64, measured by `tests/alloc.rs`
//! with a counting allocator): the decompressor (`InflateState`) is about
//! 43 KiB (a 32 KiB window plus Huffman tables); the compressor
//! (`CompressorOxide`) is about 312 KiB in 6 allocations (hash chains,
//! window, LZ code buffer, Huffman tables). Neither exists until the
//! first compressed message in its direction; with no context takeover in
//! a direction its state is released after each message unless
//! [`crate::Config::retain_deflate_state`] is set. A released state (and
//! any state a dropped connection held) goes to a bounded per-thread free
//! list (`pool.rs`), from which the next message on that thread takes it
//! and resets it, so the steady state allocates nothing while an idle
//! connection still holds no deflate state.
//!
//! When the peer limits our compressor's window below 15 bits
//! (`server_max_window_bits=8..14` in a client's offer), the compressor
//! uses miniz's RLE strategy, whose only back-references have distance 1
//! ([`compressor_flags`]); `tests/window_bits.rs` decodes the streams with
//! an independent decoder and checks every distance.

use miniz_oxide::deflate::core::{
    compress_to_output, create_comp_flags_from_zip_params, CompressionStrategy, CompressorOxide,
    TDEFLFlush, TDEFLStatus,
};
use miniz_oxide::inflate::stream::{inflate, InflateState, MinReset};
use miniz_oxide::{MZError, MZFlush, MZStatus};

use super::pool;
use crate::error::Error;
use crate::message::MessageBuf;

/// RFC 7692 section 7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the
/// tail end of the payload of the message" before inflating.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The receiving side: inflates message payloads into the message buffer.
pub(crate) struct Inflater {
    state: Option<Box<InflateState>>,
    /// Reset after each message (the peer does not take over context).
    no_context_takeover: bool,
    retain: bool,
    /// The peer ended the DEFLATE stream (BFINAL) inside this message.
    stream_ended: bool,
}

impl Inflater {
    pub(crate) fn new(no_context_takeover: bool, retain: bool) -> Self {
        Inflater {
            state: None,
            no_context_takeover,
            retain,
            stream_ended: false,
        }
    }

    /// Whether a decompressor is allocated (for memory tests).
    pub(crate) fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// Inflates one piece of a compressed message's payload into `out`,
    /// failing with 1009 as soon as `out` would pass `limit` bytes.
    pub(crate) fn feed(
        &mut self,
        mut input: &[u8],
        out: &mut MessageBuf,
        limit: usize,
    ) -> Result<(), Error> {
        if self.stream_ended {
            return Ok(()); // bytes after BFINAL are ignored (e.g. our appended tail)
        }
        let state = self.state.get_or_insert_with(pool::take_decompressor);
        loop {
            // Room for one byte past the limit, so passing it is seen.
            let room = out.spare(limit.saturating_add(1));
            if room.is_empty() {
                return Err(Error::TooBig {
                    limit: limit as u64,
                });
            }
            let room_len = room.len();
            let r = inflate(state, input, room, MZFlush::None);
            input = &input[r.bytes_consumed..];
            out.commit(r.bytes_written);
            if out.len() > limit {
                return Err(Error::TooBig {
                    limit: limit as u64,
                });
            }
            match r.status {
                Ok(MZStatus::StreamEnd) => {
                    self.stream_ended = true;
                    return Ok(());
                }
                Ok(_) => {
                    if input.is_empty() && r.bytes_written < room_len {
                        return Ok(());
                    }
                }
                Err(MZError::Buf) if input.is_empty() => return Ok(()),
                Err(_) => return Err(Error::InvalidCompressedData),
            }
        }
    }

    /// The message ended: inflate the implied tail, then reset if the peer
    /// does not take over context.
    pub(crate) fn finish(&mut self, out: &mut MessageBuf, limit: usize) -> Result<(), Error> {
        let r = self.feed(&TAIL, out, limit);
        if self.stream_ended || self.no_context_takeover || r.is_err() {
            self.stream_ended = false;
            if self.retain && r.is_ok() {
                if let Some(s) = self.state.as_mut() {
                    s.reset_as(MinReset);
                }
            } else if let Some(s) = self.state.take() {
                pool::put_decompressor(s);
            }
        }
        r
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        if let Some(s) = self.state.take() {
            pool::put_decompressor(s);
        }
    }
}

/// The sending side: compresses whole messages (or fragments) into `out`.
pub(crate) struct Deflater {
    state: Option<Box<CompressorOxide>>,
    no_context_takeover: bool,
    retain: bool,
    flags: u32,
    /// The level when `flags` use the default strategy (so a pooled
    /// compressor with other flags can be switched to them); `None` with
    /// the RLE strategy.
    plain_level: Option<u8>,
}

/// miniz_oxide compressor flags for raw DEFLATE at `level` whose
/// back-references stay within a `window_bits` window.
///
/// miniz_oxide always searches a 32 KiB window (15 bits) and cannot be
/// told a smaller one. A DEFLATE stream whose matches never reach farther
/// than the decoder's window is valid for it, so below 15 bits we use the
/// RLE strategy: matches of distance 1 only, within any window (RFC 7692
/// windows are at least 8 bits, 256 bytes). miniz applies RLE only in its
/// normal compressor; level 1 takes the fast path, which ignores the
/// strategy and matches across the whole 32 KiB, so RLE needs level 2 or
/// more (the level sets only search effort, which RLE does not use).
/// Level 0 (stored blocks) has no matches at all.
pub(crate) fn compressor_flags(level: u8, window_bits: u8) -> u32 {
    // Negative window bits: raw DEFLATE, no zlib header.
    if window_bits >= 15 || level == 0 {
        create_comp_flags_from_zip_params(i32::from(level), -15, 0)
    } else {
        create_comp_flags_from_zip_params(
            i32::from(level.max(2)),
            -15,
            CompressionStrategy::RLE as i32,
        )
    }
}

impl Deflater {
    /// A compressor whose matches stay within `window_bits` (8-15; see
    /// [`compressor_flags`]).
    pub(crate) fn new(no_context_takeover: bool, retain: bool, level: u8, window_bits: u8) -> Self {
        Deflater {
            state: None,
            no_context_takeover,
            retain,
            flags: compressor_flags(level, window_bits),
            plain_level: (window_bits >= 15 || level == 0).then_some(level),
        }
    }

    /// Whether a compressor is allocated (for memory tests).
    pub(crate) fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// Appends the compressed form of `data` to `out`, ending with a sync
    /// flush; on the message's last piece (`fin`) the flush's `00 00 ff ff`
    /// is removed (RFC 7692 section 7.2.1: "Remove 4 octets (that are 0x00
    /// 0x00 0xff 0xff) from the tail end").
    pub(crate) fn compress(&mut self, data: &[u8], fin: bool, out: &mut Vec<u8>) {
        let (flags, level) = (self.flags, self.plain_level);
        let state = self
            .state
            .get_or_insert_with(|| pool::take_compressor(flags, level));
        // One call with an output callback, not miniz's buffer API: with a
        // bounded output buffer, `deflate(.., MZFlush::Sync)` can return
        // with all input taken and room left over while up to 4 KiB of
        // lookahead is still uncompressed and the sync flush not yet done
        // (when its LZ code buffer fills in the last lookahead window and
        // the block does not fit the room), so "input empty and room left"
        // does not mean "flushed". The callback takes every block as it is
        // made, so the call returns only after the whole input is
        // compressed and the sync flush written.
        let (status, consumed) = compress_to_output(state, data, TDEFLFlush::Sync, |bytes| {
            out.extend_from_slice(bytes);
            true
        });
        debug_assert_eq!(status, TDEFLStatus::Okay);
        debug_assert_eq!(consumed, data.len());
        if fin {
            if out.ends_with(&TAIL) {
                out.truncate(out.len() - TAIL.len());
            }
            if self.no_context_takeover {
                if self.retain {
                    if let Some(s) = self.state.as_mut() {
                        s.reset();
                    }
                } else if let Some(s) = self.state.take() {
                    pool::put_compressor(s);
                }
            }
        }
    }
}

impl Drop for Deflater {
    fn drop(&mut self) {
        if let Some(s) = self.state.take() {
            pool::put_compressor(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_sizes() {
        // Documented above; printed for `cargo test -- --nocapture`.
        let inflate = std::mem::size_of::<InflateState>();
        let compress = std::mem::size_of::<CompressorOxide>();
        println!(
            "InflateState {inflate} bytes, CompressorOxide {compress} bytes (plus boxed parts)"
        );
        assert!(inflate < 48 * 1024);
    }
}
