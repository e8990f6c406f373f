//! tokio-tungstenite's echo server (its `examples/echo-server.rs`, without
//! the split): `accept_async` on each connection, then every text and
//! binary message back, on one current-thread tokio runtime. tungstenite
//! 0.30 has no permessage-deflate, so this peer runs the plain shapes only.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

fn main() {
    let args = peer_common::Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind(args.addr).await.expect("bind");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    match msg {
                        Message::Text(_) | Message::Binary(_) => {}
                        Message::Close(_) => break,
                        _ => continue,
                    }
                    if ws.send(msg).await.is_err() {
                        break;
                    }
                }
            });
        }
    })
}
