#!/usr/bin/env python3
"""Python `websockets` client checks against flare's WebSocket routes.

Run by `crates/flare/tests/ws.rs` against its test app: the first argument is the
base URL (`ws://127.0.0.1:PORT` or `wss://localhost:PORT`), the optional second a CA
file for wss. Routes: `/echo` (echo), `/chat` (a broadcast room), `/proto`
(chooses the subprotocol `chat.v2` when offered), `/small` (max message 1024
bytes), `/nodeflate` (refuses compression). Prints one line per case and
`ws_client: all passed` at the end; exits 1 on the first failure.

The client is websockets' asyncio one, not its threaded sync one: the sync client
reads in a background thread while the main thread writes, on the same SSL object,
and with CPython's ssl (3.11) a TLS 1.3 NewSessionTicket processed by that read
while the upgrade request is being written lost the request now and then
(the server saw the handshake end and nothing after it).
"""

import asyncio
import os
import ssl
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

BASE = sys.argv[1]
CTX = None
if len(sys.argv) > 2:
    CTX = ssl.create_default_context(cafile=sys.argv[2])


def case(name):
    def wrap(f):
        try:
            asyncio.run(f())
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


async def recv(c):
    return await asyncio.wait_for(c.recv(), 10)


def extensions(c):
    return [type(e).__name__ for e in c.protocol.extensions]


@case("echo text and binary without compression")
async def _():
    async with ws("/echo", compression=None) as c:
        assert extensions(c) == [], extensions(c)
        await c.send("héllo ☕")
        assert await recv(c) == "héllo ☕"
        await c.send(b"\x00\x01\xfe\xff")
        assert await recv(c) == b"\x00\x01\xfe\xff"
        await c.send("")
        assert await recv(c) == ""


@case("echo with permessage-deflate: small, large compressible, large random, many")
async def _():
    async with ws("/echo") as c:
        assert extensions(c) == ["PerMessageDeflate"], extensions(c)
        await c.send("a")
        assert await recv(c) == "a"
        big = "flare " * 200_000
        await c.send(big)
        assert await recv(c) == big
        rnd = os.urandom(300_000)
        await c.send(rnd)
        assert await recv(c) == rnd
        for i in range(500):
            await c.send(f"message {i}")
        for i in range(500):
            assert await recv(c) == f"message {i}"


@case("fragmented messages are assembled (text split inside a character)")
async def _():
    for compression in (None, "deflate"):
        async with ws("/echo", compression=compression) as c:
            await c.send(["héll", "o wo", "rld ☕"])
            assert await recv(c) == "héllo world ☕"
            await c.send([b"ab", b"", b"cd"])
            assert await recv(c) == b"abcd"


@case("ping gets its pong")
async def _():
    async with ws("/echo") as c:
        pong = await c.ping(b"are you there")
        await asyncio.wait_for(pong, 10)
        latency = await c.ping()
        await asyncio.wait_for(latency, 10)


@case("close handshake: the client's code comes back, the server closes TCP")
async def _():
    c = await ws("/echo")
    await c.send("x")
    assert await recv(c) == "x"
    await c.close(code=4000, reason="bye")
    assert c.close_code == 4000, c.close_code


@case("subprotocol chosen by the handler from the client's offer")
async def _():
    async with ws("/proto", subprotocols=["chat.v1", "chat.v2"]) as c:
        assert c.subprotocol == "chat.v2", c.subprotocol
    async with ws("/proto", subprotocols=["other"]) as c:
        assert c.subprotocol is None, c.subprotocol


@case("a message over the route's limit closes with 1009")
async def _():
    async with ws("/small", compression=None) as c:
        await c.send("x" * 1024)
        assert await recv(c) == "x" * 1024
        await c.send("x" * 1025)
        try:
            await recv(c)
            raise AssertionError("still open")
        except ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == 1009, e


@case("the same limit applies to the inflated size (compressed bomb)")
async def _():
    async with ws("/small") as c:
        assert extensions(c) == ["PerMessageDeflate"], extensions(c)
        await c.send("z" * 100_000)  # a few hundred bytes on the wire
        try:
            await recv(c)
            raise AssertionError("still open")
        except ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == 1009, e


@case("a route that refuses compression answers without the extension")
async def _():
    async with ws("/nodeflate") as c:
        assert extensions(c) == [], extensions(c)
        await c.send("plain")
        assert await recv(c) == "plain"


@case("chat room: every message reaches every member, across workers")
async def _():
    members = [await ws("/chat") for _ in range(6)]
    try:
        # Everyone is in the room once they hear their own hello.
        for i, m in enumerate(members):
            await m.send(f"hello from {i}")
            deadline = time.time() + 10
            while await recv(m) != f"hello from {i}":
                assert time.time() < deadline
        await members[0].send("to everyone")
        for i, m in enumerate(members):
            deadline = time.time() + 10
            while True:
                got = await recv(m)
                if got == "to everyone":
                    break
                assert time.time() < deadline, f"member {i} never heard it"
    finally:
        for m in members:
            await m.close()


print("ws_client: all passed")
