//! The handler trait and conversions into responses.

use bytes::Bytes;
use http::StatusCode;

use crate::request::Request;
use crate::response::Response;

/// Answers requests. Runs on a worker thread, synchronously; one call at a time per
/// worker, so a handler that blocks stalls its worker's other connections.
///
/// Implemented by any `Fn(&Request) -> R` where `R: IntoResponse`, which covers the
/// fallible form `Fn(&Request) -> Result<Response, E>` with `E: IntoResponse`. The
/// server gives `&mut Request` so routers can record path parameters.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, req: &mut Request) -> Response;

    /// The largest body this handler accepts for `req`, asked after the head is read
    /// and before the body is (the body is empty here). `None` keeps the server's
    /// limit. A router answers with the matched route's limit; a request whose
    /// declared or received body is larger gets `413` and the connection is closed.
    fn body_limit(&self, req: &Request) -> Option<u64> {
        let _ = req;
        None
    }
}

impl<F, R> Handler for F
where
    F: Fn(&Request) -> R + Send + Sync + 'static,
    R: IntoResponse,
{
    #[inline]
    fn handle(&self, req: &mut Request) -> Response {
        self(req).into_response()
    }
}

impl<H: Handler + ?Sized> Handler for std::sync::Arc<H> {
    #[inline]
    fn handle(&self, req: &mut Request) -> Response {
        (**self).handle(req)
    }
    fn body_limit(&self, req: &Request) -> Option<u64> {
        (**self).body_limit(req)
    }
}

/// Anything a handler may return.
///
/// `()` is an empty `200 OK`. `&'static str` and `String` are `text/plain`;
/// `Vec<u8>` and `Bytes` are `application/octet-stream`.
pub trait IntoResponse {
    /// The response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    #[inline]
    fn into_response(self) -> Response {
        self
    }
}
impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}
impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}
impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        Response::bytes(self)
    }
}
impl IntoResponse for Bytes {
    fn into_response(self) -> Response {
        Response::bytes(self)
    }
}
impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(StatusCode::OK)
    }
}
impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        Response::new(self)
    }
}
impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        let mut r = self.1.into_response();
        r.set_status(self.0);
        r
    }
}
impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(t) => t.into_response(),
            Err(e) => e.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(_: &Request) -> Response {
        Response::text("hello")
    }
    fn fallible(req: &Request) -> Result<&'static str, (StatusCode, &'static str)> {
        if req.query() == Some("ok") {
            Ok("fine")
        } else {
            Err((StatusCode::BAD_REQUEST, "no"))
        }
    }

    #[test]
    fn plain_and_fallible_functions_are_handlers() {
        let mut req = Request::builder().uri("/x?ok").build();
        assert_eq!(hello.handle(&mut req).body_bytes().unwrap(), "hello");
        assert_eq!(fallible.handle(&mut req).status(), 200);
        let mut bad = Request::builder().uri("/x?no").build();
        let r = fallible.handle(&mut bad);
        assert_eq!(r.status(), 400);
        assert_eq!(r.body_bytes().unwrap(), "no");
        let closure = |r: &Request| format!("path={}", r.path());
        assert_eq!(closure.handle(&mut req).body_bytes().unwrap(), "path=/x");
        assert_eq!(().into_response().status(), 200);
        assert_eq!(().into_response().body().len_hint(), Some(0));
    }
}
