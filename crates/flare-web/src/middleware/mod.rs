//! Middleware: synchronous layers that wrap a handler in a generic struct.
//!
//! A [`Layer`] turns a handler into another handler. Layers compose by type, so a
//! stack of them is one monomorphised struct with no boxing and no dynamic call:
//!
//! ```
//! # #[cfg(feature = "deflate")] {
//! use flare_web::middleware::{Compress, HandlerExt, RequestId};
//! use flare_web::{Handler, Request, Response};
//!
//! fn hello(_: &Request) -> Response { Response::text("hello") }
//! let app = hello.layer(Compress::default()).layer(RequestId::default());
//! let mut req = Request::default();
//! assert_eq!(app.handle(&mut req).status(), 200);
//! assert!(req.header("x-request-id").is_some());
//! # }
//! ```
//!
//! The last layer applied is the outermost: it sees the request first and the
//! response last. A sensible order, inside out, is
//! `handler.layer(Conditional).layer(Compress).layer(Timeout).layer(CatchPanic)
//! .layer(Metrics).layer(Logger).layer(RequestId)`: conditional requests compare the
//! identity representation's validators, compression sees the final body, the
//! timeout and panic guard cover everything below them, and metrics and the access log
//! see the status the client gets.
//!
//! Every layer forwards [`Handler::body_limit`] to the handler it wraps. `Compress`
//! needs the `deflate` feature (on by default).

mod catch_panic;
#[cfg(feature = "deflate")]
mod compress;
mod conditional;
mod cors;
mod logger;
mod metrics;
mod request_id;
mod timeout;

pub use catch_panic::{CatchPanic, CatchPanicHandler};
#[cfg(feature = "deflate")]
pub use compress::{Compress, CompressHandler, Encoding};
pub use conditional::{Conditional, ConditionalHandler};
pub use cors::{Cors, CorsHandler};
pub use logger::{Logger, LoggerHandler};
pub use metrics::{Metrics, MetricsHandler};
pub use request_id::{RequestId, RequestIdHandler, RequestIdValue};
pub use timeout::{Timeout, TimeoutHandler};

use crate::handler::Handler;

/// Wraps a handler of type `H` in another handler.
pub trait Layer<H: Handler> {
    /// The wrapped handler.
    type Handler: Handler;
    /// Wraps `inner`. Takes `&self` so one configured layer can wrap several
    /// handlers; state the layer shares (counters, a timer) is shared by all of them.
    fn layer(&self, inner: H) -> Self::Handler;
}

/// `handler.layer(l)`: available on every [`Handler`], routers included.
pub trait HandlerExt: Handler + Sized {
    /// Wraps `self` in `layer`.
    fn layer<L: Layer<Self>>(self, layer: L) -> L::Handler {
        layer.layer(self)
    }
}

impl<H: Handler> HandlerExt for H {}

/// A pair of layers is a layer: `(inner, outer)` applies `inner` first.
impl<H, A, B> Layer<H> for (A, B)
where
    H: Handler,
    A: Layer<H>,
    B: Layer<A::Handler>,
{
    type Handler = B::Handler;
    fn layer(&self, inner: H) -> Self::Handler {
        self.1.layer(self.0.layer(inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Request, Response};

    /// Records the order layers see the request in.
    struct Tag(&'static str);
    struct Tagged<H>(H, &'static str);
    impl<H: Handler> Layer<H> for Tag {
        type Handler = Tagged<H>;
        fn layer(&self, inner: H) -> Tagged<H> {
            Tagged(inner, self.0)
        }
    }
    impl<H: Handler> Handler for Tagged<H> {
        fn handle(&self, req: &mut Request) -> Response {
            req.push_header(b"x-seen", self.1.as_bytes());
            self.0.handle(req)
        }
        fn body_limit(&self, req: &Request) -> Option<u64> {
            self.0.body_limit(req)
        }
    }

    struct Limited;
    impl Handler for Limited {
        fn handle(&self, req: &mut Request) -> Response {
            let seen: Vec<String> = req
                .header_all("x-seen")
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect();
            Response::text(seen.join(","))
        }
        fn body_limit(&self, _: &Request) -> Option<u64> {
            Some(7)
        }
    }

    #[test]
    fn outermost_layer_runs_first_and_pairs_compose() {
        let app = Limited.layer(Tag("inner")).layer(Tag("outer"));
        let mut req = Request::default();
        assert_eq!(app.handle(&mut req).body_bytes().unwrap(), "outer,inner");
        let app = Limited.layer((Tag("inner"), Tag("outer")));
        let mut req = Request::default();
        assert_eq!(app.handle(&mut req).body_bytes().unwrap(), "outer,inner");
    }

    #[test]
    fn every_shipped_layer_forwards_body_limit() {
        #[cfg(feature = "deflate")]
        let app = Limited.layer(Conditional::new()).layer(Compress::new());
        #[cfg(not(feature = "deflate"))]
        let app = Limited.layer(Conditional::new());
        let app = app
            .layer(Timeout::new(std::time::Duration::from_secs(5)))
            .layer(CatchPanic::new())
            .layer(Metrics::new())
            .layer(Logger::new())
            .layer(RequestId::new())
            .layer(Cors::permissive());
        assert_eq!(app.body_limit(&Request::default()), Some(7));
    }
}
