//! Interop with Python `h2` (an HTTP/2 implementation we did not write)
//! acting as a client of our server, over pipes with a virtual clock: no
//! sockets. Python `h2` checks every frame and header block we send.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use flare_h2::{Config, Connection, Event, StreamId};

fn python() -> String {
    std::env::var("FLARE_PYTHON").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/venv/bin/python").to_string()
    })
}

#[derive(Default)]
struct Upload {
    body: Vec<u8>,
    trailer: Option<Vec<u8>>,
}

#[test]
fn python_h2_client_against_our_server() {
    let py = python();
    assert!(
        std::path::Path::new(&py).exists(),
        "Python with `h2` not found at {py}: run `cargo xtask peers`"
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/h2_client.py");
    let mut child = Command::new(&py)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python");
    let mut to_py = child.stdin.take().unwrap();
    let mut from_py = child.stdout.take().unwrap();

    let now = Instant::now();
    let mut server = Connection::server(Config::new(), now);
    let mut uploads: std::collections::HashMap<StreamId, Upload> = Default::default();
    let mut out = Vec::new();
    let mut pending_downloads: Vec<(StreamId, Vec<u8>, usize)> = Vec::new();
    for _ in 0..100_000 {
        let mut head = [0u8; 4];
        if from_py.read_exact(&mut head).is_err() {
            break;
        }
        let mut msg = vec![0; u32::from_be_bytes(head) as usize];
        from_py.read_exact(&mut msg).unwrap();
        server.recv(&msg, now).expect("no connection error");
        while let Some(event) = server.poll_event() {
            match event {
                Event::Headers {
                    id,
                    head,
                    end_stream,
                } => match &head.path[..] {
                    b"/hello" => {
                        server
                            .send_headers(id, 200, &[(b"content-type", b"text/plain")], false)
                            .unwrap();
                        assert_eq!(server.send_data(id, b"hello", true), Ok(5));
                    }
                    b"/shutdown" => {
                        server.shutdown(now);
                        server.send_headers(id, 200, &[], true).unwrap();
                    }
                    _ if end_stream => server.send_headers(id, 404, &[], true).unwrap(),
                    _ => {
                        uploads.insert(id, Upload::default());
                    }
                },
                Event::Data {
                    id,
                    data,
                    end_stream,
                } => {
                    server.release_capacity(id, data.len());
                    let up = uploads.get_mut(&id).unwrap();
                    up.body.extend_from_slice(&data);
                    if end_stream {
                        let up = uploads.remove(&id).unwrap();
                        server.send_headers(id, 200, &[], false).unwrap();
                        pending_downloads.push((id, up.body, 0));
                    }
                }
                Event::Trailers { id, fields } => {
                    let up = uploads.get_mut(&id).unwrap();
                    up.trailer = fields
                        .into_iter()
                        .find(|f| f.0 == b"x-client-trailer")
                        .map(|f| f.1);
                    server.send_headers(id, 200, &[], false).unwrap();
                    let mut body = b"trailer=".to_vec();
                    body.extend(up.trailer.clone().unwrap_or_default());
                    server.send_data(id, &body, true).unwrap();
                }
                _ => {}
            }
        }
        // Stream the downloads as flow control allows; trailers at the end.
        pending_downloads.retain_mut(|(id, body, sent)| {
            let n = server.send_data(*id, &body[*sent..], false).unwrap();
            *sent += n;
            if *sent == body.len() {
                let len = body.len().to_string();
                server
                    .send_trailers(*id, &[(b"x-length", len.as_bytes())])
                    .unwrap();
                return false;
            }
            true
        });
        server.poll_output(&mut out);
        if to_py
            .write_all(&(out.len() as u32).to_be_bytes())
            .and_then(|_| to_py.write_all(&out))
            .is_err()
        {
            break;
        }
        out.clear();
    }
    drop(to_py);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python h2 client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(server.is_closed() || server.open_streams() == 0);
}
