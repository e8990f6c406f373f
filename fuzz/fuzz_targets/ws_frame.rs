//! Fuzz the WebSocket frame header parser: any input parses as a header,
//! `Partial`, or a typed error, never panics; a parsed header re-encodes
//! minimally to a header that parses to the same value.
#![no_main]

use flare_ws::frame::{parse_header, FrameHeader, Status, MAX_HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Status::Complete((header, n))) = parse_header(rest) {
        assert!((2..=MAX_HEADER_LEN).contains(&n) && n <= rest.len());
        let mut buf = [0u8; MAX_HEADER_LEN];
        let m = header.encode(&mut buf);
        assert!(m <= n, "our encoding is minimal");
        assert_eq!(m, header.encoded_len());
        let again: FrameHeader = match parse_header(&buf[..m]) {
            Ok(Status::Complete((h, used))) => {
                assert_eq!(used, m);
                h
            }
            other => panic!("our encoding does not parse: {other:?}"),
        };
        assert_eq!(again, header);
        // Skip the header and at most 64 bytes of payload.
        let skip = n + (header.payload_len.min(64) as usize).min(rest.len() - n);
        rest = &rest[skip..];
    }
});
