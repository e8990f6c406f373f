//! [`Logger`]: one access-log line per request through the `log` facade.

use std::time::Instant;

use super::request_id::RequestIdValue;
use super::Layer;
use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;

/// Logs one line per request, after the response is made, to the `log` facade:
///
/// ```text
/// 127.0.0.1:52100 "GET /index.html?x=1 HTTP/1.1" 200 1043 157us id=5f0c...
/// ```
///
/// peer address (`-` when unknown), request line, status, body length (`-` for a
/// stream of unknown length), time in the handler chain below this layer, and the
/// [`RequestId`](super::RequestId) when that layer is outside this one. The target is
/// `flare::access` and the level `info` (both configurable), so the usual `log`
/// filters route or silence it; nothing is formatted when the level is disabled.
/// The request target is logged as received; it is not decoded, and control
/// characters cannot reach it (the parser rejects them).
#[derive(Clone, Copy, Debug)]
pub struct Logger {
    level: log::Level,
    target: &'static str,
}

impl Default for Logger {
    fn default() -> Self {
        Logger {
            level: log::Level::Info,
            target: "flare::access",
        }
    }
}

impl Logger {
    /// The layer: `info` to `flare::access`.
    pub fn new() -> Self {
        Self::default()
    }
    /// The level of the lines. Default: `info`.
    pub fn level(mut self, level: log::Level) -> Self {
        self.level = level;
        self
    }
    /// The `log` target. Default: `flare::access`.
    pub fn target(mut self, target: &'static str) -> Self {
        self.target = target;
        self
    }
}

/// The handler [`Logger`] makes.
#[derive(Debug)]
pub struct LoggerHandler<H> {
    inner: H,
    cfg: Logger,
}

impl<H: Handler> Layer<H> for Logger {
    type Handler = LoggerHandler<H>;
    fn layer(&self, inner: H) -> Self::Handler {
        LoggerHandler { inner, cfg: *self }
    }
}

impl<H: Handler> Handler for LoggerHandler<H> {
    fn handle(&self, req: &mut Request) -> Response {
        if !log::log_enabled!(target: self.cfg.target, self.cfg.level) {
            return self.inner.handle(req);
        }
        let start = Instant::now();
        let resp = self.inner.handle(req);
        let micros = start.elapsed().as_micros();
        let peer = match req.peer_addr() {
            Some(p) => p.to_string(),
            None => "-".to_owned(),
        };
        let len = match resp.body().len_hint() {
            Some(n) => n.to_string(),
            None => "-".to_owned(),
        };
        let id = req.extensions().get::<RequestIdValue>();
        log::log!(
            target: self.cfg.target,
            self.cfg.level,
            "{peer} \"{} {} {:?}\" {} {len} {micros}us{}{}",
            req.method(),
            req.target(),
            req.version(),
            resp.status().as_u16(),
            if id.is_some() { " id=" } else { "" },
            id.map_or("", RequestIdValue::as_str),
        );
        resp
    }

    fn body_limit(&self, req: &Request) -> Option<u64> {
        self.inner.body_limit(req)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Mutex, OnceLock};

    use super::*;
    use crate::middleware::{HandlerExt, RequestId};

    /// Every record logged by this test binary, as `target level message`.
    pub(crate) fn captured() -> &'static Mutex<Vec<String>> {
        static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
        static LOGGER: Capture = Capture;
        struct Capture;
        impl log::Log for Capture {
            fn enabled(&self, _: &log::Metadata<'_>) -> bool {
                true
            }
            fn log(&self, r: &log::Record<'_>) {
                let line = format!("{} {} {}", r.target(), r.level(), r.args());
                captured().lock().unwrap().push(line);
            }
            fn flush(&self) {}
        }
        let lines = LINES.get_or_init(|| {
            let _ = log::set_logger(&LOGGER);
            log::set_max_level(log::LevelFilter::Trace);
            Mutex::new(Vec::new())
        });
        lines
    }

    fn lines_with(needle: &str) -> Vec<String> {
        captured()
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    #[test]
    fn logs_one_line_per_request() {
        captured();
        let app = (|req: &Request| match req.path() {
            "/logger-ok" => Response::text("hello"),
            _ => Response::error(http::StatusCode::NOT_FOUND, "nope"),
        })
        .layer(Logger::new());
        let mut req = Request::builder()
            .uri("/logger-ok?a=1")
            .peer_addr("127.0.0.1:4000".parse().unwrap())
            .build();
        assert_eq!(app.handle(&mut req).status(), 200);
        let mut req = Request::builder()
            .method(http::Method::POST)
            .uri("/logger-missing")
            .build();
        assert_eq!(app.handle(&mut req).status(), 404);
        let ok = lines_with("/logger-ok");
        assert_eq!(ok.len(), 1, "{ok:?}");
        let l = &ok[0];
        assert!(
            l.starts_with(
                "flare::access INFO 127.0.0.1:4000 \"GET /logger-ok?a=1 HTTP/1.1\" 200 5 "
            ),
            "{l}"
        );
        assert!(l.ends_with("us"), "{l}");
        let missing = lines_with("/logger-missing");
        assert_eq!(missing.len(), 1);
        assert!(
            missing[0].contains("- \"POST /logger-missing HTTP/1.1\" 404 4 "),
            "{}",
            missing[0]
        );
    }

    #[test]
    fn level_target_and_request_id() {
        captured();
        let app = (|_: &Request| Response::text("x"))
            .layer(Logger::new().level(log::Level::Debug).target("my::access"))
            .layer(RequestId::new());
        let mut req = Request::builder()
            .uri("/logger-id")
            .header("x-request-id", "req-77")
            .build();
        app.handle(&mut req);
        let l = lines_with("/logger-id");
        assert_eq!(l.len(), 1);
        assert!(l[0].starts_with("my::access DEBUG "), "{}", l[0]);
        assert!(l[0].ends_with(" id=req-77"), "{}", l[0]);
    }
}
