"""HTTP/2 server (Python `h2`, h2c by prior knowledge) with routes that misbehave
on purpose, for flare's HTTP/2 client: tests/client_h2_wake.rs and the unit
tests in src/client/h2/tests.rs. Prints `listening http://127.0.0.1:PORT` once
bound.

Every answer is 200 with the body `conn=N` (N counts connections from 1).

  /ok            at once
  /slow?ms=M     after M milliseconds
  /stall         never (the request's timeouts must fire)
  /head-stall    the head at once, then nothing (the body's read timeout fires)
  /reset         RST_STREAM(INTERNAL_ERROR) at once
  /goaway-once   the first time, on any connection: GOAWAY whose last stream id
                 is the one below this stream, so this stream is refused (and a
                 client retries it elsewhere) while the earlier ones are still
                 answered; the connection closes once they are. Afterwards: at
                 once.
  /close         the TCP connection is closed at once
"""
import itertools
import select
import socket
import socketserver
import threading
import time
from urllib.parse import parse_qs, urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
from hyperframe.frame import GoAwayFrame

connections = itertools.count(1)
goaway_lock = threading.Lock()
goaway_sent = False


def first_goaway():
    global goaway_sent
    with goaway_lock:
        first = not goaway_sent
        goaway_sent = True
        return first


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        self.n = next(connections)
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.conn.initiate_connection()
        sock.sendall(self.conn.data_to_send())
        # (when, stream id) of the answers still to give.
        self.timers = []
        # Set by GOAWAY: streams above it are ignored; the connection closes when
        # nothing up to it is left to answer.
        self.last = None
        self.waiting = set()
        while True:
            timeout = None
            if self.timers:
                timeout = max(0.0, min(t for t, _ in self.timers) - time.monotonic())
            readable, _, _ = select.select([sock], [], [], timeout)
            if readable:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                for ev in self.conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        if self.route(sock, ev.stream_id, dict(ev.headers)) == "close":
                            sock.shutdown(socket.SHUT_RDWR)
                            return
                    elif isinstance(ev, h2.events.DataReceived):
                        self.conn.acknowledge_received_data(
                            ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamReset):
                        self.waiting.discard(ev.stream_id)
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        sock.sendall(self.conn.data_to_send())
                        return
            now = time.monotonic()
            for due in [t for t in self.timers if t[0] <= now]:
                self.timers.remove(due)
                self.answer(due[1])
            sock.sendall(self.conn.data_to_send())
            if self.last is not None and not self.waiting:
                sock.shutdown(socket.SHUT_RDWR)
                return

    def route(self, sock, sid, headers):
        if self.last is not None and sid > self.last:
            return None  # refused by our GOAWAY: never processed
        url = urlsplit(headers.get(":path", "/"))
        path = url.path
        if path == "/goaway-once" and first_goaway():
            self.last = sid - 2
            sock.sendall(self.conn.data_to_send() + GoAwayFrame(
                stream_id=0, last_stream_id=self.last, error_code=0).serialize())
            return None
        self.waiting.add(sid)
        if path in ("/ok", "/goaway-once"):
            self.answer(sid)
        elif path == "/slow":
            ms = int(parse_qs(url.query).get("ms", ["100"])[0])
            self.timers.append((time.monotonic() + ms / 1000.0, sid))
        elif path == "/stall":
            pass
        elif path == "/head-stall":
            self.conn.send_headers(sid, [(":status", "200")])
        elif path == "/reset":
            self.conn.reset_stream(sid, error_code=h2.errors.ErrorCodes.INTERNAL_ERROR)
            self.waiting.discard(sid)
        elif path == "/close":
            return "close"
        else:
            self.conn.send_headers(sid, [(":status", "404")], end_stream=True)
            self.waiting.discard(sid)
        return None

    def answer(self, sid):
        body = f"conn={self.n}".encode()
        self.waiting.discard(sid)
        try:
            self.conn.send_headers(
                sid, [(":status", "200"), ("content-length", str(len(body)))])
            self.conn.send_data(sid, body, end_stream=True)
        except h2.exceptions.StreamClosedError:
            pass  # the client gave up on it


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


with Server(("127.0.0.1", 0), Handler) as server:
    print(f"listening http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
