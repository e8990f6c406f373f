//! Fuzz the HTTP/2 frame decoder: any input decodes frame by frame or
//! fails with a typed error, never panics; every decoded frame re-encodes
//! to a frame that decodes to the same value.
//!
//! Input layout: the first byte picks the max frame size (16 KiB to 16 MiB
//! in powers of two); the rest is a stream of frames.
#![no_main]

use flare_h2::frame::{Frame, MAX_MAX_FRAME_SIZE, MIN_MAX_FRAME_SIZE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, mut rest)) = data.split_first() else { return };
    let max = (MIN_MAX_FRAME_SIZE << (control % 11)).min(MAX_MAX_FRAME_SIZE);
    let mut again = Vec::new();
    loop {
        match Frame::decode(rest, max) {
            Ok(Some((frame, used))) => {
                assert!(used >= 9 && used <= rest.len());
                rest = &rest[used..];
                again.clear();
                frame.encode(&mut again);
                let (decoded, n) = Frame::decode(&again, MAX_MAX_FRAME_SIZE)
                    .expect("our encoding decodes")
                    .expect("our encoding is complete");
                assert_eq!(n, again.len());
                assert_eq!(decoded, frame);
            }
            Ok(None) => break,
            Err(e) => {
                let _ = (e.code(), e.stream_scope(), e.reason());
                break;
            }
        }
    }
});
