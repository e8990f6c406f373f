//! Frames from the peer.

use std::time::Instant;

use super::{fatal, Connection, Event, Fatal, Phase, Role, Shutdown, PREFACE, SHUTDOWN_PING};
use crate::config::MAX_WINDOW;
use crate::frame::{Data, Frame, FrameHeader, GoAway, Ping, Priority};
use crate::frame::{
    RstStream, SettingId, Settings, WindowUpdate, MAX_MAX_FRAME_SIZE, MIN_MAX_FRAME_SIZE,
};
use crate::stream::Closure;
use crate::{ConnectionError, ErrorCode, StreamId};

/// What we know about a stream that is not open.
pub(super) enum NotOpen {
    /// Never opened (section 5.1 "idle").
    Idle,
    /// Closed recently, and how.
    Recent(Closure),
    /// Closed long ago (or skipped, which closes it implicitly).
    Forgotten,
}

impl Connection {
    /// Feeds octets read from the transport, split anywhere. Frames are
    /// processed as they complete; events and output queue up.
    ///
    /// Returns `Err` only for a connection error: GOAWAY is then queued in
    /// the output and the connection is closed (later calls return the same
    /// error). Stream errors become RST_STREAM in the output and never
    /// `Err`.
    pub fn recv(&mut self, data: &[u8], now: Instant) -> Result<(), ConnectionError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.phase == Phase::Closed {
            return Ok(());
        }
        self.new_streams_this_recv = 0;
        let mut buf = std::mem::take(&mut self.inbuf);
        let result = if buf.is_empty() {
            self.process(data, now)
                .map(|used| buf.extend_from_slice(data.get(used..).unwrap_or_default()))
        } else {
            buf.extend_from_slice(data);
            self.process(&buf, now).map(|used| {
                buf.drain(..used.min(buf.len()));
            })
        };
        self.inbuf = buf;
        result.map_err(|f| {
            self.inbuf.clear();
            self.fail(f)
        })
    }

    /// Processes whole frames from `input`; returns the octets used.
    fn process(&mut self, input: &[u8], now: Instant) -> Result<usize, Fatal> {
        let mut pos = 0;
        if let Phase::Preface(matched) = self.phase {
            let want = PREFACE.get(matched..).unwrap_or_default();
            let n = want.len().min(input.len());
            if input.get(..n) != want.get(..n) {
                return Err(fatal(
                    ErrorCode::ProtocolError,
                    "invalid connection preface",
                ));
            }
            pos = n;
            if matched + n < PREFACE.len() {
                self.phase = Phase::Preface(matched + n);
                return Ok(pos);
            }
            self.phase = Phase::FirstSettings;
        }
        while self.phase != Phase::Closed {
            let rest = input.get(pos..).unwrap_or_default();
            match Frame::decode(rest, self.config.max_frame_size) {
                Ok(None) => break,
                Ok(Some((frame, used))) => {
                    pos += used;
                    if self.phase == Phase::FirstSettings {
                        // Section 3.4: the preface's SETTINGS "MUST be the
                        // first frame the client sends" (and the server's).
                        if !matches!(frame, Frame::Settings(s) if !s.ack) {
                            return Err(fatal(
                                ErrorCode::ProtocolError,
                                "first frame is not SETTINGS",
                            ));
                        }
                        self.phase = Phase::Open;
                    }
                    self.handle_frame(frame, now)?;
                }
                Err(e) => match (e.stream_scope(), FrameHeader::decode(rest)) {
                    (Some(id), Some(h)) if self.block.is_none() && self.phase == Phase::Open => {
                        let used = FrameHeader::LEN + h.length as usize;
                        if rest.len() < used {
                            break;
                        }
                        pos += used;
                        self.stream_error(id, e.code())?;
                    }
                    _ => return Err(fatal(e.code(), e.reason())),
                },
            }
        }
        Ok(pos)
    }

    fn handle_frame(&mut self, frame: Frame<'_>, now: Instant) -> Result<(), Fatal> {
        if let Some(block) = self.block {
            // Section 6.2: a field block "MUST be transmitted as a
            // contiguous sequence of frames, with no interleaved frames of
            // any other type or from any other stream".
            return match frame {
                Frame::Continuation(c) if c.stream_id == block.stream => self.on_continuation(c),
                _ => Err(fatal(
                    ErrorCode::ProtocolError,
                    "frame interleaved in a header block",
                )),
            };
        }
        match frame {
            Frame::Data(f) => self.on_data(f, now),
            Frame::Headers(f) => self.on_headers(f),
            Frame::Priority(f) => self.on_priority(f, now),
            Frame::RstStream(f) => self.on_rst_stream(f),
            Frame::Settings(f) => self.on_settings(f, now),
            // We never enable push: as server a client may not push, as
            // client we sent ENABLE_PUSH 0 (section 6.6, 8.4).
            Frame::PushPromise(_) => {
                Err(fatal(ErrorCode::ProtocolError, "PUSH_PROMISE not allowed"))
            }
            Frame::Ping(f) => self.on_ping(f, now),
            Frame::GoAway(f) => self.on_goaway(f),
            Frame::WindowUpdate(f) => self.on_window_update(f),
            Frame::Continuation(_) => Err(fatal(
                ErrorCode::ProtocolError,
                "CONTINUATION without a header block",
            )),
            // Section 4.1: "Implementations MUST ignore and discard frames
            // of unknown types."
            _ => Ok(()),
        }
    }

    pub(super) fn not_open(&self, id: StreamId) -> NotOpen {
        let v = id.value();
        let idle = if self.is_peer_initiated(id) {
            v > self.last_peer_stream
        } else {
            v >= self.next_local_stream
        };
        if idle {
            return NotOpen::Idle;
        }
        self.recent
            .get(v)
            .map_or(NotOpen::Forgotten, NotOpen::Recent)
    }

    fn on_data(&mut self, f: Data<'_>, now: Instant) -> Result<(), Fatal> {
        let flow = f.flow_len() as i64;
        // Section 6.9.1: a sender "MUST NOT send a flow-controlled frame
        // with a length that exceeds the space available".
        if flow > self.conn_recv_window {
            return Err(fatal(
                ErrorCode::FlowControlError,
                "connection window exceeded",
            ));
        }
        self.conn_recv_window -= flow;
        if f.data.is_empty()
            && !f.end_stream
            && !self.empty_data_budget.spend(now, self.config.flood_window)
        {
            return Err(fatal(ErrorCode::EnhanceYourCalm, "empty DATA flood"));
        }
        let id = f.stream_id;
        let v = id.value();
        let Some(s) = self.streams.get_mut(&v) else {
            // Nobody will consume it.
            self.release_connection(flow as u64);
            return match self.not_open(id) {
                NotOpen::Idle => Err(fatal(ErrorCode::ProtocolError, "DATA on an idle stream")),
                NotOpen::Recent(Closure::ResetByUs) => Ok(()),
                // RFC 7540 section 5.1: "An endpoint that receives any
                // frames after receiving a frame with the END_STREAM flag set
                // MUST treat that as a connection error ... STREAM_CLOSED".
                NotOpen::Recent(Closure::Ended) => {
                    Err(fatal(ErrorCode::StreamClosed, "DATA after END_STREAM"))
                }
                NotOpen::Recent(_) => self.stream_error(id, ErrorCode::StreamClosed),
                NotOpen::Forgotten => {
                    Err(fatal(ErrorCode::StreamClosed, "DATA on a closed stream"))
                }
            };
        };
        if s.recv_closed {
            self.release_connection(flow as u64);
            return self.stream_error(id, ErrorCode::StreamClosed);
        }
        if !s.remote && !s.head_received {
            self.release_connection(flow as u64);
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        if flow > s.recv_window {
            self.release_connection(flow as u64);
            return self.stream_error(id, ErrorCode::FlowControlError);
        }
        s.recv_window -= flow;
        let len = f.data.len() as u64;
        s.received += len;
        let over = s
            .content_length
            .is_some_and(|n| s.received > n || (f.end_stream && s.received != n));
        if over {
            self.release_connection(flow as u64);
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        s.unreleased += len;
        if f.end_stream {
            s.recv_closed = true;
        }
        if !f.data.is_empty() || f.end_stream {
            self.events.push_back(Event::Data {
                id,
                data: f.data.to_vec(),
                end_stream: f.end_stream,
            });
        }
        // Padding is never seen by the application: release it now.
        let padding = flow as u64 - len;
        if padding > 0 {
            self.release_connection(padding);
            self.release_stream(v, padding);
        }
        if f.end_stream {
            self.after_recv_end(id);
        }
        Ok(())
    }

    fn on_priority(&mut self, f: Priority, now: Instant) -> Result<(), Fatal> {
        if !self.priority_budget.spend(now, self.config.flood_window) {
            return Err(fatal(ErrorCode::EnhanceYourCalm, "PRIORITY flood"));
        }
        if f.spec.dependency == f.stream_id {
            return self.stream_error(f.stream_id, ErrorCode::ProtocolError);
        }
        Ok(())
    }

    fn on_rst_stream(&mut self, f: RstStream) -> Result<(), Fatal> {
        let id = f.stream_id;
        let v = id.value();
        let Some(s) = self.streams.get(&v) else {
            return match self.not_open(id) {
                // Section 6.4: RST_STREAM on an idle stream is a connection
                // error of type PROTOCOL_ERROR.
                NotOpen::Idle => Err(fatal(
                    ErrorCode::ProtocolError,
                    "RST_STREAM on an idle stream",
                )),
                _ => Ok(()),
            };
        };
        let unanswered = s.remote && !s.head_sent;
        let announced = s.announced;
        // A stream whose request the application has not even polled yet
        // vanishes from the queue: no handler runs for it.
        let unseen = unanswered && announced && self.forget_unseen(id);
        if announced && !unseen {
            self.events.push_back(Event::StreamReset {
                id,
                code: f.code,
                by_peer: true,
            });
        }
        self.remove_stream(v, Closure::ResetByPeer);
        if unseen {
            // CVE-2023-44487 (rapid reset): streams opened and cancelled
            // before the application saw them. Each request the application
            // does take (poll_event) pays one back.
            self.pending_peer_resets += 1;
            if self.pending_peer_resets > self.config.max_pending_reset_streams {
                return Err(fatal(
                    ErrorCode::EnhanceYourCalm,
                    "too many streams reset by the peer",
                ));
            }
        }
        Ok(())
    }

    fn on_settings(&mut self, f: Settings<'_>, now: Instant) -> Result<(), Fatal> {
        if f.ack {
            // Our settings apply from the acknowledgement on.
            if let Some((acked, _)) = self.pending_settings.pop_front() {
                let delta = i64::from(acked.initial_window) - i64::from(self.local.initial_window);
                self.local = acked;
                for s in self.streams.values_mut() {
                    s.recv_window += delta;
                }
                self.decoder
                    .set_max_table_size(self.config.header_table_size);
            }
            return Ok(());
        }
        if !self.settings_budget.spend(now, self.config.flood_window) {
            return Err(fatal(ErrorCode::EnhanceYourCalm, "SETTINGS flood"));
        }
        self.apply_peer_settings(&f)?;
        self.peer_settings_received = true;
        // Section 6.5.3: "Upon receiving a SETTINGS frame with the ACK flag
        // not set, the recipient MUST immediately ... send a SETTINGS frame
        // with the ACK flag set."
        Settings::ACK.encode(&mut self.out);
        self.wake_blocked();
        Ok(())
    }

    pub(super) fn apply_peer_settings(&mut self, f: &Settings<'_>) -> Result<(), Fatal> {
        for p in f.params() {
            match p.id {
                SettingId::HeaderTableSize => self.encoder.set_peer_max_table_size(p.value),
                SettingId::EnablePush => {
                    if p.value > 1 || (self.role == Role::Client && p.value == 1) {
                        return Err(fatal(
                            ErrorCode::ProtocolError,
                            "invalid SETTINGS_ENABLE_PUSH",
                        ));
                    }
                }
                SettingId::MaxConcurrentStreams => self.peer.max_concurrent_streams = p.value,
                SettingId::InitialWindowSize => {
                    if p.value > MAX_WINDOW {
                        return Err(fatal(
                            ErrorCode::FlowControlError,
                            "SETTINGS_INITIAL_WINDOW_SIZE too large",
                        ));
                    }
                    // Section 6.9.2: the change applies to every open
                    // stream's window, which may go negative.
                    let delta = i64::from(p.value) - i64::from(self.peer.initial_window);
                    self.peer.initial_window = p.value;
                    for s in self.streams.values_mut() {
                        s.send_window += delta;
                        if s.send_window > i64::from(MAX_WINDOW) {
                            return Err(fatal(
                                ErrorCode::FlowControlError,
                                "stream window overflow",
                            ));
                        }
                    }
                }
                SettingId::MaxFrameSize => {
                    if !(MIN_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&p.value) {
                        return Err(fatal(
                            ErrorCode::ProtocolError,
                            "invalid SETTINGS_MAX_FRAME_SIZE",
                        ));
                    }
                    self.peer.max_frame_size = p.value;
                }
                SettingId::MaxHeaderListSize => self.peer.max_header_list_size = p.value,
                SettingId::EnableConnectProtocol => {
                    if p.value > 1 {
                        return Err(fatal(
                            ErrorCode::ProtocolError,
                            "invalid SETTINGS_ENABLE_CONNECT_PROTOCOL",
                        ));
                    }
                    self.peer.enable_connect_protocol = p.value == 1;
                }
                SettingId::Unknown(_) => {}
            }
        }
        Ok(())
    }

    fn on_ping(&mut self, f: Ping, now: Instant) -> Result<(), Fatal> {
        if f.ack {
            if f.payload == SHUTDOWN_PING && matches!(self.shutdown, Shutdown::AwaitingPing { .. })
            {
                self.send_final_goaway();
            }
            return Ok(());
        }
        if !self.ping_budget.spend(now, self.config.flood_window) {
            return Err(fatal(ErrorCode::EnhanceYourCalm, "PING flood"));
        }
        Ping {
            ack: true,
            payload: f.payload,
        }
        .encode(&mut self.out);
        Ok(())
    }

    fn on_goaway(&mut self, f: GoAway<'_>) -> Result<(), Fatal> {
        let last = f.last_stream_id.value();
        let first = self.goaway_received.is_none();
        let lowered = self.goaway_received.map_or(true, |l| last < l);
        self.goaway_received = Some(self.goaway_received.map_or(last, |l| l.min(last)));
        if first || lowered {
            self.events.push_back(Event::GoAway {
                last_stream_id: f.last_stream_id,
                code: f.code,
                debug: f.debug.to_vec(),
            });
        }
        // Streams we opened above `last` were not processed: fail them so
        // the application can retry them elsewhere.
        let refused: Vec<u32> = self
            .streams
            .iter()
            .filter(|(&id, s)| !s.remote && id > last)
            .map(|(&id, _)| id)
            .collect();
        for id in refused {
            self.events.push_back(Event::StreamReset {
                id: StreamId::new(id),
                code: ErrorCode::RefusedStream,
                by_peer: true,
            });
            self.remove_stream(id, Closure::ResetByPeer);
        }
        self.check_closed();
        Ok(())
    }

    fn on_window_update(&mut self, f: WindowUpdate) -> Result<(), Fatal> {
        let inc = i64::from(f.increment);
        if f.stream_id.is_zero() {
            // Section 6.9: an increment of 0 on the connection is a
            // connection error; past 2^31-1 a FLOW_CONTROL_ERROR.
            if inc == 0 {
                return Err(fatal(ErrorCode::ProtocolError, "WINDOW_UPDATE of 0"));
            }
            self.conn_send_window += inc;
            if self.conn_send_window > i64::from(MAX_WINDOW) {
                return Err(fatal(
                    ErrorCode::FlowControlError,
                    "connection window overflow",
                ));
            }
            self.wake_blocked();
            return Ok(());
        }
        let id = f.stream_id;
        let Some(s) = self.streams.get_mut(&id.value()) else {
            return match self.not_open(id) {
                NotOpen::Idle => Err(fatal(
                    ErrorCode::ProtocolError,
                    "WINDOW_UPDATE on an idle stream",
                )),
                _ => Ok(()),
            };
        };
        if inc == 0 {
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        s.send_window += inc;
        if s.send_window > i64::from(MAX_WINDOW) {
            return self.stream_error(id, ErrorCode::FlowControlError);
        }
        self.wake_blocked();
        Ok(())
    }
}
