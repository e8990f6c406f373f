//! Media types by file extension.

/// The media type for a file name's extension (case-insensitive), or
/// `application/octet-stream` when the extension is unknown. Text types carry
/// `charset=utf-8`.
pub fn from_path(name: &str) -> &'static str {
    let ext = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.contains('/') => ext,
        _ => return OCTET_STREAM,
    };
    if ext.len() > 16 {
        return OCTET_STREAM;
    }
    let mut lower = [0u8; 16];
    for (d, s) in lower.iter_mut().zip(ext.bytes()) {
        *d = s.to_ascii_lowercase();
    }
    let ext = &lower[..ext.len()];
    TABLE
        .iter()
        .find(|(e, _)| e.as_bytes() == ext)
        .map_or(OCTET_STREAM, |(_, t)| t)
}

const OCTET_STREAM: &str = "application/octet-stream";

const TABLE: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("webmanifest", "application/manifest+json"),
    ("txt", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("xml", "application/xml"),
    ("rss", "application/rss+xml"),
    ("atom", "application/atom+xml"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("ico", "image/x-icon"),
    ("bmp", "image/bmp"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("wasm", "application/wasm"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tgz", "application/gzip"),
    ("zst", "application/zstd"),
    ("tar", "application/x-tar"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("mov", "video/quicktime"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_unknown_and_odd_names() {
        assert_eq!(from_path("index.html"), "text/html; charset=utf-8");
        assert_eq!(from_path("a/b/STYLE.CSS"), "text/css; charset=utf-8");
        assert_eq!(from_path("app.wasm"), "application/wasm");
        assert_eq!(from_path("site.webmanifest"), "application/manifest+json");
        assert_eq!(from_path("x.tar.gz"), "application/gzip");
        assert_eq!(from_path("noext"), OCTET_STREAM);
        assert_eq!(from_path(".hidden"), OCTET_STREAM);
        assert_eq!(from_path("dir.d/file"), OCTET_STREAM);
        assert_eq!(from_path("x.averyveryverylongextension"), OCTET_STREAM);
        assert_eq!(from_path("x."), OCTET_STREAM);
        assert_eq!(from_path("photo.JPeG"), "image/jpeg");
    }
}
