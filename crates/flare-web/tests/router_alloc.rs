//! The router allocates nothing per request at steady state: static routes, and
//! parameter routes whose values are copied into the reused request buffer.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use flare_web::extract::Path;
use flare_web::router::Router;
use flare_web::{Handler, Request, Response};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Only the measuring thread counts: the test harness's own threads allocate
    // while the test runs. A const-initialised Cell needs no allocation to read.
    static MEASURING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if MEASURING.with(Cell::get) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn plain(_: &Request) -> Response {
    Response::text("ok")
}

fn by_id(Path(id): Path<u64>) -> Response {
    if id == 42 {
        Response::text("42")
    } else {
        Response::text("other")
    }
}

#[test]
fn steady_state_routing_does_not_allocate() {
    let mut router = Router::new().get("/", plain).get("/users/{id}", by_id);
    for i in 0..100 {
        router = router.get(&format!("/static/{i}"), plain);
    }
    router = router.get("/files/{*path}", |r: &Request| {
        if r.param("path") == Some("a/b c") {
            Response::text("file")
        } else {
            Response::text("?")
        }
    });
    let targets: [&[u8]; 5] = [
        b"/",
        b"/static/77",
        b"/users/42",
        b"/files/a/b%20c",
        b"/missing/path",
    ];
    let mut req = Request::default();
    let mut run = || {
        for t in targets {
            req.clear();
            req.set_target(t);
            let resp = router.handle(&mut req);
            assert!(resp.status().as_u16() == 200 || t == b"/missing/path");
        }
    };
    // Warm up: the request's buffers grow to their size once.
    for _ in 0..3 {
        run();
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    MEASURING.with(|m| m.set(true));
    for _ in 0..1000 {
        run();
    }
    MEASURING.with(|m| m.set(false));
    let after = ALLOCS.load(Ordering::Relaxed);
    assert_eq!(after - before, 0, "allocations in 5000 routed requests");
}
