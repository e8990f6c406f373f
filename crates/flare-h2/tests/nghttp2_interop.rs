//! Interop with nghttp2's tools (nghttp, h2load) and curl as clients of
//! the state machine, through a minimal blocking driver on loopback (one
//! thread per connection). The production driver lives in the `flare`
//! crate; this one only exists to let real peers check the protocol.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Instant;

use flare_h2::{Config, Connection, Event, StreamId};

fn tool(name: &str) -> String {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(found, "`{name}` not found: run `cargo xtask peers`");
    name.to_string()
}

/// Serves connections until the listener is dropped with the test: `/hello`
/// answers "hello", anything with a body echoes it.
fn serve() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || drive(stream));
        }
    });
    port
}

fn drive(mut sock: TcpStream) {
    let mut conn = Connection::server(Config::new(), Instant::now());
    let mut buf = vec![0; 64 * 1024];
    let mut out = Vec::new();
    let mut bodies: std::collections::HashMap<StreamId, (Vec<u8>, usize, bool)> =
        Default::default();
    loop {
        conn.poll_output(&mut out);
        if !out.is_empty() {
            if sock.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if conn.is_closed() {
            return;
        }
        let n = match sock.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if conn.recv(&buf[..n], Instant::now()).is_err() {
            conn.poll_output(&mut out);
            let _ = sock.write_all(&out);
            return;
        }
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Headers {
                    id,
                    head,
                    end_stream: true,
                } => {
                    if head.path == b"/hello" {
                        conn.send_headers(id, 200, &[(b"content-type", b"text/plain")], false)
                            .unwrap();
                        bodies.insert(id, (b"hello".to_vec(), 0, true));
                    } else {
                        conn.send_headers(id, 404, &[], true).unwrap();
                    }
                }
                Event::Headers { id, .. } => {
                    bodies.insert(id, (Vec::new(), 0, false));
                }
                Event::Data {
                    id,
                    data,
                    end_stream,
                } => {
                    conn.release_capacity(id, data.len());
                    if let Some(b) = bodies.get_mut(&id) {
                        b.0.extend_from_slice(&data);
                        if end_stream {
                            b.2 = true;
                            let len = b.0.len().to_string();
                            conn.send_headers(
                                id,
                                200,
                                &[(b"content-length", len.as_bytes())],
                                false,
                            )
                            .unwrap();
                        }
                    }
                }
                Event::StreamReset { id, .. } => {
                    bodies.remove(&id);
                }
                _ => {}
            }
        }
        // Send what flow control allows of every finished request's answer.
        bodies.retain(|&id, (body, sent, ready)| {
            if !*ready {
                return true;
            }
            match conn.send_data(id, &body[*sent..], true) {
                Ok(n) => {
                    *sent += n;
                    *sent < body.len()
                }
                Err(_) => false,
            }
        });
    }
}

#[test]
fn nghttp_get_and_upload() {
    let nghttp = tool("nghttp");
    let port = serve();
    let o = Command::new(&nghttp)
        .args(["-n", "--stat"])
        .arg(format!("http://127.0.0.1:{port}/hello"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(&nghttp)
        .arg(format!("http://127.0.0.1:{port}/hello"))
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(o.stdout, b"hello");

    let dir = std::env::temp_dir().join(format!("flare-h2-nghttp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("upload");
    let body: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 253) as u8).collect();
    std::fs::write(&file, &body).unwrap();
    let o = Command::new(&nghttp)
        .arg("-d")
        .arg(&file)
        .arg(format!("http://127.0.0.1:{port}/echo"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        o.stdout == body,
        "echo of 3 MiB came back with {} octets",
        o.stdout.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn h2load_many_streams() {
    let h2load = tool("h2load");
    let port = serve();
    let o = Command::new(&h2load)
        .args(["-n", "20000", "-c", "4", "-m", "64"])
        .arg(format!("http://127.0.0.1:{port}/hello"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("20000 succeeded, 0 failed, 0 errored"),
        "{text}"
    );
    let rate = text
        .lines()
        .find(|l| l.starts_with("finished in"))
        .unwrap_or("");
    eprintln!("h2load: {rate}");
}

#[test]
fn curl_prior_knowledge() {
    let curl = tool("curl");
    let port = serve();
    // One URL per run: curl 7.88 fails to reuse a prior-knowledge
    // connection (curl/curl#10634, fixed after 7.88.1).
    let o = Command::new(&curl)
        .args(["-sS", "--http2-prior-knowledge"])
        .arg(format!("http://127.0.0.1:{port}/hello"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, b"hello");
    let o = Command::new(&curl)
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "--data-binary",
            "0123456789",
        ])
        .arg(format!("http://127.0.0.1:{port}/echo"))
        .output()
        .unwrap();
    assert_eq!(o.stdout, b"0123456789");
}
