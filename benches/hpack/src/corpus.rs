//! The hpack-test-case story corpus.

use std::path::{Path, PathBuf};

pub const STORIES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/hpack-test-case"
);

/// Directories of stories encoded by other implementations.
pub const ENCODED_DIRS: [&str; 4] = [
    "go-hpack",
    "nghttp2",
    "nghttp2-change-table-size",
    "python-hpack",
];

pub type Headers = Vec<(Vec<u8>, Vec<u8>)>;

pub struct Case {
    /// `SETTINGS_HEADER_TABLE_SIZE` acknowledged just before this block.
    pub table_size: Option<u32>,
    pub wire: Vec<u8>,
    pub headers: Headers,
}

pub struct Story {
    pub name: String,
    pub cases: Vec<Case>,
}

pub struct Corpus {
    pub stories: Vec<Story>,
    /// Header fields over all cases.
    pub fields: u64,
    /// Name and value bytes over all cases.
    pub header_bytes: u64,
    /// Encoded bytes over all cases.
    pub wire_bytes: u64,
}

impl Corpus {
    pub fn load(dirs: &[&str]) -> Corpus {
        let mut stories = Vec::new();
        for dir in dirs {
            let dir_path = Path::new(STORIES).join(dir);
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir_path)
                .unwrap_or_else(|e| panic!("{}: {e}", dir_path.display()))
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            paths.sort();
            for path in paths {
                let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
                stories.push(Story {
                    name,
                    cases: load_cases(&path),
                });
            }
        }
        let cases = stories.iter().flat_map(|s| &s.cases);
        let fields = cases.clone().map(|c| c.headers.len() as u64).sum();
        let header_bytes = cases
            .clone()
            .flat_map(|c| &c.headers)
            .map(|(n, v)| (n.len() + v.len()) as u64)
            .sum();
        let wire_bytes = cases.map(|c| c.wire.len() as u64).sum();
        Corpus {
            stories,
            fields,
            header_bytes,
            wire_bytes,
        }
    }

    pub fn blocks(&self) -> usize {
        self.stories.iter().map(|s| s.cases.len()).sum()
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn load_cases(path: &Path) -> Vec<Case> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["cases"]
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
        .collect()
}
