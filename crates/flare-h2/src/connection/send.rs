//! The application's side: heads, data, trailers, resets, flow-control
//! releases and (client) new requests.

use std::borrow::Cow;

use flare_hpack::Field;

use super::{Connection, Phase, Role};
use crate::frame::{Continuation, Data, FrameHeader, FrameType, Headers, RstStream};
use crate::frame::{FLAG_END_HEADERS, FLAG_END_STREAM};
use crate::head::{is_connection_specific, status_bytes};
use crate::stream::{Closure, Stream};
use crate::{ErrorCode, StreamError, StreamId};

/// The pseudo-headers of a request a client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// `:method`.
    pub method: &'a [u8],
    /// `:scheme`; empty for a plain CONNECT.
    pub scheme: &'a [u8],
    /// `:authority`; empty to omit it.
    pub authority: &'a [u8],
    /// `:path`; empty for a plain CONNECT.
    pub path: &'a [u8],
    /// `:protocol` for an extended CONNECT (RFC 8441).
    pub protocol: Option<&'a [u8]>,
}

impl<'a> Request<'a> {
    /// A request without `:protocol`.
    pub fn new(method: &'a [u8], scheme: &'a [u8], authority: &'a [u8], path: &'a [u8]) -> Self {
        Request {
            method,
            scheme,
            authority,
            path,
            protocol: None,
        }
    }
}

/// A regular field ready to encode: name lowercased; `None` when it must
/// not be sent over HTTP/2 (pseudo-header lookalikes, connection-specific
/// fields, `te` other than `trailers`).
fn outgoing<'a>(name: &'a [u8], value: &'a [u8]) -> Option<(Cow<'a, [u8]>, &'a [u8])> {
    let name: Cow<'a, [u8]> = if name.iter().any(u8::is_ascii_uppercase) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    };
    allowed(&name, value).then_some((name, value))
}

/// Whether `name` has an ASCII uppercase letter; eight bytes at a time.
fn has_uppercase(name: &[u8]) -> bool {
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Per byte, without carries between bytes: the high bit of
    // `low7 + 0x3f` is set from 'A' (0x41) up, that of `low7 + 0x25` from
    // '[' (0x5b) up; bytes with their own high bit set are not ASCII.
    let upper = |x: u64| {
        let low = x & LOW7;
        let from_a = low + u64::from_ne_bytes([0x3f; 8]);
        let past_z = low + u64::from_ne_bytes([0x25; 8]);
        from_a & !past_z & !x & HIGHS
    };
    let mut chunks = name.chunks_exact(8);
    let mut found = 0;
    for c in &mut chunks {
        found |= upper(u64::from_ne_bytes(
            <[u8; 8]>::try_from(c).unwrap_or_default(),
        ));
    }
    let mut last = [0u8; 8];
    let tail = chunks.remainder();
    last[..tail.len()].copy_from_slice(tail);
    found |= upper(u64::from_ne_bytes(last));
    found != 0
}

/// The same field, borrowed for less long.
fn shorten<'long: 'short, 'short>(f: Field<'long>) -> Field<'short> {
    f
}

/// A pseudo-header, omitted when its value is empty.
fn present<'a>(name: &'static [u8], value: &'a [u8]) -> Option<Field<'a>> {
    (!value.is_empty()).then(|| Field::new(name, value))
}

/// Whether a lowercase regular field may be sent over HTTP/2.
fn allowed(name: &[u8], value: &[u8]) -> bool {
    name.first() != Some(&b':')
        && !is_connection_specific(name)
        && !(name == b"te" && value != b"trailers")
}

impl Connection {
    fn check_open(&self) -> Result<(), StreamError> {
        if self.phase == Phase::Closed || self.error.is_some() {
            return Err(StreamError::ConnectionClosed);
        }
        Ok(())
    }

    /// Server: sends the response head for stream `id`: `status` and
    /// `fields` (names are lowercased; connection-specific fields are
    /// dropped). A 1xx status sends an informational head and may be
    /// repeated; the final head is sent once. With `end_stream` the
    /// response has no body.
    pub fn send_headers(
        &mut self,
        id: StreamId,
        status: u16,
        fields: &[(&[u8], &[u8])],
        end_stream: bool,
    ) -> Result<(), StreamError> {
        if self.role != Role::Server {
            return Err(StreamError::WrongRole);
        }
        self.check_open()?;
        // Section 8.6: 101 is not used in HTTP/2.
        if !(100..=999).contains(&status) || status == 101 || (status < 200 && end_stream) {
            return Err(StreamError::InvalidStatus(status));
        }
        let s = self
            .streams
            .get(&id.value())
            .ok_or(StreamError::UnknownStream(id))?;
        if s.send_closed {
            return Err(StreamError::SendClosed(id));
        }
        if s.head_sent {
            return Err(StreamError::HeadState(id));
        }
        self.write_head(id, status, fields, end_stream);
        if let Some(s) = self.streams.get_mut(&id.value()) {
            s.head_sent |= status >= 200;
        }
        if end_stream {
            self.end_local(id);
        }
        Ok(())
    }

    /// Encodes a response head and queues it.
    pub(super) fn write_head(
        &mut self,
        id: StreamId,
        status: u16,
        fields: &[(&[u8], &[u8])],
        end_stream: bool,
    ) {
        let digits = status_bytes(status);
        let pseudo = std::iter::once(Field::new(b":status", &digits));
        self.write_fields(id, pseudo, fields, end_stream);
    }

    /// Queues `pseudo` then the regular `fields` that may be sent (names
    /// lowercased). Only a field list with an uppercase name needs a copy.
    fn write_fields<'f, P: Iterator<Item = Field<'f>>>(
        &mut self,
        id: StreamId,
        pseudo: P,
        fields: &'f [(&'f [u8], &'f [u8])],
        end_stream: bool,
    ) {
        if fields.iter().any(|(n, _)| has_uppercase(n)) {
            let regular: Vec<_> = fields.iter().filter_map(|(n, v)| outgoing(n, v)).collect();
            let all = pseudo
                .map(shorten)
                .chain(regular.iter().map(|(n, v)| Field::new(n, v)));
            self.write_block(id, all, end_stream);
        } else {
            let regular = fields
                .iter()
                .filter(|(n, v)| allowed(n, v))
                .map(|(n, v)| Field::new(n, v));
            self.write_block(id, pseudo.chain(regular), end_stream);
        }
    }

    /// HPACK-encodes `fields` and queues HEADERS plus CONTINUATION frames
    /// no larger than the peer's `SETTINGS_MAX_FRAME_SIZE`.
    fn write_block<'f, I: IntoIterator<Item = Field<'f>>>(
        &mut self,
        id: StreamId,
        fields: I,
        end_stream: bool,
    ) {
        // The block is encoded in place after room for the frame header,
        // which is filled in once the length is known.
        let start = self.out.len();
        self.out.extend_from_slice(&[0; FrameHeader::LEN]);
        self.encoder.encode(fields, &mut self.out);
        let len = self.out.len() - start - FrameHeader::LEN;
        let max = self.peer.max_frame_size as usize;
        if len <= max {
            let mut flags = FLAG_END_HEADERS;
            if end_stream {
                flags |= FLAG_END_STREAM;
            }
            let head = FrameHeader::new(FrameType::Headers, flags, id, len).to_bytes();
            if let Some(room) = self.out.get_mut(start..start + FrameHeader::LEN) {
                room.copy_from_slice(&head);
            }
            return;
        }
        // Larger than a frame: HEADERS and CONTINUATION frames from a copy.
        let mut block = std::mem::take(&mut self.scratch);
        block.clear();
        block.extend_from_slice(self.out.get(start + FrameHeader::LEN..).unwrap_or_default());
        self.out.truncate(start);
        let mut chunks = block.chunks(max);
        let first = chunks.next().unwrap_or_default();
        let more = block.len() > max;
        Headers {
            stream_id: id,
            fragment: first,
            end_stream,
            end_headers: !more,
            priority: None,
            pad_len: None,
        }
        .encode(&mut self.out);
        let mut rest = chunks.peekable();
        while let Some(chunk) = rest.next() {
            Continuation {
                stream_id: id,
                fragment: chunk,
                end_headers: rest.peek().is_none(),
            }
            .encode(&mut self.out);
        }
        self.scratch = block;
    }

    /// How many octets [`Connection::send_data`] would accept on `id` now:
    /// the smaller of the stream and connection send windows and the room
    /// left in the output buffer ([`crate::Config::max_send_buffer`]).
    pub fn send_capacity(&self, id: StreamId) -> usize {
        match self.streams.get(&id.value()) {
            Some(s) if !s.send_closed && self.error.is_none() => self.capacity(s),
            _ => 0,
        }
    }

    fn capacity(&self, s: &Stream) -> usize {
        let window = s.send_window.min(self.conn_send_window).max(0) as usize;
        let room = self.config.max_send_buffer.saturating_sub(self.out.len());
        window.min(room)
    }

    /// Sends body data on `id`, accepting as much as flow control and the
    /// output buffer allow ([`Connection::send_capacity`]) and returning how
    /// many octets were taken; split into DATA frames of at most the
    /// peer's `SETTINGS_MAX_FRAME_SIZE`. `end_stream` takes effect only if
    /// all of `data` was accepted. When fewer octets were taken, an
    /// [`crate::Event::SendReady`] follows once there is room again.
    pub fn send_data(
        &mut self,
        id: StreamId,
        data: &[u8],
        end_stream: bool,
    ) -> Result<usize, StreamError> {
        self.check_open()?;
        let s = self
            .streams
            .get(&id.value())
            .ok_or(StreamError::UnknownStream(id))?;
        if s.send_closed {
            return Err(StreamError::SendClosed(id));
        }
        if !s.head_sent {
            return Err(StreamError::HeadState(id));
        }
        let n = self.capacity(s).min(data.len());
        let finished = end_stream && n == data.len();
        let max = self.peer.max_frame_size as usize;
        let taken = data.get(..n).unwrap_or_default();
        if taken.is_empty() {
            if finished {
                Data {
                    stream_id: id,
                    data: &[],
                    end_stream: true,
                    pad_len: None,
                }
                .encode(&mut self.out);
            }
        } else {
            let count = taken.len().div_ceil(max);
            for (i, chunk) in taken.chunks(max).enumerate() {
                Data {
                    stream_id: id,
                    data: chunk,
                    end_stream: finished && i + 1 == count,
                    pad_len: None,
                }
                .encode(&mut self.out);
            }
        }
        self.conn_send_window -= n as i64;
        if let Some(s) = self.streams.get_mut(&id.value()) {
            s.send_window -= n as i64;
            if n < data.len() {
                s.blocked = true;
            }
        }
        if finished {
            self.end_local(id);
        }
        Ok(n)
    }

    /// Sends trailers on `id`, ending our side of the stream. Pseudo-headers
    /// and connection-specific fields are dropped.
    pub fn send_trailers(
        &mut self,
        id: StreamId,
        fields: &[(&[u8], &[u8])],
    ) -> Result<(), StreamError> {
        self.check_open()?;
        let s = self
            .streams
            .get(&id.value())
            .ok_or(StreamError::UnknownStream(id))?;
        if s.send_closed {
            return Err(StreamError::SendClosed(id));
        }
        if !s.head_sent {
            return Err(StreamError::HeadState(id));
        }
        self.write_fields(id, std::iter::empty(), fields, true);
        self.end_local(id);
        Ok(())
    }

    /// Our side of `id` ended. A server whose response is complete while
    /// the request is still arriving tells the client to stop with
    /// RST_STREAM(NO_ERROR) (section 8.1).
    pub(super) fn end_local(&mut self, id: StreamId) {
        let v = id.value();
        let Some(s) = self.streams.get_mut(&v) else {
            return;
        };
        s.send_closed = true;
        s.blocked = false;
        if s.recv_closed {
            self.remove_stream(v, Closure::Ended);
        } else if self.role == Role::Server {
            RstStream {
                stream_id: id,
                code: ErrorCode::NoError,
            }
            .encode(&mut self.out);
            self.remove_stream(v, Closure::ResetByUs);
        }
    }

    /// Resets `id` with `code` (e.g. `Cancel` when a handler gives up, or
    /// `InternalError`). No event follows; unknown ids are ignored.
    pub fn reset_stream(&mut self, id: StreamId, code: ErrorCode) {
        if self.error.is_some() || !self.streams.contains_key(&id.value()) {
            return;
        }
        RstStream {
            stream_id: id,
            code,
        }
        .encode(&mut self.out);
        self.remove_stream(id.value(), Closure::ResetByUs);
    }

    /// The application consumed `n` octets of `id`'s received DATA. The
    /// stream and connection windows are reopened with WINDOW_UPDATE once
    /// half a window is due (not on receipt: a peer cannot make us buffer
    /// more than the windows). Data of a stream that closes or is reset is
    /// released automatically; releasing more than was received is capped.
    pub fn release_capacity(&mut self, id: StreamId, n: usize) {
        if self.error.is_some() {
            return;
        }
        let v = id.value();
        let Some(s) = self.streams.get_mut(&v) else {
            return;
        };
        let n = (n as u64).min(s.unreleased);
        s.unreleased -= n;
        self.release_connection(n);
        self.release_stream(v, n);
    }

    /// Client: opens a stream with `request`'s pseudo-headers and `fields`
    /// (lowercased; connection-specific fields dropped). With `end_stream`
    /// the request has no body; otherwise send it with `send_data` and
    /// end it with `send_data(.., true)` or `send_trailers`. An extended
    /// CONNECT (`request.protocol` set) is refused with
    /// [`StreamError::ConnectProtocolDisabled`] unless the method is
    /// `CONNECT` and the peer's SETTINGS enabled it (wait for
    /// [`Connection::peer_settings_received`] first).
    pub fn send_request(
        &mut self,
        request: &Request<'_>,
        fields: &[(&[u8], &[u8])],
        end_stream: bool,
    ) -> Result<StreamId, StreamError> {
        if self.role != Role::Client {
            return Err(StreamError::WrongRole);
        }
        self.check_open()?;
        if self.goaway_received.is_some()
            || self.goaway_sent.is_some()
            || self.next_local_stream > StreamId::MAX.value()
        {
            return Err(StreamError::GoingAway);
        }
        if self.open_local >= self.peer.max_concurrent_streams as usize {
            return Err(StreamError::TooManyStreams);
        }
        // RFC 8441 section 3: "A client MUST NOT send a :protocol pseudo-header
        // unless the server has sent SETTINGS_ENABLE_CONNECT_PROTOCOL=1" (and
        // section 4: only on CONNECT).
        if request.protocol.is_some()
            && (!self.peer.enable_connect_protocol || request.method != b"CONNECT")
        {
            return Err(StreamError::ConnectProtocolDisabled);
        }
        let id = StreamId::new(self.next_local_stream);
        self.next_local_stream += 2;
        let mut stream = Stream::new(
            i64::from(self.peer.initial_window),
            i64::from(self.local.initial_window),
            false,
        );
        stream.announced = true;
        stream.head_sent = true;
        stream.head_request = request.method == b"HEAD";
        self.insert_stream(id.value(), stream);

        let pseudo = [
            Some(Field::new(b":method", request.method)),
            present(b":scheme", request.scheme),
            present(b":authority", request.authority),
            present(b":path", request.path),
            request.protocol.map(|p| Field::new(b":protocol", p)),
        ];
        self.write_fields(id, pseudo.into_iter().flatten(), fields, end_stream);
        if end_stream {
            self.end_local(id);
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::has_uppercase;

    #[test]
    fn has_uppercase_finds_every_uppercase_byte_anywhere() {
        for n in 1..20 {
            for i in 0..n {
                for b in 0..=255u8 {
                    let mut name = vec![b'x'; n];
                    name[i] = b;
                    assert_eq!(has_uppercase(&name), b.is_ascii_uppercase(), "{n} {i} {b}");
                }
            }
        }
        assert!(!has_uppercase(b""));
    }
}
