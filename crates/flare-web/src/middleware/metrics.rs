//! [`Metrics`]: request counters, a latency histogram and an in-flight gauge in the
//! Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Method};

use super::Layer;
use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;

/// Methods with their own counters; anything else counts as `other`.
const METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::CONNECT,
    Method::OPTIONS,
    Method::TRACE,
    Method::PATCH,
];
const OTHER_METHOD: usize = METHODS.len();
/// Status codes 100 to 999 (all `StatusCode` allows).
const STATUSES: usize = 900;
/// Upper bounds of the latency buckets, in seconds (`+Inf` follows).
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// The bucket bounds in microseconds, for the hot path.
const BUCKETS_US: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// Counts requests and serves the counts as Prometheus text (format 0.0.4) at a path
/// of your choice:
///
/// - `flare_http_requests_total{method,status}`: a counter per method (the nine
///   standard ones, else `other`) and status code;
/// - `flare_http_request_duration_seconds`: a histogram of the time spent in the
///   handler chain below this layer, fixed buckets from 0.5 ms to 10 s;
/// - `flare_http_requests_in_flight`: requests inside the handler chain now.
///
/// Counters are atomics shared by every worker and every handler this layer wraps
/// (clone the layer to read the same counts elsewhere with [`render`](Self::render)).
/// A request costs a few relaxed atomic adds and no lock. Scrapes of the metrics path
/// (GET or HEAD) are answered here and not counted.
#[derive(Clone, Debug)]
pub struct Metrics {
    path: Arc<str>,
    registry: Arc<Registry>,
}

#[derive(Debug)]
struct Registry {
    /// `method index * STATUSES + (status - 100)`.
    requests: Box<[AtomicU64]>,
    /// Per-bucket (not cumulative) counts; the last is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_us: AtomicU64,
    in_flight: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            path: Arc::from("/metrics"),
            registry: Arc::new(Registry {
                requests: (0..(METHODS.len() + 1) * STATUSES)
                    .map(|_| AtomicU64::new(0))
                    .collect(),
                buckets: Default::default(),
                sum_us: AtomicU64::new(0),
                in_flight: AtomicI64::new(0),
            }),
        }
    }
}

impl Metrics {
    /// Fresh counters served at `/metrics`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where the text is served. Default: `/metrics`. Use a path the public cannot
    /// reach, or put this layer behind authentication, when request counts are not
    /// public information.
    pub fn path(mut self, path: &str) -> Self {
        self.path = Arc::from(path);
        self
    }

    /// The current counts as Prometheus text.
    pub fn render(&self) -> String {
        let r = &self.registry;
        let mut out = String::with_capacity(2048);
        out.push_str(
            "# HELP flare_http_requests_total HTTP requests answered, by method and status.\n",
        );
        out.push_str("# TYPE flare_http_requests_total counter\n");
        for (i, c) in r.requests.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            let method = METHODS.get(i / STATUSES).map_or("other", Method::as_str);
            let status = i % STATUSES + 100;
            let _ = writeln!(
                out,
                "flare_http_requests_total{{method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP flare_http_request_duration_seconds Time spent in the handler chain.\n",
        );
        out.push_str("# TYPE flare_http_request_duration_seconds histogram\n");
        let mut cumulative = 0u64;
        for (i, b) in r.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            let le = match BUCKETS.get(i) {
                Some(v) => v.to_string(),
                None => "+Inf".to_owned(),
            };
            let _ = writeln!(
                out,
                "flare_http_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = r.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "flare_http_request_duration_seconds_sum {sum}");
        // The +Inf bucket is the count; use it so the two always agree.
        let _ = writeln!(
            out,
            "flare_http_request_duration_seconds_count {cumulative}"
        );
        out.push_str("# HELP flare_http_requests_in_flight Requests inside the handler chain.\n");
        out.push_str("# TYPE flare_http_requests_in_flight gauge\n");
        let _ = writeln!(
            out,
            "flare_http_requests_in_flight {}",
            r.in_flight.load(Ordering::Relaxed)
        );
        out
    }
}

impl Registry {
    fn record(&self, method: &Method, status: u16, micros: u64) {
        let m = METHODS
            .iter()
            .position(|x| x == method)
            .unwrap_or(OTHER_METHOD);
        let s = usize::from(status).clamp(100, 999) - 100;
        if let Some(c) = self.requests.get(m * STATUSES + s) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let b = BUCKETS_US
            .iter()
            .position(|&le| micros <= le)
            .unwrap_or(BUCKETS_US.len());
        if let Some(c) = self.buckets.get(b) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(micros, Ordering::Relaxed);
    }
}

/// Keeps the in-flight gauge right when the handler panics.
struct InFlight<'a>(&'a AtomicI64);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The handler [`Metrics`] makes.
#[derive(Debug)]
pub struct MetricsHandler<H> {
    inner: H,
    metrics: Metrics,
}

impl<H: Handler> Layer<H> for Metrics {
    type Handler = MetricsHandler<H>;
    fn layer(&self, inner: H) -> Self::Handler {
        MetricsHandler {
            inner,
            metrics: self.clone(),
        }
    }
}

impl<H: Handler> Handler for MetricsHandler<H> {
    fn handle(&self, req: &mut Request) -> Response {
        if req.path() == &*self.metrics.path && matches!(*req.method(), Method::GET | Method::HEAD)
        {
            return Response::new(http::StatusCode::OK)
                .with_content_type(HeaderValue::from_static(
                    "text/plain; version=0.0.4; charset=utf-8",
                ))
                .with_body(self.metrics.render());
        }
        let reg = &self.metrics.registry;
        reg.in_flight.fetch_add(1, Ordering::Relaxed);
        let guard = InFlight(&reg.in_flight);
        let start = Instant::now();
        let resp = self.inner.handle(req);
        let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        drop(guard);
        reg.record(req.method(), resp.status().as_u16(), micros);
        resp
    }

    fn body_limit(&self, req: &Request) -> Option<u64> {
        self.inner.body_limit(req)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::middleware::HandlerExt;

    /// One sample line: name, labels, value.
    #[derive(Debug, PartialEq)]
    pub(crate) struct Sample {
        pub name: String,
        pub labels: Vec<(String, String)>,
        pub value: f64,
    }

    /// A strict reader of the Prometheus text format: every sample belongs to a family
    /// announced by `# TYPE` before it, label values are quoted, values are floats.
    pub(crate) fn parse(text: &str) -> Result<Vec<Sample>, String> {
        let mut types: HashMap<String, String> = HashMap::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# ") {
                let mut it = rest.splitn(3, ' ');
                let (kind, name, what) = (it.next(), it.next(), it.next());
                match (kind, name, what) {
                    (Some("HELP"), Some(_), Some(_)) => {}
                    (Some("TYPE"), Some(n), Some(t))
                        if ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t) =>
                    {
                        if types.insert(n.to_owned(), t.to_owned()).is_some() {
                            return Err(format!("second TYPE for {n}"));
                        }
                    }
                    _ => return Err(format!("bad comment line {line:?}")),
                }
                continue;
            }
            let (head, value) = line.rsplit_once(' ').ok_or(format!("no value: {line:?}"))?;
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().map_err(|_| format!("bad value {line:?}"))?,
            };
            let (name, labels) = match head.split_once('{') {
                None => (head, Vec::new()),
                Some((n, l)) => {
                    let l = l
                        .strip_suffix('}')
                        .ok_or(format!("unclosed labels {line:?}"))?;
                    let mut labels = Vec::new();
                    for pair in l.split(',') {
                        let (k, v) = pair.split_once('=').ok_or(format!("bad label {line:?}"))?;
                        let v = v
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .ok_or(format!("unquoted label {line:?}"))?;
                        labels.push((k.to_owned(), v.to_owned()));
                    }
                    (n, labels)
                }
            };
            if !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
            {
                return Err(format!("bad name {name:?}"));
            }
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
                })
                .unwrap_or(name);
            if !types.contains_key(family) {
                return Err(format!("sample {name} before its TYPE"));
            }
            samples.push(Sample {
                name: name.to_owned(),
                labels,
                value,
            });
        }
        Ok(samples)
    }

    pub(crate) fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        samples
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .map(|s| s.value)
    }

    fn app_handler(req: &Request) -> Response {
        match req.path() {
            "/ok" => Response::text("ok"),
            "/boom" => panic!("boom"),
            _ => Response::error(http::StatusCode::NOT_FOUND, "nope"),
        }
    }

    fn call<H: Handler>(app: &H, method: Method, path: &str) -> Response {
        app.handle(&mut Request::builder().method(method).uri(path).build())
    }

    #[test]
    fn counts_by_method_and_status_and_serves_text() {
        let metrics = Metrics::new().path("/internal/metrics");
        let app = app_handler.layer(metrics.clone());
        for _ in 0..3 {
            call(&app, Method::GET, "/ok");
        }
        call(&app, Method::POST, "/missing");
        call(&app, Method::from_bytes(b"PURGE").unwrap(), "/ok");
        let r = call(&app, Method::GET, "/internal/metrics");
        assert_eq!(
            r.content_type().unwrap(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let text = String::from_utf8(r.body_bytes().unwrap().to_vec()).unwrap();
        assert_eq!(text, metrics.render());
        let s = parse(&text).unwrap();
        let total = "flare_http_requests_total";
        assert_eq!(
            value(&s, total, &[("method", "GET"), ("status", "200")]),
            Some(3.0)
        );
        assert_eq!(
            value(&s, total, &[("method", "POST"), ("status", "404")]),
            Some(1.0)
        );
        assert_eq!(
            value(&s, total, &[("method", "other"), ("status", "200")]),
            Some(1.0)
        );
        // Scrapes are not counted.
        assert_eq!(s.iter().filter(|x| x.name == total).count(), 3);
        let count = value(&s, "flare_http_request_duration_seconds_count", &[]).unwrap();
        assert_eq!(count, 5.0);
        let inf = value(
            &s,
            "flare_http_request_duration_seconds_bucket",
            &[("le", "+Inf")],
        );
        assert_eq!(inf, Some(5.0));
        let buckets: Vec<f64> = s
            .iter()
            .filter(|x| x.name == "flare_http_request_duration_seconds_bucket")
            .map(|x| x.value)
            .collect();
        assert_eq!(buckets.len(), BUCKETS.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(value(&s, "flare_http_requests_in_flight", &[]), Some(0.0));
        // The default path is no longer special.
        assert_eq!(call(&app, Method::GET, "/metrics").status(), 404);
    }

    #[test]
    fn in_flight_counts_running_handlers_and_survives_panics() {
        let metrics = Metrics::new();
        let inner_metrics = metrics.clone();
        let seen = Arc::new(AtomicBool::new(false));
        let seen2 = seen.clone();
        let app = (move |req: &Request| {
            if req.path() == "/peek" {
                let s = parse(&inner_metrics.render()).unwrap();
                seen2.store(
                    value(&s, "flare_http_requests_in_flight", &[]) == Some(1.0),
                    Ordering::SeqCst,
                );
            }
            app_handler(req)
        })
        .layer(metrics.clone());
        call(&app, Method::GET, "/peek");
        assert!(seen.load(Ordering::SeqCst));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            call(&app, Method::GET, "/boom");
        }));
        assert!(caught.is_err());
        let s = parse(&metrics.render()).unwrap();
        assert_eq!(value(&s, "flare_http_requests_in_flight", &[]), Some(0.0));
    }

    #[test]
    fn buckets_split_at_their_bounds() {
        let m = Metrics::new();
        for us in [0, 500, 501, 10_000_000, 10_000_001, u64::MAX / 4] {
            m.registry.record(&Method::GET, 200, us);
        }
        let s = parse(&m.render()).unwrap();
        let b = |le: &str| {
            value(
                &s,
                "flare_http_request_duration_seconds_bucket",
                &[("le", le)],
            )
        };
        assert_eq!(b("0.0005"), Some(2.0));
        assert_eq!(b("0.001"), Some(3.0));
        assert_eq!(b("10"), Some(4.0));
        assert_eq!(b("+Inf"), Some(6.0));
    }

    #[test]
    fn the_parser_rejects_bad_text() {
        for bad in [
            "flare_x 1",
            "# TYPE a counter\na{x=1} 1",
            "# TYPE a counter\na one",
            "# TYPE a widget\na 1",
            "# BOGUS\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
