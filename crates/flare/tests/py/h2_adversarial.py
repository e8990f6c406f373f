"""HTTP/2 attacks against a running flare server, one connection per case.

Usage: h2_adversarial.py --port N [--pid P] [--case NAME]...

Frames are built by hand (header blocks use only HPACK's static table or
literals, so no encoder state is shared with the server). For each case the
script checks the documented reaction (GOAWAY or RST_STREAM with the right
error code), that a well-behaved client on another connection (the `h2`
library over its own socket) keeps being served while the attack runs, that
the server answers a fresh connection quickly afterwards, and, with --pid,
that the server's resident memory stays bounded. It prints one line per case
and ends with `N passed, M failed`; the exit status is 1 if any case failed.
"""

import argparse
import socket
import struct
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED = 0x1, 0x1, 0x4, 0x8

NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x2, 0x3
STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL = 0x5, 0x6, 0x7, 0x8
COMPRESSION_ERROR, ENHANCE_YOUR_CALM = 0x9, 0xB

CODE_NAMES = {
    0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x2: "INTERNAL_ERROR",
    0x3: "FLOW_CONTROL_ERROR", 0x4: "SETTINGS_TIMEOUT", 0x5: "STREAM_CLOSED",
    0x6: "FRAME_SIZE_ERROR", 0x7: "REFUSED_STREAM", 0x8: "CANCEL",
    0x9: "COMPRESSION_ERROR", 0xA: "CONNECT_ERROR", 0xB: "ENHANCE_YOUR_CALM",
}

# Per-case bounds.
RSS_GROWTH_LIMIT_KIB = 32 * 1024
CASE_TIME_LIMIT = 20.0
HEALTH_TIME_LIMIT = 2.0


class CaseFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CaseFailed(msg)


def code_name(c):
    return CODE_NAMES.get(c, hex(c))


# ---- frames and header blocks --------------------------------------------


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid & 0x7FFFFFFF) + payload


def hpack_int(value, prefix_bits, first):
    """HPACK integer (RFC 7541 section 5.1) with `first` holding the flag bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(v):
    return hpack_int(len(v), 7, 0) + v


def request_block(method=b"GET", path=b"/plaintext", extra=()):
    """A header block from static-table names and literals without indexing."""
    m = {b"GET": b"\x82", b"POST": b"\x83"}[method]
    block = m + b"\x86" + b"\x04" + literal(path) + b"\x01" + literal(b"127.0.0.1")
    for name, value in extra:
        block += b"\x00" + literal(name) + literal(value)
    return block


def headers(sid, block, end_stream=True, end_headers=True):
    flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
    return frame(HEADERS, flags, sid, block)


def rst(sid, code):
    return frame(RST_STREAM, 0, sid, struct.pack(">I", code))


def window_update(sid, inc):
    return frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", inc))


def priority(sid, dep, weight=16):
    return frame(PRIORITY, 0, sid, struct.pack(">IB", dep, weight))


def ping(payload=b"12345678", ack=False):
    return frame(PING, ACK if ack else 0, 0, payload)


# ---- a raw client connection ---------------------------------------------


class Raw:
    """A socket speaking raw frames; collects what the server sends."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.frames = []  # (type, flags, sid, payload)
        self.closed = False
        self.reset = False
        self.send(PREFACE + frame(SETTINGS, 0, 0))

    def send(self, data):
        """False when the server has gone (it may close right after GOAWAY)."""
        try:
            self.s.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.reset = True
            return False

    def pump(self, timeout):
        """Reads for up to `timeout` seconds; returns the new frames."""
        new = []
        if self.closed:
            return new
        self.s.settimeout(timeout)
        try:
            data = self.s.recv(65536)
        except socket.timeout:
            return new
        except ConnectionResetError:
            self.closed = True
            self.reset = True
            return new
        if not data:
            self.closed = True
        self.buf += data
        while len(self.buf) >= 9:
            n = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + n:
                break
            t, fl = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            f = (t, fl, sid, self.buf[9 : 9 + n])
            self.buf = self.buf[9 + n :]
            if t == SETTINGS and not fl & ACK:
                self.send(frame(SETTINGS, ACK, 0))
            self.frames.append(f)
            new.append(f)
        return new

    def wait(self, pred, timeout=5.0):
        """The first frame (seen before or now) for which `pred` holds, or None."""
        for f in self.frames:
            if pred(f):
                return f
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            for f in self.pump(min(0.2, max(0.01, deadline - time.monotonic()))):
                if pred(f):
                    return f
        return None

    def goaway(self, timeout=5.0):
        f = self.wait(lambda f: f[0] == GOAWAY and code_of(f) != NO_ERROR, timeout)
        return None if f is None else code_of(f)

    def expect_goaway(self, code, what):
        got = self.goaway()
        check(
            got == code,
            f"{what}: want GOAWAY {code_name(code)}, got "
            + ("nothing" if got is None else f"GOAWAY {code_name(got)}")
            + (" (connection reset)" if self.reset else ""),
        )
        self.wait_closed()

    def rst_for(self, sid, timeout=5.0):
        f = self.wait(lambda f: f[0] == RST_STREAM and f[2] == sid, timeout)
        return None if f is None else code_of(f)

    def response_end(self, sid, timeout=5.0):
        """Waits for the END_STREAM of `sid`; returns the :status byte seen."""
        f = self.wait(lambda f: f[2] == sid and f[0] in (HEADERS, DATA) and f[1] & END_STREAM, timeout)
        return f is not None

    def send_until_goaway(self, chunks, pause=0.02):
        """Sends chunk by chunk, stopping once the server has said GOAWAY, so the
        server never closes on unread bytes (which would reset the connection
        and could discard its GOAWAY before we read it)."""
        for c in chunks:
            if any(f[0] == GOAWAY for f in self.frames) or self.closed:
                return
            if not self.send(c):
                return
            self.pump(pause)

    def wait_closed(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self.pump(0.2)
        check(self.closed, "the server did not close the connection after GOAWAY")

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def code_of(f):
    t, _, _, p = f
    if t == GOAWAY and len(p) >= 8:
        return int.from_bytes(p[4:8], "big")
    if t == RST_STREAM and len(p) >= 4:
        return int.from_bytes(p[:4], "big")
    return None


# ---- a well-behaved client -----------------------------------------------


class GoodClient(threading.Thread):
    """GET /plaintext in a loop over one connection made with the `h2` library,
    reconnecting after every 50 requests; counts successes and failures."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop_flag = threading.Event()
        self.ok = 0
        self.failures = []
        self.lock = threading.Lock()
        self.first = threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            try:
                self.session()
            except Exception as e:  # any failure of a good client counts
                with self.lock:
                    self.failures.append(f"{type(e).__name__}: {e}")
                time.sleep(0.05)

    def session(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        try:
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
            conn.initiate_connection()
            s.sendall(conn.data_to_send())
            for _ in range(50):
                if self.stop_flag.is_set():
                    return
                sid = conn.get_next_available_stream_id()
                conn.send_headers(
                    sid,
                    [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", "/plaintext")],
                    end_stream=True,
                )
                s.sendall(conn.data_to_send())
                status, body, done = None, b"", False
                deadline = time.monotonic() + 5
                while not done:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no response on stream {sid} within 5 s")
                    data = s.recv(65536)
                    if not data:
                        raise ConnectionError("server closed the good client's connection")
                    for ev in conn.receive_data(data):
                        if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                            status = dict(ev.headers).get(":status")
                        elif isinstance(ev, h2.events.DataReceived):
                            conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                            if ev.stream_id == sid:
                                body += ev.data
                        elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                            done = True
                        elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                            raise ConnectionError(f"good client got {ev}")
                    s.sendall(conn.data_to_send())
                if status != "200" or body != b"Hello, World!":
                    raise ValueError(f"good client got {status} {body!r}")
                with self.lock:
                    self.ok += 1
                self.first.set()
        finally:
            s.close()

    def count(self):
        with self.lock:
            return self.ok, list(self.failures)


# ---- server health and resources -------------------------------------------


def health(port):
    """One request on a fresh connection; returns how long it took."""
    t0 = time.monotonic()
    r = Raw(port)
    try:
        r.send(headers(1, request_block()))
        check(r.response_end(1, timeout=HEALTH_TIME_LIMIT), "the server did not answer a fresh connection after the attack")
    finally:
        r.close()
    return time.monotonic() - t0


def rss_kib(pid):
    if pid is None:
        return None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def cpu_ticks(pid):
    if pid is None:
        return None
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


# ---- the cases -----------------------------------------------------------


def case_rapid_reset(port):
    """CVE-2023-44487: HEADERS then RST_STREAM at once, many times in one write."""
    r = Raw(port)
    r.pump(0.1)
    burst = b"".join(headers(1 + 2 * i, request_block()) + rst(1 + 2 * i, CANCEL) for i in range(200))
    r.send(burst)
    r.expect_goaway(ENHANCE_YOUR_CALM, "200 streams opened and reset in one write")


def case_made_you_reset(port):
    """CVE-2025-8671: frames that make the server reset streams (WINDOW_UPDATE 0,
    a stream window overflow, a self-dependent PRIORITY), in batches read back one
    by one; past the local reset budget (1024) the server says GOAWAY."""
    r = Raw(port)
    r.pump(0.1)
    sid = 1
    resets = 0
    makers = [
        lambda s: window_update(s, 0),
        lambda s: window_update(s, 0x7FFFFFFF),
        lambda s: priority(s, s),
    ]
    want = {0: PROTOCOL_ERROR, 1: FLOW_CONTROL_ERROR, 2: PROTOCOL_ERROR}
    for batch in range(8):
        if any(f[0] == GOAWAY for f in r.frames) or r.closed:
            break
        first = sid
        out = b""
        for i in range(150):
            out += headers(sid, request_block(b"POST", b"/echo"), end_stream=False)
            out += makers[i % 3](sid)
            sid += 2
        if not r.send(out):
            break
        last = sid - 2
        f = r.wait(lambda f: (f[0] == RST_STREAM and f[2] == last) or f[0] == GOAWAY, 10)
        check(f is not None, f"batch {batch}: no RST_STREAM or GOAWAY")
        if f[0] == RST_STREAM and batch == 0:
            # The first batch must be answered stream by stream with the right codes.
            for i in range(150):
                s = first + 2 * i
                c = r.rst_for(s, 0)
                check(c == want[i % 3], f"stream {s}: want RST_STREAM {code_name(want[i % 3])}, got {c}")
        resets = sum(1 for f in r.frames if f[0] == RST_STREAM)
    check(resets >= 1024, f"only {resets} streams were reset before GOAWAY")
    r.expect_goaway(ENHANCE_YOUR_CALM, f"stream errors past the budget ({resets} resets)")


def case_continuation_flood(port):
    """CVE-2024-27316 family: a header block that never ends."""
    r = Raw(port)
    r.pump(0.1)
    chunks = [headers(1, b"\x82", end_stream=True, end_headers=False)]
    chunks += [frame(CONTINUATION, 0, 1, b"\x00\x01a\x01b") for _ in range(200)]
    r.send_until_goaway(chunks, pause=0.005)
    r.expect_goaway(ENHANCE_YOUR_CALM, "200 CONTINUATION frames")


def case_continuation_bytes(port):
    """A header block past 64 KiB in few, large CONTINUATION frames."""
    r = Raw(port)
    r.pump(0.1)
    piece = b"\x00" + literal(b"x-pad") + b"\x7f" + bytes([0x81, 0x7F]) + b"a" * 16_000
    chunks = [headers(1, request_block(), end_stream=True, end_headers=False)]
    chunks += [frame(CONTINUATION, 0, 1, piece) for _ in range(12)]
    r.send_until_goaway(chunks, pause=0.05)
    r.expect_goaway(ENHANCE_YOUR_CALM, "a 190 KB header block")


def case_hpack_bomb(port):
    """A 4 KB header stored once in the dynamic table, then referenced 3000 times
    by one-byte indexes: a 7 KB block that decodes to 12 MB."""
    r = Raw(port)
    r.pump(0.1)
    big = b"\x40" + literal(b"x-bomb") + hpack_int(4000, 7, 0) + b"b" * 4000
    block = request_block() + big + b"\xbe" * 3000
    r.send(headers(1, block))
    r.expect_goaway(ENHANCE_YOUR_CALM, "HPACK bomb")


def case_settings_flood(port):
    r = Raw(port)
    r.pump(0.1)
    r.send(frame(SETTINGS, 0, 0) * 300)
    r.expect_goaway(ENHANCE_YOUR_CALM, "300 SETTINGS frames")


def case_ping_flood(port):
    r = Raw(port)
    r.pump(0.1)
    r.send(ping() * 300)
    r.expect_goaway(ENHANCE_YOUR_CALM, "300 PING frames")


def case_empty_data_flood(port):
    r = Raw(port)
    r.pump(0.1)
    out = headers(1, request_block(b"POST", b"/echo"), end_stream=False)
    out += frame(DATA, 0, 1) * 300
    r.send(out)
    r.expect_goaway(ENHANCE_YOUR_CALM, "300 empty DATA frames")


def case_priority_flood(port):
    r = Raw(port)
    r.pump(0.1)
    # Each on a different idle stream: no state may be kept for them.
    r.send(b"".join(priority(1 + 2 * i, 0) for i in range(1100)))
    r.expect_goaway(ENHANCE_YOUR_CALM, "1100 PRIORITY frames")


def case_connection_window_overflow(port):
    r = Raw(port)
    r.pump(0.1)
    r.send(window_update(0, 0x7FFFFFFF))
    r.expect_goaway(FLOW_CONTROL_ERROR, "connection window past 2^31-1")


def case_stream_window_overflow(port):
    """A stream error: only that stream is reset; the connection keeps serving."""
    r = Raw(port)
    r.pump(0.1)
    r.send(headers(1, request_block(b"POST", b"/echo"), end_stream=False) + window_update(1, 0x7FFFFFFF))
    c = r.rst_for(1)
    check(c == FLOW_CONTROL_ERROR, f"want RST_STREAM FLOW_CONTROL_ERROR on stream 1, got {c}")
    r.send(headers(3, request_block()))
    check(r.response_end(3), "the connection stopped serving after a stream error")
    r.close()


def case_stream_id_regression(port):
    r = Raw(port)
    r.pump(0.1)
    r.send(headers(5, request_block()))
    check(r.response_end(5), "no response on stream 5")
    r.send(headers(3, request_block()))
    r.expect_goaway(PROTOCOL_ERROR, "HEADERS on stream 3 after stream 5")


def case_even_stream_id(port):
    r = Raw(port)
    r.pump(0.1)
    r.send(headers(2, request_block()))
    r.expect_goaway(PROTOCOL_ERROR, "HEADERS on even stream 2")


def case_data_on_closed_stream(port):
    r = Raw(port)
    r.pump(0.1)
    r.send(headers(1, request_block()))
    check(r.response_end(1), "no response on stream 1")
    r.send(frame(DATA, END_STREAM, 1, b"late"))
    # RFC 9113 section 5.1: a stream error STREAM_CLOSED, or (MAY) a connection
    # error of the same type.
    f = r.wait(lambda f: f[0] == GOAWAY or (f[0] == RST_STREAM and f[2] == 1))
    check(f is not None, "no RST_STREAM or GOAWAY for DATA on a closed stream")
    check(code_of(f) == STREAM_CLOSED, f"want STREAM_CLOSED, got {code_name(code_of(f))}")
    if f[0] == RST_STREAM:
        r.send(headers(3, request_block()))
        check(r.response_end(3), "the connection stopped serving after a stream error")
        r.close()
    else:
        r.wait_closed()


def case_data_on_idle_stream(port):
    r = Raw(port)
    r.pump(0.1)
    r.send(frame(DATA, END_STREAM, 7, b"x"))
    r.expect_goaway(PROTOCOL_ERROR, "DATA on an idle stream")


def case_oversized_frame(port):
    r = Raw(port)
    r.pump(0.1)
    r.send(headers(1, request_block(b"POST", b"/echo"), end_stream=False) + frame(DATA, 0, 1, b"z" * 16_385))
    r.expect_goaway(FRAME_SIZE_ERROR, "a 16,385-byte DATA frame (max 16,384)")


def case_too_many_streams(port):
    """129 open streams where 128 are allowed: the 129th is refused, the rest live."""
    r = Raw(port)
    r.pump(0.1)
    out = b"".join(headers(1 + 2 * i, request_block(b"POST", b"/echo"), end_stream=False) for i in range(129))
    r.send(out)
    c = r.rst_for(1 + 2 * 128)
    check(c == REFUSED_STREAM, f"want RST_STREAM REFUSED_STREAM on stream 257, got {c}")
    r.send(frame(DATA, END_STREAM, 1, b"hi"))
    check(r.response_end(1), "an admitted stream was not answered")
    check(not any(f[0] == GOAWAY for f in r.frames), "GOAWAY for a refused stream")
    r.close()


def case_window_starvation(port):
    """A client that grants no window (SETTINGS_INITIAL_WINDOW_SIZE 0) and asks
    for many responses: the server must hold them without spinning or buffering
    without bound, and other clients keep being served."""
    r = Raw(port)
    r.send(frame(SETTINGS, 0, 0, struct.pack(">HI", 0x4, 0)))
    r.pump(0.1)
    r.send(b"".join(headers(1 + 2 * i, request_block(b"GET", b"/stream?n=1000")) for i in range(100)))
    # Headers come back; no DATA may.
    got = r.wait(lambda f: f[0] == HEADERS and f[2] == 199, 5)
    check(got is not None, "no response head for stream 199")
    r.pump(0.3)
    check(not any(f[0] == DATA and f[3] for f in r.frames), "DATA sent without flow-control window")
    r.close()


def case_bad_preface(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + b"\x00" * 64)
    s.settimeout(5)
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    # Not the preface, so not HTTP/2: it is read as an HTTP/1.1 request line and
    # refused; the connection must end either way.
    check(got == b"" or got.startswith(b"HTTP/1.1 4") or got.startswith(b"HTTP/1.1 5"), f"unexpected answer to a bad preface: {got[:40]!r}")


CASES = [
    ("rapid reset (CVE-2023-44487)", "rapid_reset", case_rapid_reset),
    ("MadeYouReset (CVE-2025-8671)", "made_you_reset", case_made_you_reset),
    ("CONTINUATION flood (frames)", "continuation_flood", case_continuation_flood),
    ("CONTINUATION flood (bytes)", "continuation_bytes", case_continuation_bytes),
    ("HPACK bomb", "hpack_bomb", case_hpack_bomb),
    ("SETTINGS flood", "settings_flood", case_settings_flood),
    ("PING flood", "ping_flood", case_ping_flood),
    ("empty DATA flood", "empty_data_flood", case_empty_data_flood),
    ("PRIORITY flood", "priority_flood", case_priority_flood),
    ("connection window overflow", "connection_window_overflow", case_connection_window_overflow),
    ("stream window overflow", "stream_window_overflow", case_stream_window_overflow),
    ("stream id regression", "stream_id_regression", case_stream_id_regression),
    ("even stream id", "even_stream_id", case_even_stream_id),
    ("DATA on a closed stream", "data_on_closed_stream", case_data_on_closed_stream),
    ("DATA on an idle stream", "data_on_idle_stream", case_data_on_idle_stream),
    ("oversized frame", "oversized_frame", case_oversized_frame),
    ("too many concurrent streams", "too_many_streams", case_too_many_streams),
    ("zero window starvation", "window_starvation", case_window_starvation),
    ("bad preface", "bad_preface", case_bad_preface),
]


def run_case(port, pid, fn):
    good = GoodClient(port)
    good.start()
    if not good.first.wait(10):
        good.stop_flag.set()
        raise CaseFailed(f"the good client got no answer before the attack: {good.count()[1][:1]}")
    rss0, cpu0 = rss_kib(pid), cpu_ticks(pid)
    ok0, _ = good.count()
    t0 = time.monotonic()
    try:
        fn(port)
    finally:
        elapsed = time.monotonic() - t0
        # The good client must complete requests after the attack started.
        deadline = time.monotonic() + 5
        while good.count()[0] <= ok0 and time.monotonic() < deadline:
            time.sleep(0.01)
        good.stop_flag.set()
        good.join(10)
    ok1, failures = good.count()
    check(not failures, f"the good client failed during the attack: {failures[:3]}")
    check(ok1 > ok0, "the good client was not served during the attack")
    check(elapsed < CASE_TIME_LIMIT, f"the attack took {elapsed:.1f} s (limit {CASE_TIME_LIMIT} s)")
    h = health(port)
    check(h < HEALTH_TIME_LIMIT, f"a fresh request took {h:.2f} s after the attack")
    rss1, cpu1 = rss_kib(pid), cpu_ticks(pid)
    notes = f"{elapsed:.2f} s, good client {ok1 - ok0} ok, health {h * 1000:.0f} ms"
    if rss0 is not None:
        grew = rss1 - rss0
        notes += f", RSS {rss0} -> {rss1} KiB, CPU {cpu1 - cpu0} ticks"
        check(grew < RSS_GROWTH_LIMIT_KIB, f"RSS grew by {grew} KiB ({notes})")
    return notes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--case", action="append", help="run only these cases (by short name)")
    a = ap.parse_args()
    passed = failed = 0
    rss_start = rss_kib(a.pid)
    for title, name, fn in CASES:
        if a.case and name not in a.case:
            continue
        try:
            notes = run_case(a.port, a.pid, fn)
            print(f"ok   {name}: {title} ({notes})", flush=True)
            passed += 1
        except CaseFailed as e:
            print(f"FAIL {name}: {title}: {e}", flush=True)
            failed += 1
        except Exception as e:
            print(f"FAIL {name}: {title}: {type(e).__name__}: {e}", flush=True)
            failed += 1
    if rss_start is not None:
        end = rss_kib(a.pid)
        print(f"server RSS {rss_start} -> {end} KiB over the suite")
        if end - rss_start > 2 * RSS_GROWTH_LIMIT_KIB:
            print(f"FAIL rss: grew by {end - rss_start} KiB over the suite")
            failed += 1
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
