//! Fuzz the chunked decoder: no panics, body within the limit, and the same
//! result whether the input is fed whole or in the fuzzer-chosen pieces.
#![no_main]

use flare_h1::{ChunkedDecoder, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (split, input) = match data.split_first() {
        Some((s, rest)) => (usize::from(*s % 16) + 1, rest),
        None => (1, data),
    };
    let limits = Limits::default()
        .max_body(4096)
        .max_trailer_bytes(512)
        .max_chunk_ext_bytes(256);

    let mut whole = ChunkedDecoder::new(&limits);
    let mut whole_out = Vec::new();
    let whole_r = whole.decode(input, &mut whole_out);
    assert!(whole_out.len() <= 4096);

    let mut pieces = ChunkedDecoder::new(&limits);
    let mut pieces_out = Vec::new();
    let mut pos = 0;
    let mut pieces_r = Ok(());
    while pos < input.len() {
        let end = (pos + split).min(input.len());
        match pieces.decode(&input[pos..end], &mut pieces_out) {
            Ok(p) => {
                assert!(p.consumed <= end - pos);
                pos += p.consumed;
                if p.done {
                    break;
                }
            }
            Err(e) => {
                pieces_r = Err(e);
                break;
            }
        }
    }
    match whole_r {
        Ok(p) => {
            assert_eq!(pieces_r, Ok(()));
            assert_eq!(p.consumed, pos);
            assert_eq!(p.done, pieces.is_done());
            assert_eq!(whole_out, pieces_out);
            if p.done {
                assert_eq!(whole.trailers(), pieces.trailers());
            }
        }
        Err(e) => {
            assert_eq!(pieces_r, Err(e));
            assert_eq!(whole_out, pieces_out);
        }
    }
});
