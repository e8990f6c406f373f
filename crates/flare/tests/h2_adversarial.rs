//! HTTP/2 attacks against the example server (one worker, a child process so its
//! memory can be read): `tests/py/h2_adversarial.py` runs every case (rapid reset,
//! MadeYouReset, CONTINUATION floods, HPACK bomb, SETTINGS/PING/empty DATA/PRIORITY
//! floods, window overflows, stream id regressions, DATA on closed and idle
//! streams, oversized frames, too many streams, zero-window starvation, a bad
//! preface). Each case checks the error code, that a well-behaved client on
//! another connection keeps being served during the attack, that a fresh request
//! is answered quickly afterwards, and that the server's RSS stays bounded.

mod common;

use std::process::{Child, Command, Stdio};

use common::python;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/h2_adversarial.py");

/// The example server with one worker; killed on drop.
struct Child1 {
    child: Child,
    port: u16,
}

impl Child1 {
    fn start() -> Child1 {
        let (child, addr) = common::spawn_listening(
            Command::new(common::example_bin("server"))
                .args(["--addr", "127.0.0.1:0", "--workers", "1"])
                .args(common::test_backend_args())
                .stderr(Stdio::null()),
        );
        let port = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {addr:?}"));
        Child1 { child, port }
    }
}

impl Drop for Child1 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn python_h2_attack_suite() {
    let py = python();
    let mut server = Child1::start();
    let out = Command::new(py)
        .arg(SCRIPT)
        .args(["--port", &server.port.to_string()])
        .args(["--pid", &server.child.id().to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "h2 attack suite failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(" passed, 0 failed") && !last.starts_with("0 passed"),
        "{stdout}"
    );
    // The server survived every attack.
    assert!(server.child.try_wait().unwrap().is_none(), "server exited");
}

// ---- in-process: configured limits and cancellation on a connection error ----

mod raw {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::{Duration, Instant};

    pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    pub fn frame(kind: u8, flags: u8, sid: u32, payload: &[u8]) -> Vec<u8> {
        let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        f.extend_from_slice(&[kind, flags]);
        f.extend_from_slice(&sid.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// A header block from the static table and literals (no dynamic state).
    pub fn request(method_post: bool, path: &str) -> Vec<u8> {
        let mut b = vec![
            if method_post { 0x83 } else { 0x82 },
            0x86,
            0x04,
            path.len() as u8,
        ];
        b.extend_from_slice(path.as_bytes());
        b.extend_from_slice(&[0x01, 9]);
        b.extend_from_slice(b"127.0.0.1");
        b
    }

    /// A client connection that has sent its preface and SETTINGS.
    pub struct Conn {
        pub s: TcpStream,
        buf: Vec<u8>,
    }

    /// One frame: type, flags, stream id, payload.
    pub type Frame = (u8, u8, u32, Vec<u8>);

    impl Conn {
        pub fn open(addr: SocketAddr) -> Conn {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            s.write_all(PREFACE).unwrap();
            s.write_all(&frame(4, 0, 0, &[])).unwrap();
            Conn { s, buf: Vec::new() }
        }

        pub fn send(&mut self, b: &[u8]) {
            self.s.write_all(b).unwrap();
        }

        /// Reads frames until `pred` matches one (returned) or 10 s pass or EOF.
        pub fn until(&mut self, mut pred: impl FnMut(&Frame) -> bool) -> Option<Frame> {
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut tmp = [0u8; 65536];
            while Instant::now() < deadline {
                while self.buf.len() >= 9 {
                    let n = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
                    if self.buf.len() < 9 + n {
                        break;
                    }
                    let sid =
                        u32::from_be_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]])
                            & 0x7fff_ffff;
                    let f = (self.buf[3], self.buf[4], sid, self.buf[9..9 + n].to_vec());
                    self.buf.drain(..9 + n);
                    if f.0 == 4 && f.1 & 1 == 0 {
                        let _ = self.s.write_all(&frame(4, 1, 0, &[]));
                    }
                    if pred(&f) {
                        return Some(f);
                    }
                }
                match self.s.read(&mut tmp) {
                    Ok(0) => return None,
                    Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                    Err(e)
                        if e.kind() == std::io::ErrorKind::WouldBlock
                            || e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => return None,
                }
            }
            None
        }
    }

    pub fn code(f: &Frame) -> u32 {
        let p = if f.0 == 7 { &f.3[4..8] } else { &f.3[..4] };
        u32::from_be_bytes([p[0], p[1], p[2], p[3]])
    }
}

mod inproc {
    use std::sync::{mpsc, Mutex};
    use std::time::Duration;

    use super::common::TestServer;
    use super::raw::{code, frame, request, Conn};
    use flare::prelude::*;
    use flare::web::{BodyStream, Frame, StreamContext};
    use flare::ServerConfig;

    static CHUNK: [u8; 16 * 1024] = [b'e'; 16 * 1024];

    struct App(Mutex<mpsc::Sender<bool>>);

    impl Handler for App {
        fn handle(&self, req: &mut Request) -> Response {
            match req.path() {
                "/endless" => {
                    let tx = self.0.lock().unwrap().clone();
                    let token = req.cancel_token().clone();
                    Response::stream(Body::Stream(Box::new(Endless(token, tx))))
                }
                _ => Response::text("ok"),
            }
        }
    }

    /// Sends data as flow control allows; reports on drop whether it was cancelled.
    struct Endless(CancelToken, mpsc::Sender<bool>);

    impl BodyStream for Endless {
        fn poll_frame(&mut self, _cx: &mut StreamContext<'_>) -> Frame {
            if self.0.is_cancelled() {
                return Frame::End;
            }
            Frame::Data(Bytes::from_static(&CHUNK))
        }
    }

    impl Drop for Endless {
        fn drop(&mut self) {
            let _ = self.1.send(self.0.is_cancelled());
        }
    }

    fn start(cfg: ServerConfig) -> (TestServer, mpsc::Receiver<bool>) {
        let (tx, rx) = mpsc::channel();
        (TestServer::start_with(App(Mutex::new(tx)), 1, cfg), rx)
    }

    #[test]
    fn configured_max_concurrent_streams_refuses_the_next_stream() {
        let cfg = ServerConfig::default().http2(flare_h2::Config::new().max_concurrent_streams(4));
        let (s, _rx) = start(cfg);
        let mut c = Conn::open(s.addr);
        // Our SETTINGS advertise the limit (SETTINGS_MAX_CONCURRENT_STREAMS = 0x3).
        let settings = c
            .until(|f| f.0 == 4 && f.1 & 1 == 0)
            .expect("server SETTINGS");
        assert!(
            settings.3.chunks(6).any(|p| p == [0, 3, 0, 0, 0, 4]),
            "{:?}",
            settings.3
        );
        let mut out = Vec::new();
        for i in 0..5u32 {
            out.extend(frame(1, 0x4, 1 + 2 * i, &request(true, "/echo")));
        }
        c.send(&out);
        let rst = c.until(|f| f.0 == 3).expect("RST_STREAM");
        assert_eq!(
            (rst.2, code(&rst)),
            (9, 0x7),
            "want REFUSED_STREAM on stream 9"
        );
        // The admitted streams are served.
        c.send(&frame(0, 0x1, 1, b"x"));
        assert!(c.until(|f| f.2 == 1 && f.0 == 0 && f.1 & 1 == 1).is_some());
    }

    #[test]
    fn connection_error_cancels_the_streams_in_flight() {
        let (s, rx) = start(ServerConfig::default());
        let mut c = Conn::open(s.addr);
        c.send(&frame(1, 0x5, 1, &request(false, "/endless")));
        assert!(c.until(|f| f.0 == 0 && f.2 == 1).is_some(), "no DATA");
        // PING on a stream is a connection error (RFC 9113 section 6.7).
        c.send(&frame(6, 0, 1, &[0; 8]));
        let goaway = c.until(|f| f.0 == 7).expect("GOAWAY");
        assert_eq!(code(&goaway), 0x1, "want PROTOCOL_ERROR");
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Ok(true),
            "the stream in flight was dropped without being cancelled"
        );
    }
}
