//! axum 0.8 on tokio's multi-thread runtime with `--workers` worker threads.

use axum::http::header::{CONTENT_TYPE, SERVER};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;

async fn plaintext() -> impl IntoResponse {
    (
        [(SERVER, "axum"), (CONTENT_TYPE, "text/plain")],
        peer_common::PLAINTEXT,
    )
}

async fn json() -> impl IntoResponse {
    (
        [(SERVER, "axum"), (CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&peer_common::MESSAGE).unwrap_or_default(),
    )
}

fn main() {
    let args = peer_common::Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let app = Router::new()
            .route("/plaintext", get(plaintext))
            .route("/json", get(json));
        // TCP_NODELAY as axum's TechEmpower entry sets it; without it,
        // pipelined responses stall on Nagle against delayed ACKs.
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .expect("bind")
            .tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
        let _ = axum::serve(listener, app).await;
    })
}
