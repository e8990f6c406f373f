//! Route lookup over one 100-route table (static, parameter and catch-all routes),
//! flare-web's `Router` against `matchit` (axum's router) in the same run.
//!
//! ```text
//! cargo run --release --manifest-path benches/router/Cargo.toml [-- --quick]
//! ```
//!
//! Both routers get the same patterns and look up the same fixed mix of paths
//! (static hits, parameter hits, catch-all hits, misses). A round is 2,000,000
//! lookups (200,000 with `--quick`); rounds alternate between the two routers and
//! the best of 7 (3) is kept for each. Each lookup captures its parameters (flare:
//! offsets in a fixed array; matchit: borrowed slices); neither percent-decodes.
//! Prints ns per lookup and the ratio flare / matchit (below 1.0: flare is faster).

use std::hint::black_box;
use std::time::Instant;

use flare_web::router::Router;
use flare_web::Request;

const RESOURCES: [&str; 10] = [
    "users",
    "repos",
    "orgs",
    "teams",
    "issues",
    "pulls",
    "gists",
    "events",
    "notifications",
    "search",
];

/// The 100 patterns: 40 static, 50 with parameters, 10 catch-alls.
fn patterns() -> Vec<String> {
    let mut p = Vec::new();
    for r in RESOURCES {
        p.push(format!("/api/{r}"));
        p.push(format!("/api/{r}/stats"));
        p.push(format!("/v2/{r}/list"));
        p.push(format!("/docs/{r}/overview"));
        p.push(format!("/api/{r}/{{id}}"));
        p.push(format!("/api/{r}/{{id}}/comments"));
        p.push(format!("/api/{r}/{{id}}/comments/{{cid}}"));
        p.push(format!("/api/{r}/{{id}}/settings"));
        p.push(format!("/v2/{r}/{{id}}/history"));
        p.push(format!("/static/{r}/{{*path}}"));
    }
    assert_eq!(p.len(), 100);
    p
}

/// The lookup mix: 6 static, 6 parameter, 2 catch-all, 2 misses.
const PATHS: [&str; 16] = [
    "/api/users",
    "/api/search/stats",
    "/v2/teams/list",
    "/docs/notifications/overview",
    "/api/gists",
    "/v2/repos/list",
    "/api/users/12345",
    "/api/repos/flare/comments",
    "/api/issues/42/comments/7",
    "/api/orgs/acme/settings",
    "/v2/pulls/99/history",
    "/api/events/abc",
    "/static/users/css/site.css",
    "/static/search/a/b/c/d/e.js",
    "/api/unknown/thing",
    "/v3/users",
];

/// ns per lookup for one round.
fn round(lookups: usize, mut f: impl FnMut(&str) -> bool) -> f64 {
    let start = Instant::now();
    let mut hits = 0usize;
    for i in 0..lookups {
        if f(black_box(PATHS[i % PATHS.len()])) {
            hits += 1;
        }
    }
    black_box(hits);
    start.elapsed().as_nanos() as f64 / lookups as f64
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (rounds, lookups) = if quick { (3, 200_000) } else { (7, 2_000_000) };

    let pats = patterns();
    let mut flare = Router::<()>::new();
    let mut mit = matchit::Router::new();
    for (i, p) in pats.iter().enumerate() {
        flare = flare.get(p, |_: &Request| "x");
        mit.insert(p.as_str(), i)
            .expect("matchit accepts the pattern");
    }
    // Same answers from both before timing anything.
    for p in PATHS {
        let a = flare.matches(p);
        let b = mit.at(p).is_ok();
        assert_eq!(a, b, "routers disagree on {p}");
    }

    // Rounds alternate between the two so that load from other processes on the
    // machine hits both alike; the best round of each is kept.
    let (mut flare_ns, mut matchit_ns) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        matchit_ns = matchit_ns.min(round(lookups, |p| match mit.at(p) {
            Ok(m) => {
                black_box(m.params.iter().count());
                black_box(*m.value);
                true
            }
            Err(_) => false,
        }));
        flare_ns = flare_ns.min(round(lookups, |p| flare.matches(p)));
    }

    println!(
        "route lookup, 100 routes, {} paths mixed, best of {rounds} x {lookups}",
        PATHS.len()
    );
    println!("flare-web Router  {flare_ns:8.1} ns/lookup");
    println!("matchit 0.8       {matchit_ns:8.1} ns/lookup");
    println!(
        "ratio flare/matchit {:.2} (below 1.0: flare faster)",
        flare_ns / matchit_ns
    );
}
