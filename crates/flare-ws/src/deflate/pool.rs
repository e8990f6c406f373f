//! A small per-thread free list of boxed deflate states.
//!
//! With no context takeover (and the default
//! [`crate::Config::retain_deflate_state`] off) a connection gives its
//! compressor (~312 KiB) and decompressor (~43 KiB) back after every
//! message, so an idle connection holds neither. Freeing and allocating
//! them per message was the main cost of a small compressed message:
//! glibc returns blocks that large to the kernel (`madvise`), and the next
//! `calloc` faults the pages back in and zeroes them, with the compressor
//! also built on the stack and copied into its box. Instead a released
//! state goes to this thread's free list, and the next message on any
//! connection served by the same thread (a worker) takes it back and
//! resets it in place.
//!
//! The list is bounded: at most [`POOL_SIZE`] compressors and
//! [`POOL_SIZE`] decompressors per thread (about 1.4 MiB at most); a state
//! released to a full list is freed. It lives in thread-local storage and
//! is freed when the thread exits; nothing here spawns or blocks.
//!
//! Every state is reset when taken, never trusted as released: the
//! decompressor's 32 KiB window is zeroed (a back-reference past the start
//! of a peer's stream must not read another connection's data), and the
//! compressor is reset and given the taking connection's flags.

use std::cell::RefCell;
use std::thread::LocalKey;

use miniz_oxide::deflate::core::CompressorOxide;
use miniz_oxide::inflate::stream::{FullReset, InflateState};
use miniz_oxide::DataFormat;

/// At most this many compressors, and as many decompressors, wait in one
/// thread's free list.
pub(crate) const POOL_SIZE: usize = 4;

type FreeList<T> = RefCell<Vec<Box<T>>>;

thread_local! {
    static COMPRESSORS: FreeList<CompressorOxide> = const { RefCell::new(Vec::new()) };
    static DECOMPRESSORS: FreeList<InflateState> = const { RefCell::new(Vec::new()) };
}

/// Gives `state` to this thread's free list, or frees it if the list is
/// full (or already gone, during thread exit).
fn put<T: 'static>(list: &'static LocalKey<FreeList<T>>, state: Box<T>) {
    let _ = list.try_with(move |l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            if l.len() < POOL_SIZE {
                if l.capacity() == 0 {
                    l.reserve_exact(POOL_SIZE);
                }
                l.push(state);
            }
        }
    });
}

/// Takes the last state in this thread's list for which `pick` is true.
fn take<T: 'static>(
    list: &'static LocalKey<FreeList<T>>,
    pick: impl Fn(&T) -> bool,
) -> Option<Box<T>> {
    list.try_with(|l| {
        let mut l = l.try_borrow_mut().ok()?;
        let i = l.iter().rposition(|s| pick(s))?;
        Some(l.swap_remove(i))
    })
    .ok()
    .flatten()
}

/// Returns a compressor to the pool.
pub(crate) fn put_compressor(state: Box<CompressorOxide>) {
    put(&COMPRESSORS, state);
}

/// Returns a decompressor to the pool.
pub(crate) fn put_decompressor(state: Box<InflateState>) {
    put(&DECOMPRESSORS, state);
}

/// A compressor in its initial state with `flags` (raw DEFLATE, from
/// [`super::codec::compressor_flags`]): one from the pool, reset, or a new
/// one. `level` is `Some` when `flags` are plain raw DEFLATE at that level
/// with the default strategy, so a pooled compressor with other flags can
/// be switched to them; otherwise (the RLE strategy) only one with exactly
/// these flags is taken.
pub(crate) fn take_compressor(flags: u32, level: Option<u8>) -> Box<CompressorOxide> {
    let same = |c: &CompressorOxide| c.flags() as u32 == flags;
    let pooled = take(&COMPRESSORS, same).or_else(|| {
        // Any compressor can be switched to a default-strategy level.
        level.and_then(|_| take(&COMPRESSORS, |_| true))
    });
    if let Some(mut c) = pooled {
        // `reset` keeps the flags and clears the rest (window, hash
        // chains, LZ and output buffers, Huffman tables, stream position).
        c.reset();
        if let (false, Some(level)) = (same(&c), level) {
            // Sets exactly `create_comp_flags_from_zip_params(level, -15,
            // default strategy)`, checked below.
            c.set_format_and_level(DataFormat::Raw, level);
        }
        if same(&c) {
            return c;
        }
        // Not switchable: keep it for a connection with its flags.
        put_compressor(c);
    }
    // This builds the compressor's inline 64 KiB LZ buffer on the stack
    // and copies it into the box (miniz has no boxed constructor for it,
    // `Box::default()` does the same, and a safe in-place one needs
    // `unsafe`); the pool makes it rare, a few times per thread.
    Box::new(CompressorOxide::new(flags))
}

/// A raw-DEFLATE decompressor in its initial state with a zeroed window:
/// one from the pool, reset, or a new one.
pub(crate) fn take_decompressor() -> Box<InflateState> {
    match take(&DECOMPRESSORS, |_| true) {
        Some(mut d) => {
            // Zeroes the window and sets the format again.
            d.reset_as(FullReset(DataFormat::Raw));
            d
        }
        None => InflateState::new_boxed(DataFormat::Raw),
    }
}

/// How many compressors and decompressors this thread's pool holds now.
/// (For memory accounting and tests; see the module docs of
/// [`crate::deflate`].)
pub fn pooled_states() -> (usize, usize) {
    fn len<T: 'static>(list: &'static LocalKey<FreeList<T>>) -> usize {
        list.try_with(|l| l.try_borrow().map_or(0, |l| l.len()))
            .unwrap_or(0)
    }
    (len(&COMPRESSORS), len(&DECOMPRESSORS))
}
