//! actix-web 4 with `--workers` workers (each a single-threaded arbiter)
//! behind actix's acceptor thread. actix writes its own cached `Date`.

use actix_web::http::header::{ContentType, SERVER};
use actix_web::{web, App, HttpResponse, HttpServer};

async fn plaintext() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((SERVER, "actix-web"))
        .content_type(ContentType::plaintext())
        .body(peer_common::PLAINTEXT)
}

async fn json() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((SERVER, "actix-web"))
        .content_type(ContentType::json())
        .body(serde_json::to_vec(&peer_common::MESSAGE).unwrap_or_default())
}

fn main() -> std::io::Result<()> {
    let args = peer_common::Args::parse();
    actix_web::rt::System::new().block_on(
        HttpServer::new(|| {
            App::new()
                .route("/plaintext", web::get().to(plaintext))
                .route("/json", web::get().to(json))
        })
        .workers(args.workers)
        .backlog(1024)
        .bind(args.addr)?
        .run(),
    )
}
