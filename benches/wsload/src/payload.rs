//! The messages sent: deterministic, ASCII (valid UTF-8 for text frames)
//! and about as compressible as a JSON feed, so the deflate shape does real
//! work.

/// `size` bytes of JSON-looking lines (`{"id":7,"user":"user-7",...}`).
pub fn message(size: usize, _text: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 96);
    let mut i: u64 = 0;
    while out.len() < size {
        let line = format!(
            "{{\"id\":{i},\"user\":\"user-{}\",\"status\":\"{}\",\"score\":{}}}\n",
            i * 7919 % 10007,
            ["active", "idle", "away"][(i % 3) as usize],
            i * 31 % 1000
        );
        out.extend_from_slice(line.as_bytes());
        i += 1;
    }
    out.truncate(size);
    out
}

/// Every byte value, for the binary integrity check.
pub fn all_bytes(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 256) as u8).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_and_utf8() {
        for n in [20, 1024, 16384] {
            let m = super::message(n, true);
            assert_eq!(m.len(), n);
            assert!(std::str::from_utf8(&m).is_ok());
        }
        assert_eq!(super::all_bytes(300)[256], 0);
    }
}
