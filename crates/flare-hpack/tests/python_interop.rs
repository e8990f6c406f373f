//! Interop with an independent implementation, the Python `hpack` package:
//! every raw-data story encoded by us and decoded by Python, and encoded by
//! Python and decoded by us. The peer is installed by `cargo xtask peers`;
//! without it these tests fail rather than pass silently.

mod common;

use common::{hex, load, unhex, Story};
use flare_hpack::{Decoder, Encoder, Field, HeaderList};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/hpack_interop.py");

fn python() -> String {
    let python = std::env::var("FLARE_PYTHON").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/venv/bin/python").to_string()
    });
    let ok = Command::new(&python)
        .args(["-c", "import hpack"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "Python with the `hpack` package not found at {python}: run `cargo xtask peers` (or set FLARE_PYTHON)");
    python
}

fn run_peer(request: &Value) -> Vec<Value> {
    let mut child = Command::new(python())
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python");
    let input = serde_json::to_vec(request).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Write from another thread so a full stdout pipe cannot deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "python peer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    answer["stories"].as_array().unwrap().clone()
}

fn raw_stories() -> Vec<Story> {
    let stories = load("raw-data");
    assert!(stories.len() >= 30);
    stories
}

#[test]
fn python_decodes_what_we_encode() {
    let stories = raw_stories();
    let mut blocks = Vec::new();
    for story in &stories {
        let mut encoder = Encoder::new();
        let encoded: Vec<String> = story
            .cases
            .iter()
            .map(|case| {
                let mut block = Vec::new();
                encoder.encode(
                    case.headers.iter().map(|(n, v)| Field::new(n, v)),
                    &mut block,
                );
                hex(&block)
            })
            .collect();
        blocks.push(encoded);
    }
    let answer = run_peer(&json!({ "mode": "decode", "stories": blocks }));
    assert_eq!(answer.len(), stories.len());
    let mut cases = 0;
    for (story, decoded) in stories.iter().zip(&answer) {
        let decoded = decoded.as_array().unwrap();
        assert_eq!(decoded.len(), story.cases.len());
        for (seq, (case, fields)) in story.cases.iter().zip(decoded).enumerate() {
            let got: Vec<(Vec<u8>, Vec<u8>, bool)> = fields
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        unhex(f[0].as_str().unwrap()),
                        unhex(f[1].as_str().unwrap()),
                        f[2].as_bool().unwrap(),
                    )
                })
                .collect();
            let names_values: Vec<(Vec<u8>, Vec<u8>)> =
                got.iter().map(|(n, v, _)| (n.clone(), v.clone())).collect();
            assert_eq!(
                names_values,
                case.headers,
                "{} case {seq}",
                story.path.display()
            );
            // What we sent never-indexed, Python saw as never-indexed.
            for (name, value, never) in &got {
                let secret = matches!(&name[..], b"authorization" | b"set-cookie")
                    || (&name[..] == b"cookie" && value.len() < 20);
                assert_eq!(*never, secret, "{}", String::from_utf8_lossy(name));
            }
            cases += 1;
        }
    }
    assert!(cases > 1000, "{cases}");
}

#[test]
fn we_decode_what_python_encodes() {
    let stories = raw_stories();
    let request: Vec<Vec<Vec<[String; 2]>>> = stories
        .iter()
        .map(|s| {
            s.cases
                .iter()
                .map(|c| c.headers.iter().map(|(n, v)| [hex(n), hex(v)]).collect())
                .collect()
        })
        .collect();
    let answer = run_peer(&json!({ "mode": "encode", "stories": request }));
    assert_eq!(answer.len(), stories.len());
    let mut list = HeaderList::new();
    for (story, blocks) in stories.iter().zip(&answer) {
        let blocks = blocks.as_array().unwrap();
        assert_eq!(blocks.len(), story.cases.len());
        let mut decoder = Decoder::new();
        for (seq, (case, block)) in story.cases.iter().zip(blocks).enumerate() {
            decoder
                .decode_into(&unhex(block.as_str().unwrap()), &mut list)
                .unwrap_or_else(|e| panic!("{} case {seq}: {e:?}", story.path.display()));
            let got: Vec<(Vec<u8>, Vec<u8>)> = list
                .iter()
                .map(|f| (f.name.to_vec(), f.value.to_vec()))
                .collect();
            assert_eq!(got, case.headers, "{} case {seq}", story.path.display());
        }
    }
}
