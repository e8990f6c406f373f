//! Loading the hpack-test-case stories shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub const STORIES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/hpack-test-case"
);

/// One case of a story: an optional acknowledged table size, the encoded
/// block (empty in raw-data) and the header list.
pub struct Case {
    pub table_size: Option<u32>,
    pub wire: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
}

pub struct Story {
    pub path: PathBuf,
    pub cases: Vec<Case>,
}

pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every story of one directory, sorted by file name.
pub fn load(dir: &str) -> Vec<Story> {
    let dir = Path::new(STORIES).join(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no stories in {}", dir.display());
    paths.into_iter().map(|path| load_story(&path)).collect()
}

fn load_story(path: &Path) -> Story {
    let text = std::fs::read_to_string(path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| Case {
            table_size: case
                .get("header_table_size")
                .map(|v| v.as_u64().unwrap() as u32),
            wire: case
                .get("wire")
                .map(|w| unhex(w.as_str().unwrap()))
                .unwrap_or_default(),
            headers: case["headers"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|h| {
                    h.as_object().unwrap().iter().map(|(k, v)| {
                        (
                            k.as_bytes().to_vec(),
                            v.as_str().unwrap().as_bytes().to_vec(),
                        )
                    })
                })
                .collect(),
        })
        .collect();
    Story {
        path: path.to_path_buf(),
        cases,
    }
}

/// Directories holding encoded stories (every one except raw-data).
pub const ENCODED_DIRS: [&str; 4] = [
    "go-hpack",
    "nghttp2",
    "nghttp2-change-table-size",
    "python-hpack",
];
