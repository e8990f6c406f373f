//! A response encoded once at start-up and copied for every request.

use flare_h1::{finish_head, write_header, write_response_head, ResponseBody, ResponseHead};

/// One response pre-encoded for [`HttpServer::serve_static`](super::HttpServer::serve_static):
/// every request gets it, with a fresh `Date`, without a request object being built.
/// The request head is still parsed strictly (bad requests get their error status) and
/// request bodies are read and dropped.
#[derive(Clone, Debug)]
pub struct StaticResponse {
    /// Head up to and including `date: ` for keep-alive, `Connection: close` and
    /// HTTP/1.0 keep-alive answers.
    prefix_keep: Vec<u8>,
    prefix_close: Vec<u8>,
    prefix_keep_10: Vec<u8>,
    body: Vec<u8>,
    status: u16,
    content_type: http::HeaderValue,
    body_bytes: bytes::Bytes,
    extra: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl StaticResponse {
    /// A response with this status, content type and body; `Server: flare`.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> StaticResponse {
        Self::with_headers(status, content_type, body, &[])
    }

    /// Like [`new`](Self::new) with extra header fields.
    pub fn with_headers(
        status: u16,
        content_type: &str,
        body: impl Into<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> StaticResponse {
        let body = body.into();
        let build = |close: bool, keep_10: bool| {
            let mut out = Vec::new();
            let mut head = ResponseHead::new(status);
            head.server = Some(b"flare");
            head.content_type = Some(content_type.as_bytes());
            head.body = ResponseBody::Length(body.len() as u64);
            head.close = close;
            head.keep_alive_10 = keep_10;
            write_response_head(&mut out, &head);
            for (n, v) in headers {
                write_header(&mut out, n.as_bytes(), v.as_bytes());
            }
            out.extend_from_slice(b"date: ");
            out
        };
        let content_type = http::HeaderValue::from_str(content_type)
            .unwrap_or(http::HeaderValue::from_static("application/octet-stream"));
        StaticResponse {
            prefix_keep: build(false, false),
            prefix_close: build(true, false),
            prefix_keep_10: build(false, true),
            body_bytes: bytes::Bytes::from(body.clone()),
            body,
            status,
            content_type,
            extra: headers
                .iter()
                .filter_map(|(n, v)| {
                    Some((
                        http::HeaderName::from_bytes(n.as_bytes()).ok()?,
                        http::HeaderValue::from_str(v).ok()?,
                    ))
                })
                .collect(),
        }
    }

    /// The same response as a [`Response`](flare_web::Response), for HTTP/2 (the
    /// body is shared, not copied).
    pub(crate) fn to_response(&self) -> flare_web::Response {
        let status = http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::OK);
        let mut r = flare_web::Response::new(status)
            .with_content_type(self.content_type.clone())
            .with_body(self.body_bytes.clone());
        for (n, v) in &self.extra {
            r.insert_header(n.clone(), v.clone());
        }
        r
    }

    /// Appends the response to `out`.
    pub(crate) fn write(
        &self,
        out: &mut Vec<u8>,
        date: &[u8],
        close: bool,
        keep_10: bool,
        head_only: bool,
    ) {
        let prefix = if close {
            &self.prefix_close
        } else if keep_10 {
            &self.prefix_keep_10
        } else {
            &self.prefix_keep
        };
        out.extend_from_slice(prefix);
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\n");
        finish_head(out);
        if !head_only {
            out.extend_from_slice(&self.body);
        }
    }
}
