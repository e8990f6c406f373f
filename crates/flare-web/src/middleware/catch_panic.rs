//! [`CatchPanic`]: a panicking handler becomes a `500`.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use http::StatusCode;

use super::Layer;
use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;

/// Turns a panic in the wrapped handler into a `500 Internal Server Error` and logs
/// the panic message at `error`. The worker keeps serving.
///
/// The server already catches panics at the top, but only this layer lets the layers
/// outside it (metrics, access log, request id) see the `500` like any other response.
/// Needs `panic = "unwind"` (the default; the `bench-abort` profile aborts instead).
#[derive(Clone, Copy, Debug, Default)]
pub struct CatchPanic {
    _priv: (),
}

impl CatchPanic {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The handler [`CatchPanic`] makes.
#[derive(Debug)]
pub struct CatchPanicHandler<H> {
    inner: H,
}

impl<H: Handler> Layer<H> for CatchPanic {
    type Handler = CatchPanicHandler<H>;
    fn layer(&self, inner: H) -> Self::Handler {
        CatchPanicHandler { inner }
    }
}

impl<H: Handler> Handler for CatchPanicHandler<H> {
    fn handle(&self, req: &mut Request) -> Response {
        // Unwind safety: the request is the only state shared with the handler, and the
        // server clears it before the next request; nothing observes a torn state.
        match catch_unwind(AssertUnwindSafe(|| self.inner.handle(req))) {
            Ok(resp) => resp,
            Err(payload) => {
                log::error!(
                    "handler panicked on {} {}: {}",
                    req.method(),
                    req.path(),
                    panic_message(&*payload)
                );
                Response::error(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
            }
        }
    }

    fn body_limit(&self, req: &Request) -> Option<u64> {
        self.inner.body_limit(req)
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(non-string panic payload)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::HandlerExt;

    fn sometimes(req: &Request) -> Response {
        match req.path() {
            "/str" => panic!("static message"),
            "/string" => panic!("formatted {}", 42),
            "/any" => std::panic::panic_any(7u32),
            _ => Response::text("fine"),
        }
    }

    #[test]
    fn panics_become_500_and_the_handler_keeps_working() {
        let app = sometimes.layer(CatchPanic::new());
        for p in ["/str", "/string", "/any"] {
            let mut req = Request::builder().uri(p).build();
            let r = app.handle(&mut req);
            assert_eq!(r.status(), 500, "{p}");
            assert_eq!(r.body_bytes().unwrap(), "internal server error");
            let mut ok = Request::builder().uri("/ok").build();
            assert_eq!(app.handle(&mut ok).body_bytes().unwrap(), "fine");
        }
    }

    #[test]
    fn messages() {
        assert_eq!(panic_message(&"a"), "a");
        assert_eq!(panic_message(&String::from("b")), "b");
        assert_eq!(panic_message(&1u8), "(non-string panic payload)");
    }
}
