#!/usr/bin/env python3
"""Python `websockets` client checks against flare's WebSocket routes.

Run by `crates/flare/tests/ws.rs` against its test app: the first argument is the
base URL (`ws://127.0.0.1:PORT` or `wss://localhost:PORT`), the optional second a CA
file for wss. Routes: `/echo` (echo), `/chat` (a broadcast room), `/proto`
(chooses the subprotocol `chat.v2` when offered), `/small` (max message 1024
bytes), `/nodeflate` (refuses compression). Prints one line per case and
`ws_client: all passed` at the end; exits 1 on the first failure.
"""

import os
import ssl
import sys
import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

BASE = sys.argv[1]
CTX = None
if len(sys.argv) > 2:
    CTX = ssl.create_default_context(cafile=sys.argv[2])


def case(name):
    def wrap(f):
        try:
            f()
        except AssertionError as e:
            print(f"FAIL {name}: {e}")
            sys.exit(1)
        except Exception as e:  # noqa: BLE001 - any failure fails the case
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            sys.exit(1)
        print(f"ok   {name}")
        return f

    return wrap


def ws(path, **kw):
    if CTX is not None:
        kw["ssl"] = CTX
    kw.setdefault("open_timeout", 10)
    kw.setdefault("close_timeout", 10)
    kw.setdefault("max_size", 64 * 1024 * 1024)
    return connect(BASE + path, **kw)


def extensions(c):
    return [type(e).__name__ for e in c.protocol.extensions]


@case("echo text and binary without compression")
def _():
    with ws("/echo", compression=None) as c:
        assert extensions(c) == [], extensions(c)
        c.send("héllo ☕")
        assert c.recv(timeout=10) == "héllo ☕"
        c.send(b"\x00\x01\xfe\xff")
        assert c.recv(timeout=10) == b"\x00\x01\xfe\xff"
        c.send("")
        assert c.recv(timeout=10) == ""


@case("echo with permessage-deflate: small, large compressible, large random, many")
def _():
    with ws("/echo") as c:
        assert extensions(c) == ["PerMessageDeflate"], extensions(c)
        c.send("a")
        assert c.recv(timeout=10) == "a"
        big = "flare " * 200_000
        c.send(big)
        assert c.recv(timeout=10) == big
        rnd = os.urandom(300_000)
        c.send(rnd)
        assert c.recv(timeout=10) == rnd
        for i in range(500):
            c.send(f"message {i}")
        for i in range(500):
            assert c.recv(timeout=10) == f"message {i}"


@case("fragmented messages are assembled (text split inside a character)")
def _():
    for compression in (None, "deflate"):
        with ws("/echo", compression=compression) as c:
            c.send(["héll", "o wo", "rld ☕"])
            assert c.recv(timeout=10) == "héllo world ☕"
            c.send([b"ab", b"", b"cd"])
            assert c.recv(timeout=10) == b"abcd"


@case("ping gets its pong")
def _():
    with ws("/echo") as c:
        pong = c.ping(b"are you there")
        assert pong.wait(10), "no pong"
        latency = c.ping()
        assert latency.wait(10)


@case("close handshake: the client's code comes back, the server closes TCP")
def _():
    c = ws("/echo")
    c.send("x")
    assert c.recv(timeout=10) == "x"
    c.close(code=4000, reason="bye")
    assert c.close_code == 4000, c.close_code


@case("subprotocol chosen by the handler from the client's offer")
def _():
    with ws("/proto", subprotocols=["chat.v1", "chat.v2"]) as c:
        assert c.subprotocol == "chat.v2", c.subprotocol
    with ws("/proto", subprotocols=["other"]) as c:
        assert c.subprotocol is None, c.subprotocol


@case("a message over the route's limit closes with 1009")
def _():
    with ws("/small", compression=None) as c:
        c.send("x" * 1024)
        assert c.recv(timeout=10) == "x" * 1024
        c.send("x" * 1025)
        try:
            c.recv(timeout=10)
            raise AssertionError("still open")
        except ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == 1009, e


@case("the same limit applies to the inflated size (compressed bomb)")
def _():
    with ws("/small") as c:
        assert extensions(c) == ["PerMessageDeflate"], extensions(c)
        c.send("z" * 100_000)  # a few hundred bytes on the wire
        try:
            c.recv(timeout=10)
            raise AssertionError("still open")
        except ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == 1009, e


@case("a route that refuses compression answers without the extension")
def _():
    with ws("/nodeflate") as c:
        assert extensions(c) == [], extensions(c)
        c.send("plain")
        assert c.recv(timeout=10) == "plain"


@case("chat room: every message reaches every member, across workers")
def _():
    members = [ws("/chat") for _ in range(6)]
    try:
        # Everyone is in the room once they hear their own hello.
        for i, m in enumerate(members):
            m.send(f"hello from {i}")
            deadline = time.time() + 10
            while m.recv(timeout=10) != f"hello from {i}":
                assert time.time() < deadline
        members[0].send("to everyone")
        for i, m in enumerate(members):
            deadline = time.time() + 10
            while True:
                got = m.recv(timeout=10)
                if got == "to everyone":
                    break
                assert time.time() < deadline, f"member {i} never heard it"
    finally:
        for m in members:
            m.close()


print("ws_client: all passed")
