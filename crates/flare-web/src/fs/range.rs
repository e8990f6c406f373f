//! The `Range` request header for byte ranges (RFC 9110 section 14).

/// One satisfiable byte range, both ends inclusive, clipped to the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    /// The first byte.
    pub first: u64,
    /// The last byte (inclusive).
    pub last: u64,
}

impl ByteRange {
    /// How many bytes the range covers.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }
}

/// What a `Range` header asks of a representation of a given length.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// Send the whole representation: the header is absent, not in bytes, malformed,
    /// has too many ranges, or has overlapping ones (RFC 9110 section 14.2: a server
    /// MAY ignore the Range header field; ignoring those is the defence against
    /// amplification by many or overlapping ranges).
    Full,
    /// These ranges, in the order asked.
    Ranges(Vec<ByteRange>),
    /// Well-formed but no range overlaps the representation: `416`.
    Unsatisfiable,
}

/// Interprets `header` against a representation of `len` bytes, allowing at most
/// `max_ranges` ranges.
pub fn parse(header: &str, len: u64, max_ranges: usize) -> RangeRequest {
    let Some((unit, set)) = header.trim().split_once('=') else {
        return RangeRequest::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeRequest::Full;
    }
    let mut out = Vec::new();
    let mut asked = 0usize;
    for spec in set.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        asked += 1;
        if asked > max_ranges {
            return RangeRequest::Full;
        }
        let Some((a, b)) = spec.split_once('-') else {
            return RangeRequest::Full;
        };
        let range = match (number(a), number(b)) {
            // first-last
            (Some(first), Some(last)) => {
                if last < first {
                    return RangeRequest::Full;
                }
                (first < len).then(|| ByteRange {
                    first,
                    last: last.min(len - 1),
                })
            }
            // first-
            (Some(first), None) if b.is_empty() => (first < len).then(|| ByteRange {
                first,
                last: len - 1,
            }),
            // -suffix
            (None, Some(suffix)) if a.is_empty() => (suffix > 0 && len > 0).then(|| ByteRange {
                first: len.saturating_sub(suffix),
                last: len - 1,
            }),
            _ => return RangeRequest::Full,
        };
        out.extend(range);
    }
    if asked == 0 {
        return RangeRequest::Full;
    }
    if out.is_empty() {
        return RangeRequest::Unsatisfiable;
    }
    let mut sorted = out.clone();
    sorted.sort_by_key(|r| r.first);
    if sorted.windows(2).any(|w| w[1].first <= w[0].last) {
        return RangeRequest::Full;
    }
    RangeRequest::Ranges(out)
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(first: u64, last: u64) -> ByteRange {
        ByteRange { first, last }
    }

    #[test]
    fn table() {
        use RangeRequest::*;
        let cases: &[(&str, u64, RangeRequest)] = &[
            ("bytes=0-99", 1000, Ranges(vec![r(0, 99)])),
            ("bytes=0-0", 1, Ranges(vec![r(0, 0)])),
            ("bytes=990-2000", 1000, Ranges(vec![r(990, 999)])),
            ("bytes=500-", 1000, Ranges(vec![r(500, 999)])),
            ("bytes=-100", 1000, Ranges(vec![r(900, 999)])),
            ("bytes=-5000", 1000, Ranges(vec![r(0, 999)])),
            ("BYTES = 0-9 , 20-29", 100, Ranges(vec![r(0, 9), r(20, 29)])),
            ("bytes=20-29,0-9", 100, Ranges(vec![r(20, 29), r(0, 9)])),
            ("bytes=0-9,,20-29,", 100, Ranges(vec![r(0, 9), r(20, 29)])),
            ("bytes=0-9,1000-2000", 100, Ranges(vec![r(0, 9)])),
            ("bytes=1000-2000", 100, Unsatisfiable),
            ("bytes=100-", 100, Unsatisfiable),
            ("bytes=-0", 100, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=-1", 0, Unsatisfiable),
            ("bytes=9-0", 100, Full),
            ("bytes=abc", 100, Full),
            ("bytes=1-2-3", 100, Full),
            ("bytes=-", 100, Full),
            ("bytes=+1-2", 100, Full),
            ("bytes=", 100, Full),
            ("bytes=99999999999999999999-", 100, Full),
            ("items=0-9", 100, Full),
            ("0-9", 100, Full),
            ("bytes=0-9,5-15", 100, Full),
            ("bytes=0-,0-", 100, Full),
        ];
        for (h, len, want) in cases {
            assert_eq!(&parse(h, *len, 16), want, "{h:?} len {len}");
        }
    }

    #[test]
    fn more_ranges_than_the_limit_are_ignored() {
        let h = (0..17)
            .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
            .collect::<Vec<_>>()
            .join(",");
        let h = format!("bytes={h}");
        assert_eq!(parse(&h, 1000, 16), RangeRequest::Full);
        assert!(matches!(parse(&h, 1000, 17), RangeRequest::Ranges(v) if v.len() == 17));
    }
}
