//! Building a request: method, URL, query, header fields, body, per-request timeout.

use std::fmt;
use std::time::Duration;

use http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use serde::Serialize;

use super::body::Body;
use super::error::{Error, Result};
use super::response::Response;
use super::url::{form_encode, IntoUrl, Url};
use super::Client;

/// A request being built; [`send`](Self::send) runs it. Made by [`Client::get`] and
/// friends. Errors in the parts (a bad URL, a bad header) surface at `send`.
pub struct RequestBuilder {
    pub(crate) client: Client,
    pub(crate) method: Method,
    pub(crate) url: Result<Url>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    pub(crate) timeout: Option<Duration>,
    pub(crate) error: Option<Error>,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &self.url.as_ref().map(|u| u.to_string()).ok())
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    pub(crate) fn new(client: Client, method: Method, url: impl IntoUrl) -> RequestBuilder {
        RequestBuilder {
            client,
            method,
            url: url.into_url(),
            headers: HeaderMap::new(),
            body: Body::empty(),
            timeout: None,
            error: None,
        }
    }

    fn url_text(&self) -> String {
        self.url.as_ref().map(|u| u.to_string()).unwrap_or_default()
    }

    /// Adds a header field (appended: a name may repeat).
    pub fn header<K, V>(mut self, name: K, value: V) -> RequestBuilder
    where
        HeaderName: TryFrom<K>,
        HeaderValue: TryFrom<V>,
    {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            _ => {
                if self.error.is_none() {
                    self.error = Some(Error::Builder {
                        url: self.url_text(),
                        reason: "invalid header name or value".into(),
                    });
                }
            }
        }
        self
    }

    /// Adds every field of `headers`.
    pub fn headers(mut self, headers: HeaderMap) -> RequestBuilder {
        for (n, v) in &headers {
            self.headers.append(n.clone(), v.clone());
        }
        self
    }

    /// Appends `key=value` pairs to the URL's query, form-encoded.
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> RequestBuilder {
        if let Ok(url) = &mut self.url {
            let pairs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_ref(), v.as_ref()))
                .collect();
            url.append_query(&pairs);
        }
        self
    }

    /// The body: bytes, a `String`, a `Vec<u8>`, or [`Body::from_reader`] for a
    /// streamed (chunked) upload.
    pub fn body(mut self, body: impl Into<Body>) -> RequestBuilder {
        self.body = body.into();
        self
    }

    /// A JSON body (`content-type: application/json`).
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<RequestBuilder> {
        let bytes = serde_json::to_vec(value).map_err(|e| Error::Builder {
            url: self.url_text(),
            reason: format!("JSON body: {e}"),
        })?;
        if !self.headers.contains_key(header::CONTENT_TYPE) {
            self.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        self.body = bytes.into();
        Ok(self)
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> RequestBuilder {
        let mut s = String::new();
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                s.push('&');
            }
            form_encode(k.as_ref(), &mut s);
            s.push('=');
            form_encode(v.as_ref(), &mut s);
        }
        self.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self.body = s.into();
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer_auth(self, token: impl fmt::Display) -> RequestBuilder {
        self.header(header::AUTHORIZATION, format!("Bearer {token}"))
    }

    /// `Authorization: Basic ...` (RFC 7617).
    pub fn basic_auth(
        self,
        user: impl fmt::Display,
        password: Option<impl fmt::Display>,
    ) -> RequestBuilder {
        let creds = match password {
            Some(p) => format!("{user}:{p}"),
            None => format!("{user}:"),
        };
        self.header(
            header::AUTHORIZATION,
            format!("Basic {}", base64(creds.as_bytes())),
        )
    }

    /// A timeout for the whole of this request (connect, upload, head and body),
    /// instead of the client's.
    pub fn timeout(mut self, timeout: Duration) -> RequestBuilder {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and waits for the response head (following redirects as
    /// the client's policy says).
    pub fn send(self) -> Result<Response> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let client = self.client.clone();
        client.execute(
            self.method,
            self.url?,
            self.headers,
            self.body,
            self.timeout,
        )
    }
}

pub(crate) fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for c in input.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(super::base64(i.as_bytes()), o);
        }
    }
}
