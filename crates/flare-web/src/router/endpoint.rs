//! Route handlers: plain functions of extractors, erased once per route.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::extract::FromRequest;
use crate::handler::{Handler, IntoResponse};
use crate::request::Request;
use crate::response::Response;

/// A function the router can call for a route, with application state `S`.
///
/// Implemented for:
/// - `Fn(&Request) -> R` (the plain form, marker [`ByRequest`]);
/// - `Fn() -> R` and `Fn(E1, ..., En) -> R` for up to 12 extractors `Ei:
///   FromRequest<S>` (marker: the tuple of argument types);
/// - [`HandlerService`], which wraps any [`Handler`] (middleware stacks, file
///   servers);
///
/// where `R: IntoResponse`. The marker `M` only keeps these impls apart; callers
/// never name it. Each call is monomorphised: the extractors run inline, then the
/// function.
pub trait FnHandler<M, S>: Send + Sync + 'static {
    /// Extracts the arguments and calls the function.
    fn call(&self, req: &mut Request, state: &S) -> Response;
}

/// Marker for `Fn(&Request) -> R` handlers.
#[derive(Debug)]
pub enum ByRequest {}

/// Marker for [`HandlerService`].
#[derive(Debug)]
pub enum ByHandler {}

impl<F, R, S> FnHandler<(ByRequest, R), S> for F
where
    F: Fn(&Request) -> R + Send + Sync + 'static,
    R: IntoResponse,
{
    #[inline]
    fn call(&self, req: &mut Request, _state: &S) -> Response {
        self(req).into_response()
    }
}

/// Any [`Handler`] as a route handler: `Router::new().route("/files/{*p}",
/// get(HandlerService(serve_dir)))`. It does not see the router's state.
#[derive(Clone, Debug)]
pub struct HandlerService<H>(pub H);

impl<H: Handler, S> FnHandler<ByHandler, S> for HandlerService<H> {
    #[inline]
    fn call(&self, req: &mut Request, _state: &S) -> Response {
        self.0.handle(req)
    }
}

macro_rules! impl_fn_handler {
    ($($arg:ident),*) => {
        impl<F, R, S, $($arg,)*> FnHandler<(R, $($arg,)*), S> for F
        where
            F: Fn($($arg),*) -> R + Send + Sync + 'static,
            R: IntoResponse,
            $($arg: FromRequest<S>,)*
        {
            #[inline]
            #[allow(non_snake_case, unused_variables)]
            fn call(&self, req: &mut Request, state: &S) -> Response {
                $(
                    let $arg = match $arg::from_request(req, state) {
                        Ok(v) => v,
                        Err(rejection) => return rejection.into_response(),
                    };
                )*
                self($($arg),*).into_response()
            }
        }
    };
}

impl_fn_handler!();
impl_fn_handler!(E1);
impl_fn_handler!(E1, E2);
impl_fn_handler!(E1, E2, E3);
impl_fn_handler!(E1, E2, E3, E4);
impl_fn_handler!(E1, E2, E3, E4, E5);
impl_fn_handler!(E1, E2, E3, E4, E5, E6);
impl_fn_handler!(E1, E2, E3, E4, E5, E6, E7);
impl_fn_handler!(E1, E2, E3, E4, E5, E6, E7, E8);
impl_fn_handler!(E1, E2, E3, E4, E5, E6, E7, E8, E9);
impl_fn_handler!(E1, E2, E3, E4, E5, E6, E7, E8, E9, E10);
impl_fn_handler!(E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11);
impl_fn_handler!(E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11, E12);

/// A route handler with its types erased: the one `dyn` call per request.
pub(crate) trait Endpoint<S>: Send + Sync {
    fn call(&self, req: &mut Request, state: &S) -> Response;
}

struct Erased<F, M> {
    f: F,
    _marker: PhantomData<fn() -> M>,
}

impl<F, M, S> Endpoint<S> for Erased<F, M>
where
    F: FnHandler<M, S>,
{
    #[inline]
    fn call(&self, req: &mut Request, state: &S) -> Response {
        self.f.call(req, state)
    }
}

/// A shared, erased route handler. The `Box` inside the `Arc` puts the handler's
/// address at a fixed place: calling through `Arc<dyn _>` would first work out
/// where the value starts from its alignment, on every request.
pub(crate) type BoxedEndpoint<S> = Arc<Box<dyn Endpoint<S>>>;

/// Erases `f`.
pub(crate) fn erase<F, M, S>(f: F) -> BoxedEndpoint<S>
where
    F: FnHandler<M, S>,
    M: 'static,
    S: 'static,
{
    Arc::new(Box::new(Erased {
        f,
        _marker: PhantomData,
    }))
}
