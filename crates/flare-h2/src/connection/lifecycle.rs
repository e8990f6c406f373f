//! How a connection ends: timeouts, graceful shutdown with two GOAWAYs,
//! connection errors, and closing once the last stream is done.

use std::time::Instant;

use super::{fatal, Connection, Fatal, Phase, Role, Shutdown, SHUTDOWN_PING};
use crate::frame::{GoAway, Ping};
use crate::{ConnectionError, ErrorCode, StreamId};

impl Connection {
    /// When [`Connection::handle_timeout`] must be called next: the
    /// SETTINGS acknowledgement deadline or the graceful shutdown's PING
    /// deadline. Changed by every other call.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Closed {
            return None;
        }
        let settings = self
            .pending_settings
            .front()
            .map(|(_, sent)| *sent + self.config.settings_ack_timeout);
        let shutdown = match self.shutdown {
            Shutdown::AwaitingPing { deadline } => Some(deadline),
            _ => None,
        };
        match (settings, shutdown) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Acts on deadlines that passed by `now`: an unacknowledged SETTINGS
    /// ends the connection with `SETTINGS_TIMEOUT` (GOAWAY is queued and
    /// [`Connection::is_closed`] becomes true; see [`Connection::error`]);
    /// an unanswered shutdown PING sends the final GOAWAY.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Closed {
            return;
        }
        if let Some((_, sent)) = self.pending_settings.front() {
            if now >= *sent + self.config.settings_ack_timeout {
                self.fail(fatal(
                    ErrorCode::SettingsTimeout,
                    "SETTINGS not acknowledged in time",
                ));
                return;
            }
        }
        if let Shutdown::AwaitingPing { deadline } = self.shutdown {
            if now >= deadline {
                self.send_final_goaway();
            }
        }
    }

    /// Graceful shutdown (RFC 9113 section 6.8): a server sends
    /// GOAWAY(2^31-1) and a PING, then GOAWAY with the real last stream id
    /// after the PING's ACK (or [`crate::Config::shutdown_timeout`]). Streams up to
    /// that id complete; later ones are ignored. A client sends one GOAWAY.
    /// The connection is closed once no stream is left.
    pub fn shutdown(&mut self, now: Instant) {
        if self.phase == Phase::Closed || self.shutdown != Shutdown::None {
            return;
        }
        match self.role {
            Role::Server => {
                self.write_goaway(StreamId::MAX.value(), ErrorCode::NoError, b"");
                Ping {
                    ack: false,
                    payload: SHUTDOWN_PING,
                }
                .encode(&mut self.out);
                self.shutdown = Shutdown::AwaitingPing {
                    deadline: now + self.config.shutdown_timeout,
                };
            }
            Role::Client => self.send_final_goaway(),
        }
    }

    pub(super) fn send_final_goaway(&mut self) {
        self.write_goaway(self.last_peer_stream, ErrorCode::NoError, b"");
        self.shutdown = Shutdown::Done;
        self.check_closed();
    }

    pub(super) fn write_goaway(&mut self, last: u32, code: ErrorCode, debug: &[u8]) {
        // Section 6.8: "Endpoints MUST NOT increase the value they send in
        // the last stream identifier".
        let last = self.goaway_sent.map_or(last, |l| l.min(last));
        GoAway {
            last_stream_id: StreamId::new(last),
            code,
            debug,
        }
        .encode(&mut self.out);
        self.goaway_sent = Some(last);
    }

    /// Closed when nothing more can happen: after a connection error, or
    /// when a GOAWAY was exchanged and the last stream finished. The driver
    /// flushes [`Connection::poll_output`] and closes the socket.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The connection error that ended the connection, if any.
    pub fn error(&self) -> Option<ConnectionError> {
        self.error
    }

    /// Ends the connection with a connection error: GOAWAY is queued and
    /// every stream dropped.
    pub(super) fn fail(&mut self, f: Fatal) -> ConnectionError {
        if let Some(e) = self.error {
            return e;
        }
        let last = self.last_peer_stream;
        self.write_goaway(last, f.code, f.reason.as_bytes());
        let err = ConnectionError::new(f.code, f.reason, true);
        self.error = Some(err);
        self.phase = Phase::Closed;
        self.streams.clear();
        self.open_local = 0;
        self.open_remote = 0;
        self.block = None;
        err
    }

    /// Closes gracefully once a GOAWAY went either way and no stream is
    /// left.
    pub(super) fn check_closed(&mut self) {
        if self.phase == Phase::Closed || !self.streams.is_empty() {
            return;
        }
        let final_sent = self.shutdown == Shutdown::Done;
        if self.goaway_received.is_some() && self.goaway_sent.is_none() {
            self.write_goaway(self.last_peer_stream, ErrorCode::NoError, b"");
            self.phase = Phase::Closed;
        } else if final_sent || self.goaway_received.is_some() {
            self.phase = Phase::Closed;
        }
    }
}
