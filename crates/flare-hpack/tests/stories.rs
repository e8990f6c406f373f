//! Every story of hpack-test-case: decode each case in order with one
//! decoder per story, and round-trip the raw-data stories through our
//! encoder and decoder.

mod common;

use common::{load, ENCODED_DIRS};
use flare_hpack::{Decoder, Encoder, Field, HeaderList};

fn decode_dir(dir: &str) -> usize {
    let mut cases = 0;
    let mut list = HeaderList::new();
    for story in load(dir) {
        let mut decoder = Decoder::new();
        for (seq, case) in story.cases.iter().enumerate() {
            if let Some(size) = case.table_size {
                decoder.set_max_table_size(size);
            }
            let info = decoder
                .decode_into(&case.wire, &mut list)
                .unwrap_or_else(|e| panic!("{} case {seq}: {e:?}", story.path.display()));
            let got: Vec<(Vec<u8>, Vec<u8>)> = list
                .iter()
                .map(|f| (f.name.to_vec(), f.value.to_vec()))
                .collect();
            assert_eq!(got, case.headers, "{} case {seq}", story.path.display());
            assert!(!info.over_limit);
            assert_eq!(info.fields as usize, case.headers.len());
            assert!(decoder.table_size() <= decoder.table_max_size());
            cases += 1;
        }
    }
    cases
}

#[test]
fn go_hpack_stories_decode() {
    assert!(decode_dir("go-hpack") > 0);
}

#[test]
fn nghttp2_stories_decode() {
    assert!(decode_dir("nghttp2") > 0);
}

#[test]
fn nghttp2_change_table_size_stories_decode() {
    assert!(decode_dir("nghttp2-change-table-size") > 0);
}

#[test]
fn python_hpack_stories_decode() {
    assert!(decode_dir("python-hpack") > 0);
}

#[test]
fn every_encoded_directory_is_covered() {
    let mut dirs: Vec<String> = std::fs::read_dir(common::STORIES)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|d| d != "raw-data")
        .collect();
    dirs.sort();
    assert_eq!(dirs, ENCODED_DIRS);
}

#[test]
fn raw_data_round_trips_through_our_encoder_and_decoder() {
    let mut list = HeaderList::new();
    let (mut plain, mut encoded) = (0usize, 0usize);
    for story in load("raw-data") {
        let mut encoder = Encoder::new();
        let mut decoder = Decoder::new();
        let mut block = Vec::new();
        for (seq, case) in story.cases.iter().enumerate() {
            block.clear();
            encoder.encode(
                case.headers.iter().map(|(n, v)| Field::new(n, v)),
                &mut block,
            );
            decoder
                .decode_into(&block, &mut list)
                .unwrap_or_else(|e| panic!("{} case {seq}: {e:?}", story.path.display()));
            let got: Vec<(Vec<u8>, Vec<u8>)> = list
                .iter()
                .map(|f| (f.name.to_vec(), f.value.to_vec()))
                .collect();
            assert_eq!(got, case.headers, "{} case {seq}", story.path.display());
            plain += case
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>();
            encoded += block.len();
        }
    }
    // A real strategy compresses the corpus well: nghttp2 reaches about 31%.
    let ratio = encoded as f64 / plain as f64;
    eprintln!(
        "raw-data: {plain} bytes of headers -> {encoded} encoded ({:.1}%)",
        ratio * 100.0
    );
    assert!(ratio < 0.40, "compression ratio {ratio}");
}
