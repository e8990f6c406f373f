//! may_minihttp on may's stackful coroutines with `--workers` scheduler
//! threads (the shape of its TechEmpower entry, which tops the plaintext
//! ranking). may_minihttp writes `Server: M` and a cached `Date` itself.

use std::io;

use may_minihttp::{HttpService, HttpServiceFactory, Request, Response};

struct Techempower;

impl HttpService for Techempower {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        match req.path() {
            "/plaintext" => {
                rsp.header("Content-Type: text/plain").body("Hello, World!");
            }
            "/json" => {
                rsp.header("Content-Type: application/json");
                rsp.body_vec(serde_json::to_vec(&peer_common::MESSAGE)?);
            }
            _ => {
                rsp.status_code(404, "Not Found");
            }
        }
        Ok(())
    }
}

struct Factory;

impl HttpServiceFactory for Factory {
    type Service = Techempower;

    fn new_service(&self, _: usize) -> Techempower {
        Techempower
    }
}

fn main() {
    let args = peer_common::Args::parse();
    may::config()
        .set_workers(args.workers)
        .set_pool_capacity(500)
        .set_stack_size(0x1000);
    let server = Factory.start(args.addr).expect("listen");
    let _ = server.join();
}
