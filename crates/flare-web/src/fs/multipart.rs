//! `multipart/byteranges` bodies (RFC 9110 section 14.6) for requests with several
//! ranges.

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::unix::fs::FileExt;

use bytes::Bytes;

use super::range::ByteRange;
use crate::body::{Body, BodyStream, Frame, StreamContext};

/// How much of the file a streamed part reads per step.
const READ_STEP: u64 = 64 * 1024;

/// A boundary that does not occur in the file with overwhelming probability: 128
/// random bits in hex.
pub fn boundary() -> String {
    let a = RandomState::new().build_hasher().finish();
    let mut h = RandomState::new().build_hasher();
    h.write_u64(a);
    format!("{a:016x}{:016x}", h.finish())
}

/// The body for `ranges` of `file` (of `file_len` bytes, type `content_type`): built in
/// memory when its total is at most `in_memory_max` bytes, else a stream that reads
/// the file piece by piece as the connection takes it.
pub fn body(
    file: File,
    ranges: &[ByteRange],
    content_type: &str,
    file_len: u64,
    boundary: &str,
    in_memory_max: u64,
) -> io::Result<Body> {
    let parts: Vec<(Bytes, ByteRange)> = ranges
        .iter()
        .enumerate()
        .map(|(i, r)| {
            // The CRLF before each boundary after the first belongs to it (RFC 2046).
            let lead = if i == 0 { "" } else { "\r\n" };
            let head = format!(
                "{lead}--{boundary}\r\ncontent-type: {content_type}\r\ncontent-range: bytes {}-{}/{file_len}\r\n\r\n",
                r.first, r.last
            );
            (Bytes::from(head), *r)
        })
        .collect();
    let end = Bytes::from(format!("\r\n--{boundary}--\r\n"));
    let total: u64 = parts
        .iter()
        .map(|(h, r)| h.len() as u64 + r.len())
        .sum::<u64>()
        + end.len() as u64;
    if total <= in_memory_max {
        let mut out = Vec::with_capacity(total as usize);
        for (head, r) in &parts {
            out.extend_from_slice(head);
            let at = out.len();
            out.resize(at + r.len() as usize, 0);
            file.read_exact_at(&mut out[at..], r.first)?;
        }
        out.extend_from_slice(&end);
        return Ok(Body::Bytes(Bytes::from(out)));
    }
    Ok(Body::Stream(Box::new(RangesStream {
        file,
        parts,
        end: Some(end),
        index: 0,
        next: Next::Head,
        total,
    })))
}

enum Next {
    Head,
    Data { at: u64 },
}

struct RangesStream {
    file: File,
    parts: Vec<(Bytes, ByteRange)>,
    end: Option<Bytes>,
    index: usize,
    next: Next,
    total: u64,
}

impl BodyStream for RangesStream {
    fn poll_frame(&mut self, _cx: &mut StreamContext<'_>) -> Frame {
        let Some((head, range)) = self.parts.get(self.index) else {
            return match self.end.take() {
                Some(end) => Frame::Data(end),
                None => Frame::End,
            };
        };
        match self.next {
            Next::Head => {
                self.next = Next::Data { at: range.first };
                Frame::Data(head.clone())
            }
            Next::Data { at } => {
                let n = (range.last + 1 - at).min(READ_STEP) as usize;
                let mut buf = vec![0u8; n];
                if self.file.read_exact_at(&mut buf, at).is_err() {
                    // The file shrank or failed under us: the promised length cannot
                    // be sent; end short and leave it to the server's framing check.
                    log::warn!("ServeDir: file read failed inside a multipart range body");
                    self.parts.clear();
                    self.end = None;
                    return Frame::End;
                }
                let at = at + n as u64;
                if at > range.last {
                    self.index += 1;
                    self.next = Next::Head;
                } else {
                    self.next = Next::Data { at };
                }
                Frame::Data(Bytes::from(buf))
            }
        }
    }

    fn size_hint(&self) -> Option<u64> {
        Some(self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::StreamWaker;

    fn temp_file(data: &[u8]) -> File {
        let dir = std::env::temp_dir().join(format!("flare-web-multipart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(format!("{:p}", data));
        std::fs::write(&p, data).unwrap();
        let f = File::open(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        f
    }

    fn collect(body: Body) -> (Vec<u8>, Option<u64>) {
        match body {
            Body::Bytes(b) => (b.to_vec(), Some(b.len() as u64)),
            Body::Stream(mut s) => {
                let hint = s.size_hint();
                let waker = StreamWaker::noop();
                let mut out = Vec::new();
                for _ in 0..10_000 {
                    match s.poll_frame(&mut StreamContext::new(&waker)) {
                        Frame::Data(d) => out.extend_from_slice(&d),
                        Frame::End => return (out, hint),
                        other => panic!("unexpected {other:?}"),
                    }
                }
                panic!("stream did not end");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn in_memory_and_streamed_bodies_are_identical() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let ranges = [
            ByteRange { first: 0, last: 9 },
            ByteRange {
                first: 100_000,
                last: 250_000,
            },
            ByteRange {
                first: 299_990,
                last: 299_999,
            },
        ];
        let b = "BOUNDARY";
        let (mem, mem_hint) = collect(
            body(
                temp_file(&data),
                &ranges,
                "text/plain",
                300_000,
                b,
                u64::MAX,
            )
            .unwrap(),
        );
        let (streamed, hint) =
            collect(body(temp_file(&data), &ranges, "text/plain", 300_000, b, 0).unwrap());
        assert_eq!(mem, streamed);
        assert_eq!(hint, Some(streamed.len() as u64));
        assert_eq!(mem_hint, hint);
        let text = String::from_utf8_lossy(&mem[..120]).into_owned();
        assert!(text.starts_with(
            "--BOUNDARY\r\ncontent-type: text/plain\r\ncontent-range: bytes 0-9/300000\r\n\r\n"
        ));
        assert!(mem.ends_with(b"\r\n--BOUNDARY--\r\n"));
        // Each part's bytes are the file's bytes at that range.
        let second_head = b"content-range: bytes 100000-250000/300000\r\n\r\n";
        let at = mem
            .windows(second_head.len())
            .position(|w| w == second_head)
            .unwrap()
            + second_head.len();
        assert_eq!(&mem[at..at + 150_001], &data[100_000..=250_000]);
    }

    #[test]
    fn boundaries_differ() {
        let a = boundary();
        assert_eq!(a.len(), 32);
        assert_ne!(a, boundary());
    }
}
