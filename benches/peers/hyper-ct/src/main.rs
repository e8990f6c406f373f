//! hyper 1.x with a current-thread tokio runtime per worker thread, each
//! accepting on its own SO_REUSEPORT socket (the shape of hyper's
//! TechEmpower entry).

mod service;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use socket2::{Domain, Socket, Type};

fn main() {
    let args = peer_common::Args::parse();
    let threads: Vec<_> = (0..args.workers)
        .map(|_| {
            let addr = args.addr;
            std::thread::spawn(move || {
                let socket =
                    Socket::new(Domain::for_address(addr), Type::STREAM, None).expect("socket");
                socket.set_reuse_address(true).expect("SO_REUSEADDR");
                socket.set_reuse_port(true).expect("SO_REUSEPORT");
                socket.set_nonblocking(true).expect("nonblocking");
                socket.bind(&addr.into()).expect("bind");
                socket.listen(1024).expect("listen");
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(socket.into()).expect("listener");
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let _ = stream.set_nodelay(true);
                        tokio::task::spawn(async move {
                            let _ = http1::Builder::new()
                                .pipeline_flush(true)
                                .serve_connection(TokioIo::new(stream), service_fn(service::serve))
                                .await;
                        });
                    }
                })
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}
