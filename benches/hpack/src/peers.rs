//! One adapter per implementation: decode a story (fresh decoder, blocks in
//! order) and encode a story (fresh encoder), each through the
//! implementation's cheapest public API.
//!
//! `on_field` receives every decoded field; the timing runs pass a closure
//! that only counts, the verification run one that collects.

use crate::corpus::Story;
use std::borrow::Cow;

/// Receives (case number, name, value) for each decoded field.
pub type OnField<'a> = dyn FnMut(usize, &[u8], &[u8]) + 'a;
pub type DecodeFn = fn(&Story, &mut OnField<'_>) -> Result<(), String>;
pub type EncodeFn = fn(&Story, &mut dyn FnMut(usize, &[u8])) -> Result<(), String>;

pub struct Peer {
    pub name: &'static str,
    pub decode: DecodeFn,
    /// `None`: the crate has no encoder strategy (the caller picks every
    /// representation), so an encode figure would not be comparable.
    pub encode: Option<EncodeFn>,
}

pub const PEERS: &[Peer] = &[
    Peer {
        name: "flare-hpack",
        decode: flare_decode,
        encode: Some(flare_encode),
    },
    Peer {
        name: "hpack 0.3.0",
        decode: hpack_decode,
        encode: Some(hpack_encode),
    },
    Peer {
        name: "loona-hpack 0.4.3",
        decode: loona_decode,
        encode: Some(loona_encode),
    },
    Peer {
        name: "fluke-hpack 0.3.1",
        decode: fluke_decode,
        encode: Some(fluke_encode),
    },
    Peer {
        name: "httlib-hpack 0.1.3",
        decode: httlib_decode,
        encode: Some(httlib_encode),
    },
    Peer {
        name: "hpack_codec 0.1.1",
        decode: hpack_codec_decode,
        encode: None,
    },
];

fn flare_decode(story: &Story, on_field: &mut OnField<'_>) -> Result<(), String> {
    let mut decoder = flare_hpack::Decoder::new();
    for (i, case) in story.cases.iter().enumerate() {
        if let Some(size) = case.table_size {
            decoder.set_max_table_size(size);
        }
        decoder
            .decode(&case.wire, |f| on_field(i, f.name, f.value))
            .map_err(|e| format!("{e:?}"))?;
    }
    Ok(())
}

fn flare_encode(story: &Story, on_block: &mut dyn FnMut(usize, &[u8])) -> Result<(), String> {
    let mut encoder = flare_hpack::Encoder::new();
    let mut block = Vec::new();
    for (i, case) in story.cases.iter().enumerate() {
        block.clear();
        encoder.encode(
            case.headers
                .iter()
                .map(|(n, v)| flare_hpack::Field::new(n, v)),
            &mut block,
        );
        on_block(i, &block);
    }
    Ok(())
}

macro_rules! mlalic_family {
    ($decode:ident, $encode:ident, $krate:ident) => {
        fn $decode(story: &Story, on_field: &mut OnField<'_>) -> Result<(), String> {
            let mut decoder = $krate::Decoder::new();
            for (i, case) in story.cases.iter().enumerate() {
                decoder
                    .decode_with_cb(&case.wire, |n: Cow<'_, [u8]>, v: Cow<'_, [u8]>| {
                        on_field(i, &n, &v)
                    })
                    .map_err(|e| format!("{e:?}"))?;
            }
            Ok(())
        }

        fn $encode(story: &Story, on_block: &mut dyn FnMut(usize, &[u8])) -> Result<(), String> {
            let mut encoder = $krate::Encoder::new();
            let mut block = Vec::new();
            for (i, case) in story.cases.iter().enumerate() {
                block.clear();
                encoder
                    .encode_into(
                        case.headers.iter().map(|(n, v)| (&n[..], &v[..])),
                        &mut block,
                    )
                    .map_err(|e| e.to_string())?;
                on_block(i, &block);
            }
            Ok(())
        }
    };
}

mlalic_family!(hpack_decode, hpack_encode, hpack);
mlalic_family!(loona_decode, loona_encode, loona_hpack);
mlalic_family!(fluke_decode, fluke_encode, fluke_hpack);

fn httlib_decode(story: &Story, on_field: &mut OnField<'_>) -> Result<(), String> {
    let mut decoder = httlib_hpack::Decoder::default();
    let mut buf = Vec::new();
    let mut fields = Vec::new();
    for (i, case) in story.cases.iter().enumerate() {
        // The API consumes a `Vec<u8>` and fills a `Vec` of owned fields.
        buf.clear();
        buf.extend_from_slice(&case.wire);
        fields.clear();
        decoder
            .decode(&mut buf, &mut fields)
            .map_err(|e| format!("{e:?}"))?;
        for (n, v, _) in &fields {
            on_field(i, n, v);
        }
    }
    Ok(())
}

fn httlib_encode(story: &Story, on_block: &mut dyn FnMut(usize, &[u8])) -> Result<(), String> {
    use httlib_hpack::Encoder;
    let mut encoder = Encoder::default();
    let mut block = Vec::new();
    let flags = Encoder::HUFFMAN_NAME
        | Encoder::HUFFMAN_VALUE
        | Encoder::WITH_INDEXING
        | Encoder::BEST_FORMAT;
    for (i, case) in story.cases.iter().enumerate() {
        block.clear();
        for (n, v) in &case.headers {
            encoder
                .encode((n.clone(), v.clone(), flags), &mut block)
                .map_err(|e| format!("{e:?}"))?;
        }
        on_block(i, &block);
    }
    Ok(())
}

fn hpack_codec_decode(story: &Story, on_field: &mut OnField<'_>) -> Result<(), String> {
    let mut decoder = hpack_codec::Decoder::new(4096);
    for (i, case) in story.cases.iter().enumerate() {
        let mut block = decoder
            .enter_header_block(&case.wire)
            .map_err(|e| e.to_string())?;
        while let Some(field) = block.decode_field().map_err(|e| e.to_string())? {
            on_field(i, field.name(), field.value());
        }
    }
    Ok(())
}
