//! flare's HTTP/2 against a Rust client this project did not write (the `h2`
//! crate on a tokio current-thread runtime): 1,000 requests over one connection,
//! 100 concurrent streams with uploads past the connection window, and the cancel
//! token of a streaming response flipping on RST_STREAM, on connection close and
//! on a drain that outlives its grace.
//!
//! Handlers are synchronous on the worker: while one runs, the worker does not
//! read its sockets, so a peer's RST_STREAM can only be seen between handler
//! calls. What a long request can observe is a streamed body: it holds a clone of
//! the request's token, and the server drops it (after cancelling) when the
//! stream is reset or the connection goes.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use common::TestServer;
use flare::prelude::*;
use flare::web::{BodyStream, Frame, StreamContext};
use flare::ServerConfig;

const TIMEOUT: Duration = Duration::from_secs(60);
static CHUNK: [u8; 16 * 1024] = [b'e'; 16 * 1024];

/// Routes for these tests; `drops` receives, for every endless body dropped, whether
/// its request's cancel token was set by then.
struct App {
    drops: Mutex<mpsc::Sender<bool>>,
}

impl Handler for App {
    fn handle(&self, req: &mut Request) -> Response {
        let path = req.path();
        if let Some(i) = path.strip_prefix("/id/") {
            return Response::text(format!("id {i}"));
        }
        match path {
            "/echo" => Response::bytes(req.body().to_vec()),
            "/endless" => {
                let tx = self.drops.lock().unwrap().clone();
                Response::stream(Body::Stream(Box::new(Endless {
                    token: req.cancel_token().clone(),
                    tx,
                    sent: 0,
                })))
            }
            _ => Response::error(StatusCode::NOT_FOUND, "not found"),
        }
    }
}

/// A body of up to 1 GiB, produced as fast as flow control takes it.
struct Endless {
    token: CancelToken,
    tx: mpsc::Sender<bool>,
    sent: u64,
}

impl BodyStream for Endless {
    fn poll_frame(&mut self, _cx: &mut StreamContext<'_>) -> Frame {
        if self.sent >= 1 << 30 || self.token.is_cancelled() {
            return Frame::End;
        }
        self.sent += CHUNK.len() as u64;
        Frame::Data(Bytes::from_static(&CHUNK))
    }
}

impl Drop for Endless {
    fn drop(&mut self) {
        let _ = self.tx.send(self.token.is_cancelled());
    }
}

fn start() -> (TestServer, mpsc::Receiver<bool>) {
    let (tx, rx) = mpsc::channel();
    let app = App {
        drops: Mutex::new(tx),
    };
    (TestServer::start_with(app, 1, ServerConfig::default()), rx)
}

/// Runs a future on a current-thread runtime in its own thread; fails the test if
/// it does not finish within [`TIMEOUT`].
fn run<F>(f: impl FnOnce() -> F + Send + 'static)
where
    F: Future<Output = ()>,
{
    let (done_tx, done_rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        rt.block_on(f());
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(TIMEOUT) {
        Ok(()) => t.join().unwrap(),
        // The thread panicked (its panic is the failure) or hangs.
        Err(_) => match t.join() {
            Err(e) => std::panic::resume_unwind(e),
            Ok(()) => panic!("client did not finish within {TIMEOUT:?}"),
        },
    }
}

type Client = h2::client::SendRequest<Bytes>;

async fn connect(addr: SocketAddr) -> (Client, tokio::task::JoinHandle<()>) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    (client, task)
}

fn request(addr: SocketAddr, method: &str, path: &str) -> http::Request<()> {
    http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(())
        .unwrap()
}

/// Sends a request (with `body` when not empty) and returns status and body.
async fn fetch(client: &mut Client, req: http::Request<()>, body: Bytes) -> (u16, Vec<u8>) {
    let mut c = client.clone().ready().await.unwrap();
    let (resp, mut send) = c.send_request(req, body.is_empty()).unwrap();
    if !body.is_empty() {
        // Send as the server grants window.
        let mut rest = body;
        while !rest.is_empty() {
            send.reserve_capacity(rest.len());
            let cap = std::future::poll_fn(|cx| send.poll_capacity(cx))
                .await
                .unwrap()
                .unwrap();
            let piece = rest.split_to(cap.min(rest.len()));
            send.send_data(piece, rest.is_empty()).unwrap();
        }
    }
    let resp = resp.await.unwrap();
    let status = resp.status().as_u16();
    let mut recv = resp.into_body();
    let mut out = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.unwrap();
        recv.flow_control().release_capacity(chunk.len()).unwrap();
        out.extend_from_slice(&chunk);
    }
    (status, out)
}

#[test]
fn thousand_requests_over_one_connection() {
    let (s, _drops) = start();
    let addr = s.addr;
    run(move || async move {
        let (mut client, task) = connect(addr).await;
        for i in 0..1000 {
            let (status, body) = fetch(
                &mut client,
                request(addr, "GET", &format!("/id/{i}")),
                Bytes::new(),
            )
            .await;
            assert_eq!(status, 200);
            assert_eq!(body, format!("id {i}").as_bytes());
        }
        // Still the one connection: its task has not ended.
        assert!(!task.is_finished());
        drop(client);
        task.await.unwrap();
    });
}

#[test]
fn hundred_concurrent_streams_with_uploads() {
    let (s, _drops) = start();
    let addr = s.addr;
    run(move || async move {
        let (client, task) = connect(addr).await;
        // 100 streams at once (the server allows 128); half upload 200 KiB each, 10 MiB
        // in all: ten times the connection window.
        let mut handles = Vec::new();
        for i in 0..100u32 {
            let mut c = client.clone();
            handles.push(tokio::spawn(async move {
                if i % 2 == 0 {
                    let body: Vec<u8> = (0..200 * 1024).map(|j| (j as u32 ^ i) as u8).collect();
                    let (st, got) = fetch(
                        &mut c,
                        request(addr, "POST", "/echo"),
                        Bytes::from(body.clone()),
                    )
                    .await;
                    assert_eq!(st, 200);
                    assert!(got == body, "stream {i}: echo differs");
                } else {
                    let (st, got) = fetch(
                        &mut c,
                        request(addr, "GET", &format!("/id/{i}")),
                        Bytes::new(),
                    )
                    .await;
                    assert_eq!(st, 200);
                    assert_eq!(got, format!("id {i}").as_bytes());
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        drop(client);
        task.await.unwrap();
    });
}

/// Opens `/endless`, reads its first DATA, and returns the client, the stream's
/// send half, the response body and the connection task.
async fn open_endless(
    addr: SocketAddr,
) -> (
    Client,
    h2::SendStream<Bytes>,
    h2::RecvStream,
    tokio::task::JoinHandle<()>,
) {
    let (client, task) = connect(addr).await;
    let mut c = client.clone().ready().await.unwrap();
    let (resp, send) = c
        .send_request(request(addr, "GET", "/endless"), true)
        .unwrap();
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let first = body.data().await.unwrap().unwrap();
    assert!(!first.is_empty());
    (client, send, body, task)
}

#[test]
fn rst_stream_cancels_a_streaming_response() {
    let (s, drops) = start();
    let addr = s.addr;
    run(move || async move {
        let (mut client, mut send, body, task) = open_endless(addr).await;
        send.send_reset(h2::Reason::CANCEL);
        // Dropping the body gives back the connection window its unread data held.
        drop((body, send));
        // The connection stays usable for other streams.
        let (st, got) = fetch(&mut client, request(addr, "GET", "/id/9"), Bytes::new()).await;
        assert_eq!((st, got.as_slice()), (200, &b"id 9"[..]));
        drop(client);
        task.await.unwrap();
    });
    assert_eq!(
        drops.recv_timeout(TIMEOUT),
        Ok(true),
        "the body was dropped without its cancel token set"
    );
}

#[test]
fn connection_close_cancels_a_streaming_response() {
    let (s, drops) = start();
    let addr = s.addr;
    run(move || async move {
        let (client, send, body, task) = open_endless(addr).await;
        // Dropping the connection future closes the socket.
        task.abort();
        let _ = task.await;
        drop((client, send, body));
    });
    assert_eq!(drops.recv_timeout(TIMEOUT), Ok(true));
}

#[test]
fn drain_past_its_grace_cancels_a_streaming_response() {
    let (tx, drops) = mpsc::channel();
    let app = App {
        drops: Mutex::new(tx),
    };
    let handle = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(1)
        .configure(common::with_test_backend)
        .start(app)
        .unwrap();
    let addr = handle.local_addr();
    let (opened_tx, opened_rx) = mpsc::channel();
    let (goaway_tx, goaway_rx) = mpsc::channel();
    let client = std::thread::spawn(move || {
        run(move || async move {
            let (client, _send, body, task) = open_endless(addr).await;
            opened_tx.send(()).unwrap();
            // The client does not read: the stream stays blocked on flow control
            // until the drain's grace runs out and the server closes the connection.
            task.await.unwrap();
            goaway_tx.send(()).unwrap();
            drop((client, body));
        })
    });
    opened_rx.recv_timeout(TIMEOUT).unwrap();
    handle.shutdown(Duration::from_millis(300));
    assert_eq!(
        drops.recv_timeout(TIMEOUT),
        Ok(true),
        "the drain did not cancel the stream in flight"
    );
    handle.join().unwrap();
    goaway_rx.recv_timeout(TIMEOUT).unwrap();
    client.join().unwrap();
}
