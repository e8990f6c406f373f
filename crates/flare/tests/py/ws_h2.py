#!/usr/bin/env python3
"""WebSocket over HTTP/2 (RFC 8441) against flare, driven by the Python `h2` library.

Run by `crates/flare/tests/ws.rs`; the argument is `HOST:PORT` of an h2c server
whose `/echo` route is a WebSocket echo and `/plaintext` a plain GET. Checks:
SETTINGS_ENABLE_CONNECT_PROTOCOL is advertised; an extended CONNECT gets 200; text
and binary echo in DATA frames; a ping is answered; a plain GET on another stream
of the same connection meanwhile; a wrong version is refused (426); an unmasked
frame gets close 1002 and the stream ends; a client close is answered and the
server ends the stream. Prints `ws_h2: all passed`.
"""

import os
import socket
import struct
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings

HOST, PORT = sys.argv[1].rsplit(":", 1)


def frame(opcode, payload, fin=True, masked=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    m = 0x80 if masked else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def parse_frames(buf):
    """Complete unmasked frames at the start of buf: ([(opcode, payload)], rest)."""
    out = []
    while len(buf) >= 2:
        op = buf[0] & 0x0F
        assert buf[1] & 0x80 == 0, "server frames are never masked"
        n = buf[1] & 0x7F
        at = 2
        if n == 126:
            if len(buf) < 4:
                break
            n = struct.unpack("!H", buf[2:4])[0]
            at = 4
        elif n == 127:
            if len(buf) < 10:
                break
            n = struct.unpack("!Q", buf[2:10])[0]
            at = 10
        if len(buf) < at + n:
            break
        out.append((op, buf[at : at + n]))
        buf = buf[at + n :]
    return out, buf


class Client:
    def __init__(self):
        self.sock = socket.create_connection((HOST, int(PORT)), timeout=10)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        self.flush()
        self.events = []
        self.data = {}
        self.ended = set()
        self.heads = {}
        self.resets = set()
        self.settings = {}
        # Wait for the server's SETTINGS.
        self.pump_until(lambda: self.settings)

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self):
        got = self.sock.recv(65536)
        if not got:
            raise AssertionError("connection closed")
        for ev in self.conn.receive_data(got):
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                for k, v in ev.changed_settings.items():
                    self.settings[int(k)] = v.new_value
            elif isinstance(ev, h2.events.ResponseReceived):
                self.heads[ev.stream_id] = dict(ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                self.data[ev.stream_id] = self.data.get(ev.stream_id, b"") + ev.data
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self.ended.add(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                self.resets.add(ev.stream_id)
        self.flush()

    def pump_until(self, cond):
        for _ in range(1000):
            if cond():
                return
            self.pump()
        raise AssertionError("condition never met")

    def connect_ws(self, path, version="13", extra=()):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            sid,
            [
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "http"),
                (":path", path),
                (":authority", f"{HOST}:{PORT}"),
                ("sec-websocket-version", version),
                *extra,
            ],
        )
        self.flush()
        self.pump_until(lambda: sid in self.heads or sid in self.resets)
        return sid

    def send_ws(self, sid, data):
        # In pieces of at most a frame, as the flow-control windows allow.
        while data:
            room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if room <= 0:
                self.pump()
                continue
            self.conn.send_data(sid, data[:room])
            data = data[room:]
            self.flush()

    def frames(self, sid, want):
        """Waits for `want` frames on stream sid."""
        got = []

        def enough():
            frames, rest = parse_frames(self.data.get(sid, b""))
            if len(frames) >= want:
                got.extend(frames)
                self.data[sid] = rest
                return True
            return sid in self.ended and not frames

        self.pump_until(enough)
        return got


def main():
    c = Client()
    # RFC 8441 section 3: SETTINGS_ENABLE_CONNECT_PROTOCOL (0x8) = 1.
    assert c.settings.get(8) == 1, c.settings
    print("ok   SETTINGS_ENABLE_CONNECT_PROTOCOL advertised")

    sid = c.connect_ws("/echo")
    assert c.heads[sid][":status"] == "200", c.heads[sid]
    print("ok   extended CONNECT answered 200")

    c.send_ws(sid, frame(1, "héllo ☕".encode()))
    c.send_ws(sid, frame(2, b"\x00\x01\x02"))
    f = c.frames(sid, 2)
    assert f == [(1, "héllo ☕".encode()), (2, b"\x00\x01\x02")], f
    big = os.urandom(200_000)
    c.send_ws(sid, frame(2, big))
    f = c.frames(sid, 1)
    assert f == [(2, big)], len(f[0][1]) if f else f
    c.send_ws(sid, frame(9, b"ping!"))
    f = c.frames(sid, 1)
    assert f == [(10, b"ping!")], f
    print("ok   text, binary (200 KB, past the flow-control window) and ping over one stream")

    # A plain request on another stream of the same connection.
    g = c.conn.get_next_available_stream_id()
    c.conn.send_headers(
        g,
        [(":method", "GET"), (":scheme", "http"), (":path", "/plaintext"), (":authority", "x")],
        end_stream=True,
    )
    c.flush()
    c.pump_until(lambda: g in c.ended)
    assert c.heads[g][":status"] == "200" and c.data[g] == b"Hello, World!", c.heads[g]
    c.send_ws(sid, frame(1, b"still here"))
    assert c.frames(sid, 1) == [(1, b"still here")]
    print("ok   a plain GET beside the WebSocket stream")

    bad = c.connect_ws("/echo", version="12")
    assert c.heads[bad][":status"] == "426", c.heads[bad]
    print("ok   version 12 refused with 426")

    # Close from the client: answered with the same code, then END_STREAM.
    c.send_ws(sid, frame(8, struct.pack("!H", 1000) + b"bye"))
    f = c.frames(sid, 1)
    assert f and f[0][0] == 8 and struct.unpack("!H", f[0][1][:2])[0] == 1000, f
    c.pump_until(lambda: sid in c.ended)
    print("ok   close handshake ends the stream")

    # An unmasked client frame: 1002 and the stream ends.
    s2 = c.connect_ws("/echo")
    assert c.heads[s2][":status"] == "200"
    c.send_ws(s2, frame(1, b"x", masked=False))
    f = c.frames(s2, 1)
    assert f and f[0][0] == 8 and struct.unpack("!H", f[0][1][:2])[0] == 1002, f
    print("ok   unmasked frame closed with 1002")

    # Deflate offered over h2: negotiated like HTTP/1.1.
    s3 = c.connect_ws("/echo", extra=[("sec-websocket-extensions", "permessage-deflate")])
    ext = c.heads[s3].get("sec-websocket-extensions", "")
    assert ext.startswith("permessage-deflate"), c.heads[s3]
    print("ok   permessage-deflate negotiated over h2")

    print("ws_h2: all passed")


main()
