//! [`Compress`]: gzip and deflate response bodies, negotiated by `Accept-Encoding`.

use std::os::unix::fs::FileExt;

use bytes::Bytes;
use http::header::{ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_RANGE, ETAG, VARY};
use http::{HeaderValue, StatusCode};

use super::Layer;
use crate::body::Body;
use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;

/// A content coding [`Compress`] can apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// `gzip` (RFC 1952).
    Gzip,
    /// `deflate`: the zlib format (RFC 1950), which is what HTTP's `deflate` means.
    Deflate,
}

impl Encoding {
    /// The coding's name in `Content-Encoding`.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }
}

/// Compresses response bodies with gzip or deflate when the client asks for it.
///
/// The coding is chosen by the `Accept-Encoding` q-values (RFC 9110 section 12.5.3;
/// `x-gzip` counts as `gzip`, `*` covers codings not named, `q=0` refuses; a tie
/// prefers gzip). A response is compressed only when all of these hold:
///
/// - status 2xx other than `204` and `206` (a range of a compressed representation is
///   not a range of the file), and no `Content-Range`;
/// - no `Content-Encoding` already, and no `Cache-Control: no-transform`;
/// - the media type is compressible (text, JSON, JavaScript, XML, SVG, WASM; see
///   [`content_types`](Self::content_types)); images, video and archives are not;
/// - the body is at least [`min_size`](Self::min_size) bytes;
/// - the body is bytes, or a [`Body::File`] of at most
///   [`max_file_size`](Self::max_file_size) bytes, which is read into memory and
///   compressed on the worker thread. Larger files keep going out with `sendfile`;
///   [`Body::Stream`] bodies (server-sent events, large downloads) are never touched.
///
/// Every response that could be compressed gets `Vary: Accept-Encoding`, whether this
/// client got it compressed or not, so shared caches keep the variants apart. A
/// compressed response loses `Accept-Ranges` and a strong `ETag` becomes weak (the
/// compressed bytes differ, but the representation is the same, as nginx does it);
/// If-None-Match compares weakly, so revalidation still works. When compression
/// does not shrink the body, the identity body is sent.
#[derive(Clone, Copy, Debug)]
pub struct Compress {
    level: u8,
    min_size: u64,
    max_file_size: u64,
    gzip: bool,
    deflate: bool,
    content_types: fn(&str) -> bool,
}

impl Default for Compress {
    fn default() -> Self {
        Compress {
            level: 6,
            min_size: 1024,
            max_file_size: 1024 * 1024,
            gzip: true,
            deflate: true,
            content_types: is_compressible,
        }
    }
}

impl Compress {
    /// The layer with the defaults below.
    pub fn new() -> Self {
        Self::default()
    }
    /// The compression level, 0 (store) to 10 (slowest); larger values are 10.
    /// Default: 6, zlib's default trade of speed for size.
    pub fn level(mut self, level: u8) -> Self {
        self.level = level.min(10);
        self
    }
    /// Bodies smaller than this are sent as they are: the gzip framing (18 bytes) and
    /// the CPU cost outweigh the gain. Default: 1024 bytes.
    pub fn min_size(mut self, bytes: u64) -> Self {
        self.min_size = bytes;
        self
    }
    /// The largest [`Body::File`] that is read into memory to be compressed. Default:
    /// 1 MiB; bounds the memory and worker time one response can take. `0` never
    /// compresses files.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }
    /// Offer gzip. Default: on.
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }
    /// Offer deflate. Default: on.
    pub fn deflate(mut self, on: bool) -> Self {
        self.deflate = on;
        self
    }
    /// Which media types (the `Content-Type` value, parameters included) are worth
    /// compressing. Default: text, JSON, JavaScript, XML, SVG and WASM types.
    pub fn content_types(mut self, f: fn(&str) -> bool) -> Self {
        self.content_types = f;
        self
    }

    /// The coding to use for a request's `Accept-Encoding` field values, if any.
    pub fn negotiate<'a>(
        &self,
        accept_encoding: impl Iterator<Item = &'a [u8]>,
    ) -> Option<Encoding> {
        let (mut gzip, mut deflate, mut star) = (None, None, None);
        for value in accept_encoding {
            let Ok(value) = std::str::from_utf8(value) else {
                continue;
            };
            for item in value.split(',') {
                let mut parts = item.split(';');
                let coding = parts.next().unwrap_or("").trim();
                let mut q = Some(1000);
                for p in parts {
                    if let Some((k, v)) = p.split_once('=') {
                        if k.trim().eq_ignore_ascii_case("q") {
                            q = qvalue(v.trim());
                        }
                    }
                }
                let Some(q) = q else { continue };
                let slot = if coding.eq_ignore_ascii_case("gzip")
                    || coding.eq_ignore_ascii_case("x-gzip")
                {
                    &mut gzip
                } else if coding.eq_ignore_ascii_case("deflate") {
                    &mut deflate
                } else if coding == "*" {
                    &mut star
                } else {
                    continue;
                };
                // The most preferred of repeated entries counts.
                *slot = Some(slot.map_or(q, |old: u16| old.max(q)));
            }
        }
        let gzip_q = if self.gzip {
            gzip.or(star).unwrap_or(0)
        } else {
            0
        };
        let deflate_q = if self.deflate {
            deflate.or(star).unwrap_or(0)
        } else {
            0
        };
        match (gzip_q, deflate_q) {
            (0, 0) => None,
            (g, d) if g >= d => Some(Encoding::Gzip),
            _ => Some(Encoding::Deflate),
        }
    }

    /// Whether the response could be compressed for some client.
    fn eligible(&self, resp: &Response) -> bool {
        let status = resp.status();
        if !status.is_success()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::PARTIAL_CONTENT
            || resp.header(CONTENT_ENCODING.as_str()).is_some()
            || resp.header(CONTENT_RANGE.as_str()).is_some()
        {
            return false;
        }
        if resp
            .headers()
            .iter()
            .filter(|(n, _)| n == CACHE_CONTROL)
            .any(|(_, v)| has_token(v.as_bytes(), "no-transform"))
        {
            return false;
        }
        match resp.content_type().and_then(|v| v.to_str().ok()) {
            Some(ct) if (self.content_types)(ct) => {}
            _ => return false,
        }
        match resp.body() {
            Body::Stream(_) => false,
            Body::File(f) => f.len >= self.min_size && f.len <= self.max_file_size,
            b => b.len_hint().is_some_and(|n| n >= self.min_size),
        }
    }

    fn compress(&self, enc: Encoding, data: &[u8]) -> Vec<u8> {
        match enc {
            Encoding::Gzip => gzip(data, self.level),
            Encoding::Deflate => miniz_oxide::deflate::compress_to_vec_zlib(data, self.level),
        }
    }
}

/// The handler [`Compress`] makes.
#[derive(Debug)]
pub struct CompressHandler<H> {
    inner: H,
    cfg: Compress,
}

impl<H: Handler> Layer<H> for Compress {
    type Handler = CompressHandler<H>;
    fn layer(&self, inner: H) -> Self::Handler {
        CompressHandler { inner, cfg: *self }
    }
}

impl<H: Handler> Handler for CompressHandler<H> {
    fn handle(&self, req: &mut Request) -> Response {
        let mut resp = self.inner.handle(req);
        if !self.cfg.eligible(&resp) {
            return resp;
        }
        add_vary_accept_encoding(&mut resp);
        let Some(enc) = self.cfg.negotiate(req.header_all("accept-encoding")) else {
            return resp;
        };
        let compressed = match resp.body() {
            Body::File(f) => {
                // Bounded by max_file_size in `eligible`.
                let mut buf = vec![0u8; f.len as usize];
                if f.file.read_exact_at(&mut buf, f.offset).is_err() {
                    return resp;
                }
                self.cfg.compress(enc, &buf)
            }
            body => match body.as_slice() {
                Some(data) => self.cfg.compress(enc, data),
                None => return resp,
            },
        };
        // Not worth it (already compressed data under a text type): send identity.
        if resp
            .body()
            .len_hint()
            .is_some_and(|n| compressed.len() as u64 >= n)
        {
            return resp;
        }
        resp.insert_header(CONTENT_ENCODING, HeaderValue::from_static(enc.as_str()));
        resp.remove_header(&ACCEPT_RANGES);
        weaken_etag(&mut resp);
        *resp.body_mut() = Body::Bytes(Bytes::from(compressed));
        resp
    }

    fn body_limit(&self, req: &Request) -> Option<u64> {
        self.inner.body_limit(req)
    }
}

/// The default [`Compress::content_types`] filter (allocation-free; it runs on every
/// eligible response).
pub fn is_compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let starts = |p: &str| {
        essence
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
    };
    let ends = |p: &str| {
        essence
            .len()
            .checked_sub(p.len())
            .and_then(|at| essence.get(at..))
            .is_some_and(|t| t.eq_ignore_ascii_case(p))
    };
    starts("text/")
        || ends("+json")
        || ends("+xml")
        || [
            "application/json",
            "application/javascript",
            "application/x-javascript",
            "application/xml",
            "application/wasm",
            "application/x-ndjson",
        ]
        .iter()
        .any(|t| essence.eq_ignore_ascii_case(t))
}

/// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
fn qvalue(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Whether a comma-separated header value contains `token` (case-insensitive).
fn has_token(value: &[u8], token: &str) -> bool {
    value.split(|&b| b == b',').any(|t| {
        let t = t.trim_ascii();
        let name = t.split(|&b| b == b'=').next().unwrap_or(t).trim_ascii();
        name.eq_ignore_ascii_case(token.as_bytes())
    })
}

fn add_vary_accept_encoding(resp: &mut Response) {
    let covered = resp
        .headers()
        .iter()
        .filter(|(n, _)| n == VARY)
        .any(|(_, v)| has_token(v.as_bytes(), "accept-encoding") || has_token(v.as_bytes(), "*"));
    if !covered {
        resp.insert_header(VARY, HeaderValue::from_static("accept-encoding"));
    }
}

fn weaken_etag(resp: &mut Response) {
    let Some(tag) = resp.header(ETAG.as_str()) else {
        return;
    };
    if tag.as_bytes().starts_with(b"W/") {
        return;
    }
    let mut weak = b"W/".to_vec();
    weak.extend_from_slice(tag.as_bytes());
    if let Ok(v) = HeaderValue::from_bytes(&weak) {
        resp.remove_header(&ETAG);
        resp.insert_header(ETAG, v);
    }
}

/// A gzip member (RFC 1952): a fixed header (no name, no mtime, OS unknown), raw
/// deflate data, CRC-32 and the input size mod 2^32.
fn gzip(data: &[u8], level: u8) -> Vec<u8> {
    let deflated = miniz_oxide::deflate::compress_to_vec(data, level);
    let mut out = Vec::with_capacity(deflated.len() + 18);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// CRC-32 (ISO-HDLC, as gzip uses it).
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC_TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests;
