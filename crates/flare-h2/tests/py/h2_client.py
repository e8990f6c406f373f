"""Python `h2` (a sans-IO HTTP/2 implementation we did not write) as a
client of flare-h2's server, over pipes: each message is a 4-byte big-endian
length and the octets one side wrote. Strict alternation: we write, then
read the server's answer.

Exits 0 when every scenario passed; prints what failed otherwise.
"""
import struct
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings

out = sys.stdout.buffer
inp = sys.stdin.buffer


def send(data):
    out.write(struct.pack(">I", len(data)) + data)
    out.flush()


def recv():
    head = inp.read(4)
    if len(head) < 4:
        raise SystemExit("server closed the pipe")
    (n,) = struct.unpack(">I", head)
    return inp.read(n)


conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding=None, validate_outbound_headers=False, normalize_outbound_headers=False))
conn.initiate_connection()
conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 65535})

responses = {}  # stream id -> dict(status, body, trailers, ended)
pings = []
acked_settings = []


def exchange():
    send(conn.data_to_send())
    for event in conn.receive_data(recv()):
        if isinstance(event, h2.events.ResponseReceived):
            responses.setdefault(event.stream_id, {})["headers"] = dict(event.headers)
        elif isinstance(event, h2.events.DataReceived):
            r = responses.setdefault(event.stream_id, {})
            r["body"] = r.get("body", b"") + event.data
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.TrailersReceived):
            responses.setdefault(event.stream_id, {})["trailers"] = dict(event.headers)
        elif isinstance(event, h2.events.StreamEnded):
            responses.setdefault(event.stream_id, {})["ended"] = True
        elif isinstance(event, h2.events.PingAckReceived):
            pings.append(event.ping_data)
        elif isinstance(event, h2.events.SettingsAcknowledged):
            acked_settings.append(event)
        elif isinstance(event, h2.events.StreamReset):
            responses.setdefault(event.stream_id, {})["reset"] = event.error_code
        elif isinstance(event, h2.events.ConnectionTerminated):
            responses.setdefault(0, {})["goaway"] = (event.error_code, event.last_stream_id)


def until(cond, what):
    for _ in range(2000):
        if cond():
            return
        exchange()
    raise SystemExit("timed out waiting for " + what)


def req(method, path, extra=(), end_stream=True):
    sid = conn.get_next_available_stream_id()
    headers = [(b":method", method), (b":scheme", b"http"), (b":authority", b"localhost"), (b":path", path)]
    conn.send_headers(sid, headers + list(extra), end_stream=end_stream)
    return sid


failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


# 1. A GET.
a = req(b"GET", b"/hello")
until(lambda: responses.get(a, {}).get("ended"), "GET")
check(responses[a]["headers"][b":status"] == b"200", "GET status %r" % responses[a])
check(responses[a]["body"] == b"hello", "GET body %r" % responses[a].get("body"))
check(acked_settings, "our SETTINGS acknowledged")

# 2. A 1 MiB upload: the server answers with the length and a checksum,
# and a 1 MiB download, both through 64 KiB windows.
body = bytes(i % 251 for i in range(1 << 20))
b = req(b"POST", b"/echo", end_stream=False)
sent = 0
while sent < len(body):
    window = min(conn.local_flow_control_window(b), conn.max_outbound_frame_size)
    if window > 0:
        chunk = body[sent:sent + window]
        conn.send_data(b, chunk, end_stream=sent + len(chunk) == len(body))
        sent += len(chunk)
    exchange()
until(lambda: responses.get(b, {}).get("ended"), "echo")
check(responses[b]["headers"][b":status"] == b"200", "echo status")
check(responses[b].get("body") == body, "echo body (%d octets)" % len(responses[b].get("body", b"")))
check(responses[b].get("trailers", {}).get(b"x-length") == str(len(body)).encode(), "echo trailers %r" % responses[b].get("trailers"))

# 3. Trailers from the client.
c = req(b"POST", b"/trailers", extra=[(b"te", b"trailers")], end_stream=False)
conn.send_data(c, b"abc")
conn.send_headers(c, [(b"x-client-trailer", b"yes")], end_stream=True)
until(lambda: responses.get(c, {}).get("ended"), "trailers")
check(responses[c].get("body") == b"trailer=yes", "client trailers seen %r" % responses[c].get("body"))

# 4. Fifty concurrent GETs.
many = [req(b"GET", b"/hello") for _ in range(50)]
until(lambda: all(responses.get(s, {}).get("ended") for s in many), "50 streams")
check(all(responses[s]["body"] == b"hello" for s in many), "50 bodies")

# 5. PING.
conn.ping(b"12345678")
until(lambda: pings, "ping ack")
check(pings == [b"12345678"], "ping %r" % pings)

# 6. A malformed request (connection-specific field): reset, connection lives.
d = conn.get_next_available_stream_id()
conn.send_headers(d, [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/"), (b"connection", b"close")], end_stream=True)
e = req(b"GET", b"/hello")
until(lambda: responses.get(e, {}).get("ended"), "after reset")
check(responses.get(d, {}).get("reset") == 1, "malformed request reset with PROTOCOL_ERROR: %r" % responses.get(d))

# 7. Graceful shutdown requested through a request. Python h2 treats the
# first GOAWAY as the end and rejects the PING that follows it, so the
# frames are read with hyperframe (h2's own frame layer) from here on.
import hyperframe.frame as hf


def raw_frames(data):
    frames = []
    while data:
        frame, length = hf.Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9:9 + length]))
        frames.append(frame)
        data = data[9 + length:]
    return frames


f = req(b"GET", b"/shutdown")
send(conn.data_to_send())
frames = raw_frames(recv())
kinds = [type(x).__name__ for x in frames]
check(kinds == ["GoAwayFrame", "PingFrame", "HeadersFrame"], "shutdown frames %r" % kinds)
check(frames[0].last_stream_id == 2**31 - 1 and frames[0].error_code == 0, "first GOAWAY %r" % frames[0])
ack = hf.PingFrame(0)
ack.flags.add("ACK")
ack.opaque_data = frames[1].opaque_data
send(ack.serialize())
frames = raw_frames(recv())
check([type(x).__name__ for x in frames] == ["GoAwayFrame"], "final frames %r" % frames)
check(frames and frames[0].last_stream_id == f, "final GOAWAY names stream %d: %r" % (f, frames))

if failures:
    sys.stderr.write("FAILED:\n" + "\n".join(failures) + "\n")
    send(b"")
    sys.exit(1)
sys.exit(0)
