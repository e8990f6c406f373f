//! Fuzz the HPACK decoder: any sequence of blocks must decode or fail with a
//! typed error, never panic, and keep the dynamic table within its size.
//! Whatever decodes must re-encode with our encoder and decode to the same
//! fields (never-indexed flags included).
//!
//! Input layout: the first byte picks the header list limit and, when its
//! top bit is set, a table size setting change before the first block; the
//! rest is a sequence of blocks, each preceded by its length in one byte.
#![no_main]

use flare_hpack::{Decoder, Encoder, HeaderList};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let limit = 64 << (control & 0x0f);
    let mut decoder = Decoder::new().with_max_header_list_size(limit);
    if control & 0x80 != 0 {
        decoder.set_max_table_size(u32::from(control & 0x70) << 5);
    }
    let mut encoder = Encoder::new();
    let mut mirror = Decoder::new().with_max_header_list_size(u32::MAX / 4);
    let mut list = HeaderList::new();
    let mut again = HeaderList::new();
    let mut block = Vec::new();
    let mut rest = rest;
    while let Some((&len, tail)) = rest.split_first() {
        let (input, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        let Ok(info) = decoder.decode_into(input, &mut list) else { break };
        assert!(decoder.table_size() <= decoder.table_max_size());
        assert_eq!(info.delivered as usize, list.len());
        let kept: u64 = list.iter().map(|f| f.size() as u64).sum();
        assert!(kept <= u64::from(limit));
        assert_eq!(info.over_limit, info.delivered < info.fields);

        block.clear();
        encoder.encode(list.iter(), &mut block);
        mirror.decode_into(&block, &mut again).expect("our own encoding decodes");
        assert_eq!(again.len(), list.len());
        for (a, b) in again.iter().zip(list.iter()) {
            assert_eq!((a.name, a.value), (b.name, b.value));
            if b.sensitive {
                assert!(a.sensitive);
            }
        }
    }
});
