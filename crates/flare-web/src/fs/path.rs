//! Turning a request path into a relative file path, rejecting traversal.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Why a request path does not name a file under the root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathError {
    /// A `%` not followed by two hex digits.
    BadEncoding,
    /// A NUL byte, raw or encoded: no file name holds one.
    Nul,
    /// A `..` segment, raw or encoded (`%2e%2e`): rejected rather than resolved, so
    /// no spelling of the path can climb out of the root.
    Traversal,
    /// A segment starting with `.` (`.git`, `.env`) while hidden files are not served.
    Hidden,
}

/// Percent-decodes `raw` (a request path after the mount prefix) and checks each
/// segment. Decoding happens before splitting, so an encoded `/` (`%2f`) separates
/// segments like a raw one and cannot hide a `..`. Empty and `.` segments are dropped.
pub fn relative_path(raw: &str, serve_hidden: bool) -> Result<PathBuf, PathError> {
    let decoded = percent_decode(raw.as_bytes())?;
    check_segments(&decoded, serve_hidden)
}

/// [`relative_path`] for a value that is already percent-decoded (a router
/// parameter): it is not decoded again, so a file name with `%` in it is found and
/// `%252e%252e` stays a harmless literal.
pub fn decoded_relative_path(decoded: &str, serve_hidden: bool) -> Result<PathBuf, PathError> {
    check_segments(decoded.as_bytes(), serve_hidden)
}

fn check_segments(decoded: &[u8], serve_hidden: bool) -> Result<PathBuf, PathError> {
    let mut out = PathBuf::new();
    for seg in decoded.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => continue,
            b".." => return Err(PathError::Traversal),
            _ if seg.contains(&0) => return Err(PathError::Nul),
            [b'.', ..] if !serve_hidden => return Err(PathError::Hidden),
            _ => out.push(OsStr::from_bytes(seg)),
        }
    }
    Ok(out)
}

fn percent_decode(raw: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let hi = raw.get(i + 1).and_then(|&c| hex(c));
            let lo = raw.get(i + 2).and_then(|&c| hex(c));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(PathError::BadEncoding),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_paths() {
        let ok: &[(&str, &str)] = &[
            ("", ""),
            ("/", ""),
            ("a.txt", "a.txt"),
            ("/a/b/c.txt", "a/b/c.txt"),
            ("//a///b/./c.txt", "a/b/c.txt"),
            ("/a%20b.txt", "a b.txt"),
            ("/a%2fb.txt", "a/b.txt"),
            ("/caf%C3%A9", "café"),
            ("/a..b", "a..b"),
            ("/x...", "x..."),
        ];
        for (raw, want) in ok {
            assert_eq!(
                relative_path(raw, false),
                Ok(PathBuf::from(want)),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn rejected_paths() {
        use PathError::*;
        let bad: &[(&str, PathError)] = &[
            ("/../etc/passwd", Traversal),
            ("/a/../../b", Traversal),
            ("/a/..", Traversal),
            ("/%2e%2e/etc/passwd", Traversal),
            ("/%2E%2e%2Fetc", Traversal),
            ("/.%2e/x", Traversal),
            ("/a%2f..%2fb", Traversal),
            ("/a%00.txt", Nul),
            ("/a\0b", Nul),
            ("/%zz", BadEncoding),
            ("/%2", BadEncoding),
            ("/abc%", BadEncoding),
            ("/.git/config", Hidden),
            ("/a/%2eenv", Hidden),
        ];
        for (raw, want) in bad {
            assert_eq!(relative_path(raw, false), Err(*want), "{raw:?}");
        }
        assert_eq!(
            relative_path("/.well-known/x", true),
            Ok(PathBuf::from(".well-known/x"))
        );
        assert_eq!(relative_path("/../x", true), Err(Traversal));
        assert_eq!(relative_path("/...", true), Ok(PathBuf::from("...")));
    }

    #[test]
    fn decoded_values_are_not_decoded_again() {
        assert_eq!(
            decoded_relative_path("a/100%.txt", false),
            Ok(PathBuf::from("a/100%.txt"))
        );
        assert_eq!(
            decoded_relative_path("%2e%2e/x", false),
            Ok(PathBuf::from("%2e%2e/x"))
        );
        assert_eq!(
            decoded_relative_path("a/../b", false),
            Err(PathError::Traversal)
        );
        assert_eq!(
            decoded_relative_path("nul\u{0}", false),
            Err(PathError::Nul)
        );
        assert_eq!(
            decoded_relative_path("a\\b", false),
            Ok(PathBuf::from("a\\b"))
        );
        assert_eq!(decoded_relative_path(".env", false), Err(PathError::Hidden));
    }
}
