//! The connection state machine: settings, streams, flow control, limits.
//!
//! `recv` handles frames from the peer (`header_block` the HEADERS and
//! CONTINUATION part), `send` the application's calls, `flow` the window
//! bookkeeping, `lifecycle` timeouts, shutdown and errors; this file holds
//! the state, the constructors and the event and output queues.

mod flow;
mod header_block;
mod lifecycle;
mod recv;
mod send;

use std::collections::VecDeque;
use std::time::Instant;

use flare_hpack::{Decoder, Encoder};

use crate::flood::Budget;
use crate::frame::MIN_MAX_FRAME_SIZE;
use crate::frame::{RstStream, Setting, SettingId, Settings, WindowUpdate};
use crate::head::{Head, HeadPool};
use crate::stream::{Closure, Recent, Stream, StreamMap};
use crate::{Config, ConnectionError, ErrorCode, StreamId};

pub use send::Request;

/// The client connection preface (RFC 9113 section 3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol's initial flow-control window (section 6.9.2).
const DEFAULT_WINDOW: u32 = 65_535;

/// How many closed streams we remember to recognise frames in flight.
const RECENT_STREAMS: usize = 128;

/// The opaque data of the PING that times the graceful shutdown.
const SHUTDOWN_PING: [u8; 8] = *b"flare-sd";

/// Which end of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Accepts streams opened by the client (odd ids).
    Server,
    /// Opens streams (odd ids); push is disabled.
    Client,
}

/// Something the application must know about.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A request (server) or response (client) head; pseudo-headers
    /// validated and split out. A client may see 1xx heads before the
    /// final one.
    Headers {
        /// The stream.
        id: StreamId,
        /// The head.
        head: Head,
        /// No body follows.
        end_stream: bool,
    },
    /// Body data. Call [`Connection::release_capacity`] once consumed so the
    /// peer may send more.
    Data {
        /// The stream.
        id: StreamId,
        /// The data (padding removed).
        data: Vec<u8>,
        /// The body is complete.
        end_stream: bool,
    },
    /// Trailers; the body is complete.
    Trailers {
        /// The stream.
        id: StreamId,
        /// The fields, names lowercase.
        fields: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// The stream was reset, by the peer or by us because of the peer's
    /// stream error: cancel whatever works on it. (A stream the peer resets
    /// before its `Headers` event was polled disappears from the queue
    /// instead: the application never sees it.)
    StreamReset {
        /// The stream.
        id: StreamId,
        /// The code sent or received.
        code: ErrorCode,
        /// True when the peer sent RST_STREAM (or refused the stream with
        /// GOAWAY).
        by_peer: bool,
    },
    /// A stream whose `send_data` was short can take more data now.
    SendReady {
        /// The stream.
        id: StreamId,
    },
    /// The peer sent GOAWAY: no new streams; our streams above
    /// `last_stream_id` were reset (`StreamReset` with `REFUSED_STREAM`).
    GoAway {
        /// The last stream the peer will process.
        last_stream_id: StreamId,
        /// Its error code.
        code: ErrorCode,
        /// Its debug data.
        debug: Vec<u8>,
    },
}

/// A connection error detected while processing input.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fatal {
    code: ErrorCode,
    reason: &'static str,
}

pub(crate) fn fatal(code: ErrorCode, reason: &'static str) -> Fatal {
    Fatal { code, reason }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Server: this many preface octets matched so far.
    Preface(usize),
    /// The peer's first frame must be SETTINGS.
    FirstSettings,
    Open,
    /// Nothing more will happen.
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shutdown {
    None,
    /// GOAWAY(2^31-1) and PING sent; the final GOAWAY follows the PING ack.
    AwaitingPing {
        deadline: Instant,
    },
    /// The final GOAWAY was sent.
    Done,
}

/// The peer's settings (section 6.5.2 initial values until it says
/// otherwise).
#[derive(Clone, Copy, Debug)]
struct PeerSettings {
    max_concurrent_streams: u32,
    initial_window: u32,
    max_frame_size: u32,
    max_header_list_size: u32,
    enable_connect_protocol: bool,
}

/// Our settings as the peer has acknowledged them.
#[derive(Clone, Copy, Debug)]
struct LocalSettings {
    initial_window: u32,
}

/// A header block being assembled from HEADERS and CONTINUATION frames.
#[derive(Clone, Copy, Debug)]
struct PendingBlock {
    stream: StreamId,
    end_stream: bool,
    self_dependent: bool,
    continuations: u32,
}

/// One HTTP/2 connection, server or client. See the crate docs for the
/// driver loop.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    phase: Phase,
    /// Received octets not yet forming a whole frame.
    inbuf: Vec<u8>,
    /// Frames waiting for [`Connection::poll_output`].
    out: Vec<u8>,
    events: VecDeque<Event>,
    decoder: Decoder,
    encoder: Encoder,
    /// Scratch for encoding header blocks.
    scratch: Vec<u8>,
    block: Option<PendingBlock>,
    block_buf: Vec<u8>,
    /// Buffers of heads given back, reused for the next ones.
    head_pool: HeadPool,
    local: LocalSettings,
    /// Our SETTINGS frames sent and not yet acknowledged, with send time.
    pending_settings: VecDeque<(LocalSettings, Instant)>,
    peer: PeerSettings,
    /// The peer's first SETTINGS frame has been applied.
    peer_settings_received: bool,
    streams: StreamMap,
    open_remote: usize,
    open_local: usize,
    recent: Recent,
    last_peer_stream: u32,
    next_local_stream: u32,
    conn_send_window: i64,
    conn_recv_window: i64,
    conn_recv_target: u32,
    conn_release_pending: u64,
    shutdown: Shutdown,
    goaway_sent: Option<u32>,
    goaway_received: Option<u32>,
    error: Option<ConnectionError>,
    /// Streams the peer opened and reset before the application polled
    /// them, less the requests the application did poll.
    pending_peer_resets: u32,
    new_streams_this_recv: u32,
    local_resets: u32,
    ping_budget: Budget,
    settings_budget: Budget,
    empty_data_budget: Budget,
    priority_budget: Budget,
}

impl Connection {
    /// A server connection. Our SETTINGS is queued at once (it may go out
    /// before the client preface arrives); the client preface is expected
    /// first.
    pub fn server(config: Config, now: Instant) -> Connection {
        let mut c = Connection::new(Role::Server, config, now);
        c.phase = Phase::Preface(0);
        c.send_preface(now);
        c
    }

    /// A client connection: the preface and our SETTINGS are queued at
    /// once; the server's SETTINGS is expected first.
    pub fn client(config: Config, now: Instant) -> Connection {
        let mut c = Connection::new(Role::Client, config, now);
        c.out.extend_from_slice(PREFACE);
        c.send_preface(now);
        c
    }

    /// A server connection after an HTTP/1.1 `Upgrade: h2c` (RFC 7540
    /// section 3.2): `settings_payload` is the base64url-decoded
    /// `HTTP2-Settings` value, applied as the peer's settings (the 101
    /// response acknowledges them). The upgraded request becomes stream 1,
    /// half-closed (remote): answer it with `send_headers(StreamId::new(1),
    /// ..)`. The client preface is still expected next.
    pub fn server_upgrade(
        config: Config,
        settings_payload: &[u8],
        now: Instant,
    ) -> Result<Connection, ConnectionError> {
        let mut c = Connection::server(config, now);
        let settings = Settings::from_payload(settings_payload).ok_or(ConnectionError::new(
            ErrorCode::ProtocolError,
            "HTTP2-Settings length not a multiple of 6",
            true,
        ))?;
        if let Err(f) = c.apply_peer_settings(&settings) {
            return Err(ConnectionError::new(f.code, f.reason, true));
        }
        let mut stream = Stream::new(
            i64::from(c.peer.initial_window),
            i64::from(c.local.initial_window),
            true,
        );
        stream.recv_closed = true;
        stream.announced = true;
        c.insert_stream(1, stream);
        c.last_peer_stream = 1;
        Ok(c)
    }

    fn new(role: Role, config: Config, now: Instant) -> Connection {
        let decoder = Decoder::new().with_max_header_list_size(config.max_header_list_size);
        Connection {
            role,
            phase: Phase::FirstSettings,
            inbuf: Vec::new(),
            out: Vec::new(),
            events: VecDeque::new(),
            decoder,
            encoder: Encoder::new(),
            scratch: Vec::new(),
            block: None,
            block_buf: Vec::new(),
            head_pool: HeadPool::default(),
            local: LocalSettings {
                initial_window: DEFAULT_WINDOW,
            },
            pending_settings: VecDeque::new(),
            peer: PeerSettings {
                max_concurrent_streams: u32::MAX,
                initial_window: DEFAULT_WINDOW,
                max_frame_size: MIN_MAX_FRAME_SIZE,
                max_header_list_size: u32::MAX,
                enable_connect_protocol: false,
            },
            peer_settings_received: false,
            streams: StreamMap::default(),
            open_remote: 0,
            open_local: 0,
            recent: Recent::new(RECENT_STREAMS),
            last_peer_stream: 0,
            next_local_stream: match role {
                Role::Client => 1,
                Role::Server => 2,
            },
            conn_send_window: i64::from(DEFAULT_WINDOW),
            conn_recv_window: i64::from(DEFAULT_WINDOW),
            conn_recv_target: config.initial_connection_window.max(DEFAULT_WINDOW),
            conn_release_pending: 0,
            shutdown: Shutdown::None,
            goaway_sent: None,
            goaway_received: None,
            error: None,
            pending_peer_resets: 0,
            new_streams_this_recv: 0,
            local_resets: 0,
            ping_budget: Budget::new(config.ping_budget, now),
            settings_budget: Budget::new(config.settings_budget, now),
            empty_data_budget: Budget::new(config.empty_data_budget, now),
            priority_budget: Budget::new(config.priority_budget, now),
            config,
        }
    }

    /// Queues our SETTINGS and the connection window increase.
    fn send_preface(&mut self, now: Instant) {
        let c = &self.config;
        let mut params = vec![
            Setting {
                id: SettingId::MaxConcurrentStreams,
                value: c.max_concurrent_streams,
            },
            Setting {
                id: SettingId::InitialWindowSize,
                value: c.initial_stream_window,
            },
            Setting {
                id: SettingId::MaxFrameSize,
                value: c.max_frame_size,
            },
            Setting {
                id: SettingId::MaxHeaderListSize,
                value: c.max_header_list_size,
            },
        ];
        if c.header_table_size != flare_hpack::DEFAULT_TABLE_SIZE {
            params.push(Setting {
                id: SettingId::HeaderTableSize,
                value: c.header_table_size,
            });
        }
        match self.role {
            Role::Client => params.push(Setting {
                id: SettingId::EnablePush,
                value: 0,
            }),
            Role::Server if c.enable_connect_protocol => params.push(Setting {
                id: SettingId::EnableConnectProtocol,
                value: 1,
            }),
            Role::Server => {}
        }
        Settings::encode_params(&params, &mut self.out);
        self.pending_settings.push_back((
            LocalSettings {
                initial_window: c.initial_stream_window,
            },
            now,
        ));
        let increase = self.conn_recv_target - DEFAULT_WINDOW;
        if increase > 0 {
            WindowUpdate {
                stream_id: StreamId::ZERO,
                increment: increase,
            }
            .encode(&mut self.out);
            self.conn_recv_window += i64::from(increase);
        }
    }

    /// Which end we are.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether [`Connection::poll_event`] has an event to give (for example a
    /// `SendReady` that draining the output with `poll_output` just queued).
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next event, if any. Changed by [`Connection::recv`],
    /// [`Connection::handle_timeout`] and [`Connection::poll_output`]
    /// (which reports streams that can send again).
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        if matches!(event, Event::Headers { .. }) {
            self.pending_peer_resets = self.pending_peer_resets.saturating_sub(1);
        }
        Some(event)
    }

    /// Gives back the buffers of a [`Head`] from an [`Event::Headers`] once
    /// the application has read it: the next heads are decoded into them, so
    /// that a warm connection decodes requests without allocating. Optional;
    /// a head simply dropped is freed.
    pub fn recycle_head(&mut self, head: Head) {
        self.head_pool.recycle(head);
    }

    /// Gives back the field list of an [`Event::Trailers`] (see
    /// [`Connection::recycle_head`]).
    pub fn recycle_fields(&mut self, fields: Vec<(Vec<u8>, Vec<u8>)>) {
        self.head_pool.recycle_fields(fields);
    }

    /// Appends every queued frame to `out`. Call after `recv`, the `send_*`
    /// calls, `shutdown` and `handle_timeout`. The connection holds at most
    /// about [`Config::max_send_buffer`] octets of DATA (plus control
    /// frames), so a driver keeps its own buffer bounded by calling this
    /// only when that buffer is below its watermark. Draining may make room
    /// for blocked streams: poll events afterwards for `SendReady`.
    pub fn poll_output(&mut self, out: &mut Vec<u8>) {
        if self.out.is_empty() {
            return;
        }
        if out.is_empty() {
            std::mem::swap(out, &mut self.out);
        } else {
            out.extend_from_slice(&self.out);
            self.out.clear();
        }
        self.wake_blocked();
    }

    /// Whether [`Connection::poll_output`] has anything to write.
    pub fn wants_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// Streams currently open (any state but idle and closed).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Closed streams remembered to recognise frames in flight (bounded).
    pub fn remembered_streams(&self) -> usize {
        self.recent.len()
    }

    /// Whether the peer enabled extended CONNECT (RFC 8441), so that a
    /// client may send `:protocol`. False until the peer's SETTINGS says
    /// otherwise (see [`Connection::peer_settings_received`]).
    pub fn peer_enable_connect_protocol(&self) -> bool {
        self.peer.enable_connect_protocol
    }

    /// Whether the peer's first SETTINGS frame has arrived and been applied,
    /// so that the `peer_*` answers are the peer's and not the protocol's
    /// initial values. A client that depends on a setting (RFC 8441 section
    /// 3: extended CONNECT) waits for this. Changed by [`Connection::recv`].
    pub fn peer_settings_received(&self) -> bool {
        self.peer_settings_received
    }

    /// The peer's `SETTINGS_MAX_HEADER_LIST_SIZE` (`u32::MAX` if unset).
    pub fn peer_max_header_list_size(&self) -> u32 {
        self.peer.max_header_list_size
    }

    fn is_peer_initiated(&self, id: StreamId) -> bool {
        match self.role {
            Role::Server => id.is_client_initiated(),
            Role::Client => id.is_server_initiated(),
        }
    }

    fn insert_stream(&mut self, id: u32, stream: Stream) {
        if stream.remote {
            self.open_remote += 1;
        } else {
            self.open_local += 1;
        }
        self.streams.insert(id, stream);
    }

    /// Removes a stream, remembering how it ended; data the application
    /// did not release is released to the connection window.
    fn remove_stream(&mut self, id: u32, how: Closure) {
        if let Some(s) = self.streams.remove(&id) {
            if s.remote {
                self.open_remote -= 1;
            } else {
                self.open_local -= 1;
            }
            self.release_connection(s.unreleased);
        }
        self.recent.remember(id, how);
        self.check_closed();
    }

    /// Resets a stream because of the peer's stream error (section 5.4.2),
    /// counting it against [`Config::max_local_resets`].
    fn stream_error(&mut self, id: StreamId, code: ErrorCode) -> Result<(), Fatal> {
        self.local_resets += 1;
        // CVE-2025-8671 (MadeYouReset): each of these costs us a reset the
        // peer provoked; past the cap the peer is attacking.
        if self.local_resets > self.config.max_local_resets {
            return Err(fatal(ErrorCode::EnhanceYourCalm, "too many stream errors"));
        }
        RstStream {
            stream_id: id,
            code,
        }
        .encode(&mut self.out);
        let (announced, remote) = self
            .streams
            .get(&id.value())
            .map_or((false, false), |s| (s.announced, s.remote));
        // A peer stream the application has not polled yet vanishes from
        // the queue; one it knows about (or opened) gets an event.
        if announced && !(remote && self.forget_unseen(id)) {
            self.events.push_back(Event::StreamReset {
                id,
                code,
                by_peer: false,
            });
        }
        self.remove_stream(id.value(), Closure::ResetByUs);
        Ok(())
    }

    /// If the application has not polled `id`'s `Headers` event yet, drops
    /// every queued event of the stream (no handler should start work on a
    /// stream that is already reset) and returns true.
    fn forget_unseen(&mut self, id: StreamId) -> bool {
        let unseen = self
            .events
            .iter()
            .any(|e| matches!(e, Event::Headers { id: h, .. } if *h == id));
        if unseen {
            self.events.retain(|e| event_stream(e) != Some(id));
        }
        unseen
    }
}

/// The stream an event is about, if any.
fn event_stream(e: &Event) -> Option<StreamId> {
    match e {
        Event::Headers { id, .. }
        | Event::Data { id, .. }
        | Event::Trailers { id, .. }
        | Event::StreamReset { id, .. }
        | Event::SendReady { id } => Some(*id),
        Event::GoAway { .. } => None,
    }
}
