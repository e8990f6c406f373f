//! Connection settings and limits, each with its default and the failure or
//! attack it guards against.

use std::time::Duration;

use crate::frame::{MAX_MAX_FRAME_SIZE, MIN_MAX_FRAME_SIZE};

/// The largest flow-control window, 2^31-1 (RFC 9113 section 6.9.1).
pub const MAX_WINDOW: u32 = 0x7fff_ffff;

/// Settings we advertise and limits we enforce. Build with [`Config::new`]
/// and the builder methods; every method documents its default.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) max_concurrent_streams: u32,
    pub(crate) initial_stream_window: u32,
    pub(crate) initial_connection_window: u32,
    pub(crate) max_frame_size: u32,
    pub(crate) max_header_list_size: u32,
    pub(crate) header_table_size: u32,
    pub(crate) enable_connect_protocol: bool,
    pub(crate) max_continuation_frames: u32,
    pub(crate) max_header_block_bytes: usize,
    pub(crate) max_pending_reset_streams: u32,
    pub(crate) max_new_streams_per_recv: u32,
    pub(crate) max_local_resets: u32,
    pub(crate) ping_budget: u32,
    pub(crate) settings_budget: u32,
    pub(crate) empty_data_budget: u32,
    pub(crate) priority_budget: u32,
    pub(crate) flood_window: Duration,
    pub(crate) settings_ack_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) max_send_buffer: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// The defaults listed on each builder method.
    pub fn new() -> Self {
        Config {
            max_concurrent_streams: 128,
            initial_stream_window: 1 << 20,
            initial_connection_window: 1 << 20,
            max_frame_size: MIN_MAX_FRAME_SIZE,
            max_header_list_size: 16 * 1024,
            header_table_size: 4096,
            enable_connect_protocol: false,
            max_continuation_frames: 16,
            max_header_block_bytes: 64 * 1024,
            max_pending_reset_streams: 20,
            max_new_streams_per_recv: 256,
            max_local_resets: 1024,
            ping_budget: 100,
            settings_budget: 100,
            empty_data_budget: 100,
            priority_budget: 1000,
            flood_window: Duration::from_secs(10),
            settings_ack_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            max_send_buffer: 256 * 1024,
        }
    }

    /// `SETTINGS_MAX_CONCURRENT_STREAMS` advertised and enforced; default
    /// 128. A peer stream beyond it is refused with RST_STREAM
    /// `REFUSED_STREAM` (bounds per-connection state).
    pub fn max_concurrent_streams(mut self, n: u32) -> Self {
        self.max_concurrent_streams = n;
        self
    }

    /// `SETTINGS_INITIAL_WINDOW_SIZE`: how much each stream may send before
    /// we release capacity; default 1 MiB, at most 2^31-1. Bounds the body
    /// bytes buffered per stream.
    pub fn initial_stream_window(mut self, bytes: u32) -> Self {
        self.initial_stream_window = bytes.min(MAX_WINDOW);
        self
    }

    /// The connection-level receive window; default 1 MiB, at least 65,535
    /// (the protocol's initial value, which cannot be shrunk), at most
    /// 2^31-1. Bounds the body bytes buffered per connection.
    pub fn initial_connection_window(mut self, bytes: u32) -> Self {
        self.initial_connection_window = bytes.min(MAX_WINDOW);
        self
    }

    /// `SETTINGS_MAX_FRAME_SIZE` we accept; default 16,384, clamped to
    /// 16,384..=16,777,215. Larger frames are a `FRAME_SIZE_ERROR` and are
    /// rejected before their payload is buffered.
    pub fn max_frame_size(mut self, bytes: u32) -> Self {
        self.max_frame_size = bytes.clamp(MIN_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE);
        self
    }

    /// `SETTINGS_MAX_HEADER_LIST_SIZE` advertised and enforced; default
    /// 16 KiB. A request over it is answered 431; a block over four times it
    /// (HPACK bomb) ends the connection with `ENHANCE_YOUR_CALM`.
    pub fn max_header_list_size(mut self, bytes: u32) -> Self {
        self.max_header_list_size = bytes;
        self
    }

    /// `SETTINGS_HEADER_TABLE_SIZE` for our HPACK decoder; default 4096.
    /// Bounds the decoder's dynamic table memory.
    pub fn header_table_size(mut self, bytes: u32) -> Self {
        self.header_table_size = bytes;
        self
    }

    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL` (RFC 8441, WebSocket over h2);
    /// default false. When false, a request with `:protocol` is malformed.
    pub fn enable_connect_protocol(mut self, on: bool) -> Self {
        self.enable_connect_protocol = on;
        self
    }

    /// CONTINUATION frames allowed per header block; default 16. More is a
    /// CONTINUATION flood (CVE-2024-27316 family): GOAWAY
    /// `ENHANCE_YOUR_CALM`.
    pub fn max_continuation_frames(mut self, n: u32) -> Self {
        self.max_continuation_frames = n;
        self
    }

    /// Bytes of one assembled (still compressed) header block; default
    /// 64 KiB. More: GOAWAY `ENHANCE_YOUR_CALM`. Bounds the block buffer.
    pub fn max_header_block_bytes(mut self, bytes: usize) -> Self {
        self.max_header_block_bytes = bytes;
        self
    }

    /// Streams the peer may open and reset before the application polled
    /// them, net of the requests the application did poll (each polled
    /// request pays one back); default 20. Such streams are dropped from
    /// the event queue, so no handler runs for them. More: GOAWAY
    /// `ENHANCE_YOUR_CALM` (rapid reset, CVE-2023-44487).
    pub fn max_pending_reset_streams(mut self, n: u32) -> Self {
        self.max_pending_reset_streams = n;
        self
    }

    /// New streams the peer may open within one [`crate::Connection::recv`]
    /// call; default 256. More: GOAWAY `ENHANCE_YOUR_CALM` (rapid reset
    /// with streams refused or reset within one read).
    pub fn max_new_streams_per_recv(mut self, n: u32) -> Self {
        self.max_new_streams_per_recv = n;
        self
    }

    /// RST_STREAM frames we may send because of the peer's stream errors
    /// over the connection's life; default 1024. More: GOAWAY
    /// `ENHANCE_YOUR_CALM` (MadeYouReset, CVE-2025-8671).
    pub fn max_local_resets(mut self, n: u32) -> Self {
        self.max_local_resets = n;
        self
    }

    /// PING frames (not ACKs) accepted per flood window; default 100.
    /// More: GOAWAY `ENHANCE_YOUR_CALM`.
    pub fn ping_budget(mut self, n: u32) -> Self {
        self.ping_budget = n;
        self
    }

    /// SETTINGS frames (not ACKs) accepted per flood window; default 100.
    /// More: GOAWAY `ENHANCE_YOUR_CALM`.
    pub fn settings_budget(mut self, n: u32) -> Self {
        self.settings_budget = n;
        self
    }

    /// Empty DATA frames without END_STREAM accepted per flood window;
    /// default 100. More: GOAWAY `ENHANCE_YOUR_CALM`.
    pub fn empty_data_budget(mut self, n: u32) -> Self {
        self.empty_data_budget = n;
        self
    }

    /// PRIORITY frames accepted per flood window; default 1000. More:
    /// GOAWAY `ENHANCE_YOUR_CALM`.
    pub fn priority_budget(mut self, n: u32) -> Self {
        self.priority_budget = n;
        self
    }

    /// The period over which the flood budgets are counted; default 10 s.
    pub fn flood_window(mut self, window: Duration) -> Self {
        self.flood_window = window;
        self
    }

    /// How long the peer has to acknowledge our SETTINGS; default 10 s.
    /// Then: GOAWAY `SETTINGS_TIMEOUT`.
    pub fn settings_ack_timeout(mut self, timeout: Duration) -> Self {
        self.settings_ack_timeout = timeout;
        self
    }

    /// How long a graceful shutdown waits for the PING round trip before
    /// sending the final GOAWAY; default 5 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Output bytes held by the connection before `send_data` accepts no
    /// more (the driver drains them with `poll_output`); default 256 KiB.
    /// Bounds our own memory when the peer grants huge windows.
    pub fn max_send_buffer(mut self, bytes: usize) -> Self {
        self.max_send_buffer = bytes;
        self
    }
}
