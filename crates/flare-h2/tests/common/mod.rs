//! Test harness: an in-memory client/server pair on a virtual clock, and a
//! raw peer that speaks crafted frames to a server.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use flare_h2::frame::{Continuation, Data, Frame, GoAway, Headers, Ping, Priority, PrioritySpec};
use flare_h2::frame::{RstStream, Setting, SettingId, Settings, WindowUpdate};
use flare_h2::{Config, Connection, ErrorCode, Event, StreamId, PREFACE};
use flare_hpack::{Encoder, Field};

/// A frame as the tests look at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Out {
    Settings {
        ack: bool,
        params: Vec<(SettingId, u32)>,
    },
    Headers {
        id: u32,
        end_stream: bool,
        end_headers: bool,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
    },
    Continuation {
        id: u32,
        end_headers: bool,
    },
    Data {
        id: u32,
        len: usize,
        end_stream: bool,
    },
    Rst {
        id: u32,
        code: ErrorCode,
    },
    GoAway {
        last: u32,
        code: ErrorCode,
    },
    WindowUpdate {
        id: u32,
        inc: u32,
    },
    Ping {
        ack: bool,
        payload: [u8; 8],
    },
    Other,
}

/// Decodes every frame in `bytes` (HPACK blocks with `decoder`).
pub fn parse(bytes: &[u8], decoder: &mut flare_hpack::Decoder) -> Vec<Out> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut block: Vec<u8> = Vec::new();
    let mut pending: Option<(u32, bool)> = None;
    while let Some((frame, n)) = Frame::decode(&bytes[pos..], 16_777_215).expect("valid frame") {
        pos += n;
        let o = match frame {
            Frame::Settings(s) => Out::Settings {
                ack: s.ack,
                params: s.params().map(|p| (p.id, p.value)).collect(),
            },
            Frame::Headers(h) => {
                block.clear();
                block.extend_from_slice(h.fragment);
                if !h.end_headers {
                    pending = Some((h.stream_id.value(), h.end_stream));
                    out.push(Out::Headers {
                        id: h.stream_id.value(),
                        end_stream: h.end_stream,
                        end_headers: false,
                        fields: vec![],
                    });
                    continue;
                }
                Out::Headers {
                    id: h.stream_id.value(),
                    end_stream: h.end_stream,
                    end_headers: true,
                    fields: decode(&block, decoder),
                }
            }
            Frame::Continuation(c) => {
                block.extend_from_slice(c.fragment);
                if c.end_headers {
                    let (id, end_stream) = pending.take().expect("continuation after headers");
                    out.push(Out::Continuation {
                        id,
                        end_headers: true,
                    });
                    Out::Headers {
                        id,
                        end_stream,
                        end_headers: true,
                        fields: decode(&block, decoder),
                    }
                } else {
                    Out::Continuation {
                        id: c.stream_id.value(),
                        end_headers: false,
                    }
                }
            }
            Frame::Data(d) => Out::Data {
                id: d.stream_id.value(),
                len: d.data.len(),
                end_stream: d.end_stream,
            },
            Frame::RstStream(r) => Out::Rst {
                id: r.stream_id.value(),
                code: r.code,
            },
            Frame::GoAway(g) => Out::GoAway {
                last: g.last_stream_id.value(),
                code: g.code,
            },
            Frame::WindowUpdate(w) => Out::WindowUpdate {
                id: w.stream_id.value(),
                inc: w.increment,
            },
            Frame::Ping(p) => Out::Ping {
                ack: p.ack,
                payload: p.payload,
            },
            _ => Out::Other,
        };
        out.push(o);
    }
    assert_eq!(pos, bytes.len(), "trailing partial frame in output");
    out
}

fn decode(block: &[u8], decoder: &mut flare_hpack::Decoder) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut fields = Vec::new();
    decoder
        .decode(block, |f| fields.push((f.name.to_vec(), f.value.to_vec())))
        .expect("valid block");
    fields
}

/// A server driven by hand-made client frames.
pub struct Raw {
    pub server: Connection,
    pub now: Instant,
    pub encoder: Encoder,
    pub decoder: flare_hpack::Decoder,
    pub result: Result<(), flare_h2::ConnectionError>,
}

impl Raw {
    /// A server that got the preface and an empty SETTINGS, with its first
    /// output (SETTINGS, WINDOW_UPDATE, SETTINGS ACK) drained.
    pub fn new(config: Config) -> Raw {
        let now = Instant::now();
        let mut raw = Raw::bare(config, now);
        let mut b = PREFACE.to_vec();
        Settings::encode_params(&[], &mut b);
        raw.send(&b);
        let out = raw.output();
        assert!(
            out.contains(&Out::Settings {
                ack: true,
                params: vec![]
            }),
            "{out:?}"
        );
        // Acknowledge the server's SETTINGS.
        let mut b = Vec::new();
        Settings::ACK.encode(&mut b);
        raw.send(&b);
        raw
    }

    /// A server that has received nothing yet.
    pub fn bare(config: Config, now: Instant) -> Raw {
        Raw {
            server: Connection::server(config, now),
            now,
            encoder: Encoder::new(),
            decoder: flare_hpack::Decoder::new().with_max_header_list_size(1 << 20),
            result: Ok(()),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let r = self.server.recv(bytes, self.now);
        if self.result.is_ok() {
            self.result = r;
        }
    }

    pub fn output(&mut self) -> Vec<Out> {
        let mut buf = Vec::new();
        self.server.poll_output(&mut buf);
        parse(&buf, &mut self.decoder)
    }

    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.server.poll_event()).collect()
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// A HEADERS frame with an encoded block.
    pub fn headers(&mut self, id: u32, fields: &[(&[u8], &[u8])], end_stream: bool) -> Vec<u8> {
        let block = self.block(fields);
        let mut b = Vec::new();
        Headers {
            stream_id: StreamId::new(id),
            fragment: &block,
            end_stream,
            end_headers: true,
            priority: None,
            pad_len: None,
        }
        .encode(&mut b);
        b
    }

    pub fn block(&mut self, fields: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut block = Vec::new();
        self.encoder
            .encode(fields.iter().map(|(n, v)| Field::new(n, v)), &mut block);
        block
    }

    /// A GET request.
    pub fn get(&mut self, id: u32, end_stream: bool) -> Vec<u8> {
        self.headers(id, &GET, end_stream)
    }

    /// Sends `bytes` and expects a connection error with `code`.
    pub fn expect_goaway(&mut self, bytes: &[u8], code: ErrorCode) {
        self.send(bytes);
        let out = self.output();
        assert!(
            out.iter()
                .any(|o| matches!(o, Out::GoAway { code: c, .. } if *c == code)),
            "expected GOAWAY {code:?}, got {out:?}"
        );
        assert_eq!(self.result.map_err(|e| e.code()), Err(code));
        assert!(self.server.is_closed());
    }

    /// Sends `bytes` and expects RST_STREAM `code` on `id`, the connection
    /// staying up.
    pub fn expect_rst(&mut self, bytes: &[u8], id: u32, code: ErrorCode) {
        self.send(bytes);
        let out = self.output();
        assert!(
            out.contains(&Out::Rst { id, code }),
            "expected RST_STREAM {id} {code:?}, got {out:?}"
        );
        assert!(
            !out.iter().any(|o| matches!(o, Out::GoAway { .. })),
            "unexpected GOAWAY: {out:?}"
        );
        assert!(self.result.is_ok(), "{:?}", self.result);
    }
}

pub const GET: [(&[u8], &[u8]); 4] = [
    (b":method", b"GET"),
    (b":scheme", b"http"),
    (b":authority", b"x"),
    (b":path", b"/"),
];

pub fn data(id: u32, payload: &[u8], end_stream: bool) -> Vec<u8> {
    let mut b = Vec::new();
    Data {
        stream_id: StreamId::new(id),
        data: payload,
        end_stream,
        pad_len: None,
    }
    .encode(&mut b);
    b
}

pub fn padded_data(id: u32, payload: &[u8], pad: u8, end_stream: bool) -> Vec<u8> {
    let mut b = Vec::new();
    Data {
        stream_id: StreamId::new(id),
        data: payload,
        end_stream,
        pad_len: Some(pad),
    }
    .encode(&mut b);
    b
}

pub fn rst(id: u32, code: ErrorCode) -> Vec<u8> {
    let mut b = Vec::new();
    RstStream {
        stream_id: StreamId::new(id),
        code,
    }
    .encode(&mut b);
    b
}

pub fn window_update(id: u32, inc: u32) -> Vec<u8> {
    let mut b = Vec::new();
    WindowUpdate {
        stream_id: StreamId::new(id),
        increment: inc,
    }
    .encode(&mut b);
    b
}

pub fn ping(ack: bool, payload: [u8; 8]) -> Vec<u8> {
    let mut b = Vec::new();
    Ping { ack, payload }.encode(&mut b);
    b
}

pub fn settings(params: &[(SettingId, u32)]) -> Vec<u8> {
    let mut b = Vec::new();
    let p: Vec<Setting> = params
        .iter()
        .map(|&(id, value)| Setting { id, value })
        .collect();
    Settings::encode_params(&p, &mut b);
    b
}

pub fn priority(id: u32, dep: u32) -> Vec<u8> {
    let mut b = Vec::new();
    Priority {
        stream_id: StreamId::new(id),
        spec: PrioritySpec {
            exclusive: false,
            dependency: StreamId::new(dep),
            weight: 15,
        },
    }
    .encode(&mut b);
    b
}

pub fn goaway(last: u32, code: ErrorCode) -> Vec<u8> {
    let mut b = Vec::new();
    GoAway {
        last_stream_id: StreamId::new(last),
        code,
        debug: b"",
    }
    .encode(&mut b);
    b
}

pub fn continuation(id: u32, fragment: &[u8], end_headers: bool) -> Vec<u8> {
    let mut b = Vec::new();
    Continuation {
        stream_id: StreamId::new(id),
        fragment,
        end_headers,
    }
    .encode(&mut b);
    b
}

/// A raw frame: any type, flags, stream and payload.
pub fn raw_frame(kind: u8, flags: u8, id: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    let len = (payload.len() as u32).to_be_bytes();
    b.extend_from_slice(&len[1..]);
    b.push(kind);
    b.push(flags);
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(payload);
    b
}

/// A client and a server exchanging bytes in memory on a virtual clock.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Instant,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    /// Octets carried each way.
    pub to_server: usize,
    pub to_client: usize,
}

impl Pair {
    pub fn new(client: Config, server: Config) -> Pair {
        let now = Instant::now();
        let mut p = Pair {
            client: Connection::client(client, now),
            server: Connection::server(server, now),
            now,
            client_events: Vec::new(),
            server_events: Vec::new(),
            to_server: 0,
            to_client: 0,
        };
        p.drive();
        p
    }

    /// Moves bytes both ways until neither side has output; collects
    /// events. Returns the number of rounds (bounded).
    pub fn drive(&mut self) -> usize {
        let mut buf = Vec::new();
        for round in 0..10_000 {
            let mut moved = false;
            self.client.poll_output(&mut buf);
            if !buf.is_empty() {
                moved = true;
                self.to_server += buf.len();
                self.server.recv(&buf, self.now).expect("server recv");
                buf.clear();
            }
            self.server.poll_output(&mut buf);
            if !buf.is_empty() {
                moved = true;
                self.to_client += buf.len();
                self.client.recv(&buf, self.now).expect("client recv");
                buf.clear();
            }
            self.server_events
                .extend(std::iter::from_fn(|| self.server.poll_event()));
            self.client_events
                .extend(std::iter::from_fn(|| self.client.poll_event()));
            if !moved {
                return round;
            }
        }
        panic!("pair did not settle");
    }
}
