//! Limits and behaviour knobs of a [`crate::WebSocket`].

use std::time::Duration;

/// Configuration of one WebSocket connection. Every limit has a safe
/// default and a builder method; the getters are named `get_*`.
///
/// ```
/// use std::time::Duration;
/// let config = flare_ws::Config::default()
///     .max_message_size(1 << 20)
///     .close_timeout(Duration::from_secs(2));
/// assert_eq!(config.get_max_message_size(), 1 << 20);
/// ```
///
/// | knob | default | what it prevents |
/// |---|---|---|
/// | [`Config::max_frame_size`] | 16 MiB | one frame announcing a huge length (close 1009 as soon as the header is read) |
/// | [`Config::max_message_size`] | 16 MiB | a message (after inflation) that would grow the message buffer without bound (close 1009, counted while inflating) |
/// | [`Config::max_fragments`] | 131,072 | a message sent as millions of tiny fragments, each costing a header parse (close 1008) |
/// | [`Config::max_control_frames_per_sec`] | 100 | ping/pong floods (close 1008) |
/// | [`Config::close_timeout`] | 5 s | a peer that never answers our close frame |
/// | [`Config::compression_threshold`] | 32 bytes | wasting CPU deflating payloads too small to shrink |
/// | [`Config::retain_buffer`] | 8 KiB | one large message pinning its buffer on an idle connection |
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    max_frame_size: u64,
    max_message_size: usize,
    max_fragments: u32,
    max_control_frames_per_sec: u32,
    close_timeout: Duration,
    auto_pong: bool,
    compression_threshold: usize,
    retain_deflate_state: bool,
    deflate_level: u8,
    retain_buffer: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            max_fragments: 1 << 17,
            max_control_frames_per_sec: 100,
            close_timeout: Duration::from_secs(5),
            auto_pong: true,
            compression_threshold: 32,
            retain_deflate_state: false,
            deflate_level: 1,
            retain_buffer: 8 * 1024,
        }
    }
}

impl Config {
    /// Largest payload of one received frame, as announced in its header.
    /// Default 16 MiB. A larger frame fails the connection with close 1009
    /// ([`crate::Error::TooBig`]) before any of its payload is read.
    pub fn max_frame_size(mut self, n: u64) -> Self {
        self.max_frame_size = n;
        self
    }

    /// Largest received message (the sum of its fragments' payloads, after
    /// inflation when compressed). Default 16 MiB. Larger messages fail the
    /// connection with close 1009 ([`crate::Error::TooBig`]); inflation is
    /// stopped as soon as the output passes the limit, so a compression bomb
    /// costs at most this much memory.
    pub fn max_message_size(mut self, n: usize) -> Self {
        self.max_message_size = n;
        self
    }

    /// Most frames one data message may arrive in. Default 131,072 (a 16 MiB
    /// message in 128-byte fragments; Autobahn 9.3/9.4 send 4 MiB in 64-byte
    /// fragments, 65,536 of them; memory is bounded by the message size either way,
    /// this bounds the header work). More fail the connection with close 1008
    /// ([`crate::Error::Policy`]): the message is not too big, the way it is
    /// sent is abusive, so 1009 would mislead.
    pub fn max_fragments(mut self, n: u32) -> Self {
        self.max_fragments = n.max(1);
        self
    }

    /// Most control frames (ping and pong; close ends the connection anyway)
    /// accepted from the peer in any one-second window measured on the `now`
    /// passed to [`crate::WebSocket::read`]. Default 100. More fail the
    /// connection with close 1008 ([`crate::Error::Policy`]).
    pub fn max_control_frames_per_sec(mut self, n: u32) -> Self {
        self.max_control_frames_per_sec = n;
        self
    }

    /// How long to wait for the peer's close frame after sending ours (and,
    /// for a client, for the server to close TCP afterwards). Default 5 s.
    pub fn close_timeout(mut self, d: Duration) -> Self {
        self.close_timeout = d;
        self
    }

    /// Answer pings with pongs automatically. Default `true`. Owed pongs are
    /// bounded: RFC 6455 section 5.5.3 "an endpoint MAY elect to send a Pong
    /// frame for only the most recently processed Ping frame", so only the
    /// latest unanswered ping's pong is kept until [`crate::WebSocket::poll_output`].
    pub fn auto_pong(mut self, on: bool) -> Self {
        self.auto_pong = on;
        self
    }

    /// With permessage-deflate negotiated, messages shorter than this are
    /// sent uncompressed (RSV1 clear). Default 32 bytes.
    pub fn compression_threshold(mut self, n: usize) -> Self {
        self.compression_threshold = n;
        self
    }

    /// With `*_no_context_takeover` negotiated, keep the deflate state in
    /// the connection between messages (reset in place). Default `false`:
    /// release it after each message, so an idle connection holds none.
    /// A released state goes to a small per-thread pool (at most 4
    /// compressors and 4 decompressors per thread, beyond that freed) and
    /// the next compressed message on that thread, on any connection,
    /// takes it back and resets it, so releasing costs no allocation at
    /// steady state. With context takeover the state must be kept anyway.
    pub fn retain_deflate_state(mut self, on: bool) -> Self {
        self.retain_deflate_state = on;
        self
    }

    /// The DEFLATE level for messages we compress, 0 (stored) to 10.
    /// Default 1: fast, and most of the gain on typical JSON.
    pub fn deflate_level(mut self, level: u8) -> Self {
        self.deflate_level = level.min(10);
        self
    }

    /// The message buffer is kept between messages (no allocation per
    /// message at steady state) while it is at most this big; after a
    /// larger message it is freed, so one big message does not pin memory
    /// on an idle connection. Default 8 KiB: small enough for the idle
    /// budget of ~16 KiB per connection, while zero-copy messages (whole
    /// uncompressed frames in the read buffer) never use this buffer.
    pub fn retain_buffer(mut self, n: usize) -> Self {
        self.retain_buffer = n;
        self
    }

    /// See [`Config::deflate_level`].
    pub fn get_deflate_level(&self) -> u8 {
        self.deflate_level
    }
    /// See [`Config::retain_buffer`].
    pub fn get_retain_buffer(&self) -> usize {
        self.retain_buffer
    }
    /// See [`Config::max_frame_size`].
    pub fn get_max_frame_size(&self) -> u64 {
        self.max_frame_size
    }
    /// See [`Config::max_message_size`].
    pub fn get_max_message_size(&self) -> usize {
        self.max_message_size
    }
    /// See [`Config::max_fragments`].
    pub fn get_max_fragments(&self) -> u32 {
        self.max_fragments
    }
    /// See [`Config::max_control_frames_per_sec`].
    pub fn get_max_control_frames_per_sec(&self) -> u32 {
        self.max_control_frames_per_sec
    }
    /// See [`Config::close_timeout`].
    pub fn get_close_timeout(&self) -> Duration {
        self.close_timeout
    }
    /// See [`Config::auto_pong`].
    pub fn get_auto_pong(&self) -> bool {
        self.auto_pong
    }
    /// See [`Config::compression_threshold`].
    pub fn get_compression_threshold(&self) -> usize {
        self.compression_threshold
    }
    /// See [`Config::retain_deflate_state`].
    pub fn get_retain_deflate_state(&self) -> bool {
        self.retain_deflate_state
    }
}
