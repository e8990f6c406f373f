//! Static files: [`ServeDir`] serves a directory tree for GET and HEAD.
//!
//! ```no_run
//! use flare_web::fs::ServeDir;
//! use flare_web::{Handler, Request};
//! let files = ServeDir::new("./public").prefix("/static");
//! let mut req = Request::builder().uri("/static/index.html").build();
//! let resp = files.handle(&mut req);
//! ```
//!
//! What it does, and why:
//!
//! - The file path comes from the router's catch-all parameter `path` when there is
//!   one (`/static/{*path}`; see [`path_param`](ServeDir::path_param)), else from the
//!   request path minus [`prefix`](ServeDir::prefix).
//! - The request path is percent-decoded (a router parameter already is), then
//!   split; a `..` segment (raw or `%2e%2e`), a NUL or a malformed escape is a `400`; hidden segments (`.git`) are a `404` unless
//!   [`serve_hidden`](ServeDir::serve_hidden). The file's canonical path must stay
//!   under the canonical root, so a symlink out of the root is a `404` unless
//!   [`allow_symlinks_outside`](ServeDir::allow_symlinks_outside).
//! - Only regular files are served (a FIFO or device is a `404`: opening a FIFO would
//!   block the worker). A directory is served through its index file; a directory
//!   path without a trailing `/` gets a `301` to the same path with one, so relative
//!   links in the index resolve.
//! - Validators: a strong `ETag` of the size and the modification time in
//!   nanoseconds (`"<size hex>-<mtime hex>"`, as nginx does it), and `Last-Modified`
//!   in IMF-fixdate. `If-Match`, `If-Unmodified-Since`, `If-None-Match` and
//!   `If-Modified-Since` are evaluated in RFC 9110's order (`304`, `412`).
//! - Ranges (GET only): one range is a `206` sent from the file with `sendfile`;
//!   several are a `206 multipart/byteranges` (in memory up to
//!   [`multipart_buffer`](ServeDir::multipart_buffer), else streamed from the file);
//!   none satisfiable is a `416` with `Content-Range: bytes */len`. `If-Range` is
//!   honoured. More than [`max_ranges`](ServeDir::max_ranges) ranges, or overlapping
//!   ones, are ignored and the whole file is sent.
//! - Bodies are [`Body::File`]: the server sends them with `sendfile(2)`, never
//!   reading the file into memory.
//!
//! Known limit: the symlink check and the open are two steps, so someone who can
//! write inside the root can race a symlink in between; do not serve a tree that
//! untrusted users can write to.

pub(crate) mod http_date;
mod mime;
mod multipart;
mod path;
pub(crate) mod precondition;
mod range;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::UNIX_EPOCH;

use http::header::{
    ACCEPT_RANGES, ALLOW, CACHE_CONTROL, CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED, LOCATION,
};
use http::{HeaderValue, Method, StatusCode};

use crate::body::{Body, FileBody};
use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;

pub use mime::from_path as mime_type;
pub use path::PathError;

use precondition::Precondition;
use range::RangeRequest;

/// Serves files under a root directory. See the [module docs](self).
#[derive(Debug)]
pub struct ServeDir {
    root: PathBuf,
    canonical_root: OnceLock<PathBuf>,
    prefix: String,
    param: String,
    index: Option<String>,
    serve_hidden: bool,
    symlinks_outside: bool,
    max_ranges: usize,
    multipart_buffer: u64,
    cache_control: Option<HeaderValue>,
}

impl ServeDir {
    /// Serves the tree under `root`. The root is resolved (canonicalized) on the first
    /// request, so it may be created after the server starts; until it exists every
    /// request is a `404`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ServeDir {
            root: root.into(),
            canonical_root: OnceLock::new(),
            prefix: String::new(),
            param: "path".to_owned(),
            index: Some("index.html".to_owned()),
            serve_hidden: false,
            symlinks_outside: false,
            max_ranges: 16,
            multipart_buffer: 64 * 1024,
            cache_control: None,
        }
    }

    /// The URL path the tree is mounted at (`"/static"`; a trailing `/` is ignored).
    /// Requests outside it are a `404`. Default: `""`, the whole path space. Not used
    /// when the router captured a `path` parameter.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// The router parameter that holds the file path, for a mount like
    /// `/static/{*path}`. Default: `path`. Routers percent-decode parameters, so its
    /// value is not decoded again (a file named `100%.txt` is reachable, and
    /// `%252e%252e` stays a literal name); the traversal checks still apply.
    pub fn path_param(mut self, name: &str) -> Self {
        self.param = name.to_owned();
        self
    }

    /// The file served for a directory, or `None` to answer `404` for directories.
    /// Default: `index.html`.
    pub fn index_file(mut self, name: Option<&str>) -> Self {
        self.index = name.map(str::to_owned);
        self
    }

    /// Serve path segments starting with `.`. Default: `false`, so a checked-out
    /// `.git` or a `.env` under the root is not published by accident.
    pub fn serve_hidden(mut self, yes: bool) -> Self {
        self.serve_hidden = yes;
        self
    }

    /// Follow symlinks that lead outside the root. Default: `false` (such a path is a
    /// `404`), so a link planted in the tree cannot publish `/etc`.
    pub fn allow_symlinks_outside(mut self, yes: bool) -> Self {
        self.symlinks_outside = yes;
        self
    }

    /// The most ranges one request may ask for; a request with more gets the whole
    /// file. Default: 16. Bounds the work and the response size a single request can
    /// cause with many tiny ranges.
    pub fn max_ranges(mut self, n: usize) -> Self {
        self.max_ranges = n.max(1);
        self
    }

    /// A multi-range body up to this many bytes is built in memory; a larger one is
    /// streamed from the file as the connection drains it. Default: 64 KiB.
    pub fn multipart_buffer(mut self, bytes: u64) -> Self {
        self.multipart_buffer = bytes;
        self
    }

    /// A `Cache-Control` value for every file response (also on `304`). Default: none.
    pub fn cache_control(mut self, value: HeaderValue) -> Self {
        self.cache_control = Some(value);
        self
    }

    fn root(&self) -> Option<&Path> {
        if let Some(r) = self.canonical_root.get() {
            return Some(r);
        }
        let r = std::fs::canonicalize(&self.root).ok()?;
        Some(self.canonical_root.get_or_init(|| r))
    }

    /// The relative file path the request names, or `None` when the request is
    /// outside the mount.
    fn file_path(&self, req: &Request) -> Option<Result<PathBuf, PathError>> {
        if let Some(p) = req.param(&self.param) {
            // The router has percent-decoded it already.
            return Some(path::decoded_relative_path(p, self.serve_hidden));
        }
        let rest = req.path().strip_prefix(self.prefix.as_str())?;
        (rest.is_empty() || rest.starts_with('/'))
            .then(|| path::relative_path(rest, self.serve_hidden))
    }

    /// Resolves a relative path to a canonical path under the root (or anywhere, when
    /// symlinks outside are allowed).
    fn resolve(&self, root: &Path, rel: &Path) -> Option<PathBuf> {
        let canonical = std::fs::canonicalize(root.join(rel)).ok()?;
        (self.symlinks_outside || canonical.starts_with(root)).then_some(canonical)
    }

    fn serve(&self, req: &Request) -> Response {
        let Some(rel) = self.file_path(req) else {
            return not_found();
        };
        let rel = match rel {
            Ok(rel) => rel,
            Err(PathError::Hidden) => return not_found(),
            Err(_) => return Response::error(StatusCode::BAD_REQUEST, "bad path"),
        };
        let Some(root) = self.root() else {
            return not_found();
        };
        let Some(mut target) = self.resolve(root, &rel) else {
            return not_found();
        };
        // The media type follows the name asked for, not where a symlink leads.
        let mut type_name = rel.clone();
        let Ok(mut meta) = std::fs::metadata(&target) else {
            return not_found();
        };
        if meta.is_dir() {
            if !req.path().ends_with('/') {
                return redirect_to_dir(req);
            }
            let Some(index) = &self.index else {
                return not_found();
            };
            type_name = rel.join(index);
            match self.resolve(root, &type_name) {
                Some(t) => target = t,
                None => return not_found(),
            }
            meta = match std::fs::metadata(&target) {
                Ok(m) => m,
                Err(_) => return not_found(),
            };
        }
        if !meta.is_file() {
            return not_found();
        }
        let Ok(file) = File::open(&target) else {
            return not_found();
        };
        // Describe what was opened, not what was looked at before.
        let Ok(meta) = file.metadata() else {
            return not_found();
        };
        if !meta.is_file() {
            return not_found();
        }
        let name = type_name.file_name().and_then(|n| n.to_str()).unwrap_or("");
        self.file_response(req, file, &meta, mime_type(name))
    }

    fn file_response(
        &self,
        req: &Request,
        file: File,
        meta: &std::fs::Metadata,
        content_type: &'static str,
    ) -> Response {
        let len = meta.len();
        let mtime = meta.modified().ok();
        let nanos = mtime
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let etag = format!("\"{len:x}-{nanos:x}\"");
        let last_modified = mtime.map(http_date::unix_secs);

        let validators = |mut r: Response| {
            if let Ok(v) = HeaderValue::from_str(&etag) {
                r.insert_header(ETAG, v);
            }
            if let Some(lm) = last_modified {
                if let Ok(v) = HeaderValue::from_str(&http_date::format(lm)) {
                    r.insert_header(LAST_MODIFIED, v);
                }
            }
            if let Some(cc) = &self.cache_control {
                r.insert_header(CACHE_CONTROL, cc.clone());
            }
            r
        };

        match precondition::evaluate(req, Some(&etag), last_modified) {
            Precondition::Proceed => {}
            Precondition::NotModified => {
                return validators(Response::new(StatusCode::NOT_MODIFIED))
            }
            Precondition::Failed => {
                return Response::error(StatusCode::PRECONDITION_FAILED, "precondition failed")
            }
        }

        let ranges = match req.header("range") {
            // RFC 9110 section 14.2: GET is the only method with range handling.
            Some(h) if *req.method() == Method::GET => {
                let if_range_ok = req.header("if-range").map_or(true, |v| {
                    precondition::if_range_holds(v, Some(&etag), last_modified)
                });
                if if_range_ok {
                    range::parse(h, len, self.max_ranges)
                } else {
                    RangeRequest::Full
                }
            }
            _ => RangeRequest::Full,
        };

        let ct = HeaderValue::from_static(content_type);
        let bytes_unit = HeaderValue::from_static("bytes");
        match ranges {
            RangeRequest::Full => validators(
                Response::new(StatusCode::OK)
                    .with_content_type(ct)
                    .with_header(ACCEPT_RANGES, bytes_unit)
                    .with_body(Body::File(FileBody {
                        file,
                        offset: 0,
                        len,
                    })),
            ),
            RangeRequest::Unsatisfiable => {
                let mut r =
                    Response::error(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable")
                        .with_header(ACCEPT_RANGES, bytes_unit);
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    r.insert_header(CONTENT_RANGE, v);
                }
                r
            }
            RangeRequest::Ranges(ranges) => {
                let mut r = Response::new(StatusCode::PARTIAL_CONTENT)
                    .with_header(ACCEPT_RANGES, bytes_unit);
                if let [one] = ranges.as_slice() {
                    if let Ok(v) =
                        HeaderValue::from_str(&format!("bytes {}-{}/{len}", one.first, one.last))
                    {
                        r.insert_header(CONTENT_RANGE, v);
                    }
                    r = r.with_content_type(ct).with_body(Body::File(FileBody {
                        file,
                        offset: one.first,
                        len: one.len(),
                    }));
                } else {
                    let boundary = multipart::boundary();
                    let body = match multipart::body(
                        file,
                        &ranges,
                        content_type,
                        len,
                        &boundary,
                        self.multipart_buffer,
                    ) {
                        Ok(b) => b,
                        Err(_) => {
                            return Response::error(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                "file read failed",
                            )
                        }
                    };
                    if let Ok(v) =
                        HeaderValue::from_str(&format!("multipart/byteranges; boundary={boundary}"))
                    {
                        r.insert_header(CONTENT_TYPE, v);
                    }
                    r = r.with_body(body);
                }
                validators(r)
            }
        }
    }
}

impl Handler for ServeDir {
    fn handle(&self, req: &mut Request) -> Response {
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return Response::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
                .with_header(ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        self.serve(req)
    }
}

fn not_found() -> Response {
    Response::error(StatusCode::NOT_FOUND, "not found")
}

/// `301` to the directory's path with a trailing `/`. The `Location` is relative
/// (`./name/`) so a request path starting with `//` cannot turn it into a redirect to
/// another host, and a segment with a `:` cannot pass for a scheme.
fn redirect_to_dir(req: &Request) -> Response {
    let last = req.path().rsplit('/').next().unwrap_or("");
    let loc = match req.query() {
        Some(q) => format!("./{last}/?{q}"),
        None => format!("./{last}/"),
    };
    match HeaderValue::from_str(&loc) {
        Ok(v) => Response::error(StatusCode::MOVED_PERMANENTLY, "moved permanently")
            .with_header(LOCATION, v),
        Err(_) => not_found(),
    }
}

#[cfg(test)]
mod tests;
