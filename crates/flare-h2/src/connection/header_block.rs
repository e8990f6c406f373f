//! Header blocks from the peer: HEADERS and CONTINUATION assembled into
//! one block, decoded, validated, and turned into a new stream, trailers or
//! (client) a response head.

use super::recv::NotOpen;
use super::{fatal, Connection, Event, Fatal, PendingBlock, Role};
use crate::frame::{Continuation, Headers};
use crate::head::{self, Block, Expect};
use crate::stream::{Closure, Stream};
use crate::{ErrorCode, Head, StreamId};

impl Connection {
    pub(super) fn on_headers(&mut self, f: Headers<'_>) -> Result<(), Fatal> {
        // Section 5.3.1: "A stream cannot depend on itself."
        let self_dependent = f.priority.is_some_and(|p| p.dependency == f.stream_id);
        if f.fragment.len() > self.config.max_header_block_bytes {
            return Err(fatal(ErrorCode::EnhanceYourCalm, "header block too large"));
        }
        if f.end_headers {
            return self.on_block(f.stream_id, f.end_stream, self_dependent, f.fragment);
        }
        self.block_buf.clear();
        self.block_buf.extend_from_slice(f.fragment);
        self.block = Some(PendingBlock {
            stream: f.stream_id,
            end_stream: f.end_stream,
            self_dependent,
            continuations: 0,
        });
        Ok(())
    }

    pub(super) fn on_continuation(&mut self, f: Continuation<'_>) -> Result<(), Fatal> {
        let Some(mut block) = self.block else {
            return Err(fatal(
                ErrorCode::ProtocolError,
                "CONTINUATION without a header block",
            ));
        };
        block.continuations += 1;
        // CVE-2024-27316 family: endless CONTINUATION frames, each small or
        // empty, must not keep us buffering.
        if block.continuations > self.config.max_continuation_frames {
            return Err(fatal(
                ErrorCode::EnhanceYourCalm,
                "too many CONTINUATION frames",
            ));
        }
        if self.block_buf.len() + f.fragment.len() > self.config.max_header_block_bytes {
            return Err(fatal(ErrorCode::EnhanceYourCalm, "header block too large"));
        }
        self.block_buf.extend_from_slice(f.fragment);
        if !f.end_headers {
            self.block = Some(block);
            return Ok(());
        }
        self.block = None;
        let buf = std::mem::take(&mut self.block_buf);
        let result = self.on_block(block.stream, block.end_stream, block.self_dependent, &buf);
        self.block_buf = buf;
        self.block_buf.clear();
        result
    }

    pub(super) fn decode_block(&mut self, block: &[u8], expect: Expect) -> Result<Block, Fatal> {
        head::decode(&mut self.decoder, block, expect, &mut self.head_pool).map_err(|e| {
            if e.is_compression_error() {
                fatal(ErrorCode::CompressionError, "HPACK decoding failed")
            } else {
                fatal(ErrorCode::EnhanceYourCalm, "header list far over the limit")
            }
        })
    }

    /// Gives a decoded block's buffers back to the pool.
    fn recycle_block(&mut self, block: Block) {
        if let Block::Head(h) = block {
            self.head_pool.recycle(h);
        }
    }

    /// A complete header block on `id`.
    pub(super) fn on_block(
        &mut self,
        id: StreamId,
        end_stream: bool,
        self_dep: bool,
        block: &[u8],
    ) -> Result<(), Fatal> {
        let v = id.value();
        if let Some(s) = self.streams.get(&v) {
            let expect = if self.role == Role::Client && !s.head_received {
                Expect::Response
            } else {
                Expect::Trailers
            };
            let recv_closed = s.recv_closed;
            let decoded = self.decode_block(block, expect)?;
            if recv_closed {
                // Section 5.1, half-closed (remote): frames other than
                // WINDOW_UPDATE, PRIORITY, RST_STREAM -> STREAM_CLOSED.
                return self.stream_error(id, ErrorCode::StreamClosed);
            }
            if self_dep {
                return self.stream_error(id, ErrorCode::ProtocolError);
            }
            return match decoded {
                Block::Malformed => self.stream_error(id, ErrorCode::ProtocolError),
                Block::TooLarge => self.header_list_too_large(id, end_stream),
                Block::Head(h) if expect == Expect::Trailers => self.on_trailers(id, h, end_stream),
                Block::Head(h) => self.on_response_head(id, h, end_stream),
            };
        }
        match self.not_open(id) {
            NotOpen::Idle if self.is_peer_initiated(id) => {}
            NotOpen::Idle => {
                return Err(fatal(
                    ErrorCode::ProtocolError,
                    "HEADERS on an idle stream of ours",
                ))
            }
            NotOpen::Recent(Closure::ResetByUs) => {
                // Sent before our RST_STREAM arrived: keep HPACK in step,
                // otherwise ignore.
                let ignored = self.decode_block(block, Expect::Trailers)?;
                self.recycle_block(ignored);
                return Ok(());
            }
            NotOpen::Recent(_) => {
                let ignored = self.decode_block(block, Expect::Trailers)?;
                self.recycle_block(ignored);
                return Err(fatal(ErrorCode::StreamClosed, "HEADERS on a closed stream"));
            }
            NotOpen::Forgotten if self.is_peer_initiated(id) => {
                return Err(fatal(ErrorCode::ProtocolError, "stream id not increasing"));
            }
            NotOpen::Forgotten => {
                let ignored = self.decode_block(block, Expect::Trailers)?;
                self.recycle_block(ignored);
                return Ok(());
            }
        }
        // A new stream from the peer.
        if self.role == Role::Client {
            return Err(fatal(
                ErrorCode::ProtocolError,
                "server opened a stream without push",
            ));
        }
        self.new_streams_this_recv += 1;
        if self.new_streams_this_recv > self.config.max_new_streams_per_recv {
            return Err(fatal(
                ErrorCode::EnhanceYourCalm,
                "too many new streams at once",
            ));
        }
        self.last_peer_stream = v;
        let decoded = self.decode_block(
            block,
            Expect::Request {
                connect_protocol: self.config.enable_connect_protocol,
            },
        )?;
        // Section 6.8: streams above the last id of a GOAWAY we sent are
        // ignored.
        if self.goaway_sent.is_some_and(|last| v > last) {
            self.recent.remember(v, Closure::ResetByUs);
            return Ok(());
        }
        // Section 5.1.2: beyond our advertised limit -> REFUSED_STREAM.
        if self.open_remote >= self.config.max_concurrent_streams as usize {
            return self.stream_error(id, ErrorCode::RefusedStream);
        }
        if self_dep {
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        let head = match decoded {
            Block::Malformed => return self.stream_error(id, ErrorCode::ProtocolError),
            Block::TooLarge => {
                let stream = Stream::new(
                    i64::from(self.peer.initial_window),
                    i64::from(self.local.initial_window),
                    true,
                );
                self.insert_stream(v, stream);
                return self.header_list_too_large(id, end_stream);
            }
            Block::Head(h) => h,
        };
        // Section 8.1.1: a content-length that the DATA frames do not
        // match makes the request malformed.
        if end_stream && head.content_length.is_some_and(|n| n != 0) {
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        let mut stream = Stream::new(
            i64::from(self.peer.initial_window),
            i64::from(self.local.initial_window),
            true,
        );
        stream.announced = true;
        stream.recv_closed = end_stream;
        stream.content_length = head.content_length;
        self.insert_stream(v, stream);
        self.events.push_back(Event::Headers {
            id,
            head,
            end_stream,
        });
        Ok(())
    }

    /// A header list over `max_header_list_size`: a server answers 431
    /// (RFC 6585) and stops reading the request; a client resets.
    pub(super) fn header_list_too_large(
        &mut self,
        id: StreamId,
        end_stream: bool,
    ) -> Result<(), Fatal> {
        let answerable = self.role == Role::Server
            && self.streams.get(&id.value()).is_some_and(|s| !s.head_sent);
        if !answerable {
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        if let Some(s) = self.streams.get_mut(&id.value()) {
            s.recv_closed |= end_stream;
            s.announced = false;
        }
        self.write_head(id, 431, &[], true);
        if let Some(s) = self.streams.get_mut(&id.value()) {
            s.head_sent = true;
        }
        self.end_local(id);
        Ok(())
    }

    pub(super) fn on_trailers(
        &mut self,
        id: StreamId,
        head: Head,
        end_stream: bool,
    ) -> Result<(), Fatal> {
        // Section 8.1: trailers "MUST" carry END_STREAM.
        if !end_stream {
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        let Some(s) = self.streams.get_mut(&id.value()) else {
            return Ok(());
        };
        if !s.head_sent && self.role == Role::Client {
            // unreachable: a client's streams always start with our head
        }
        if s.content_length.is_some_and(|n| n != s.received) {
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        s.recv_closed = true;
        self.events.push_back(Event::Trailers {
            id,
            fields: head.fields,
        });
        self.after_recv_end(id);
        Ok(())
    }

    pub(super) fn on_response_head(
        &mut self,
        id: StreamId,
        head: Head,
        end_stream: bool,
    ) -> Result<(), Fatal> {
        let status = head.status.unwrap_or(0);
        let informational = status < 200;
        // Section 8.1: an informational head cannot end the stream.
        if informational && end_stream {
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        let Some(s) = self.streams.get_mut(&id.value()) else {
            return Ok(());
        };
        if !informational {
            s.head_received = true;
            if !s.head_request && status != 304 && status != 204 {
                s.content_length = head.content_length;
            }
            if end_stream && s.content_length.is_some_and(|n| n != 0) {
                return self.stream_error(id, ErrorCode::ProtocolError);
            }
            s.recv_closed = end_stream;
        }
        self.events.push_back(Event::Headers {
            id,
            head,
            end_stream,
        });
        if end_stream {
            self.after_recv_end(id);
        }
        Ok(())
    }

    /// The peer ended its side: the stream closes if ours ended too.
    pub(super) fn after_recv_end(&mut self, id: StreamId) {
        if self.streams.get(&id.value()).is_some_and(|s| s.send_closed) {
            self.remove_stream(id.value(), Closure::Ended);
        }
    }
}
