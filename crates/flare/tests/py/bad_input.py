#!/usr/bin/env python3
"""Bad-input suite for flare's HTTP/1.1 server, over raw sockets.

Run by `crates/flare/tests/h1_bad_input.rs` against a server whose handler has the
routes of `tests/common/mod.rs::basic` (`/plaintext`, `/echo`, `/len`, `/trailers`).

Every case opens a connection, sends bytes, reads the response, checks the status,
checks that the connection is closed where RFC 9112 requires it (the peer's FIN:
`recv` returns b'' within a timeout) and then checks on a fresh connection that
`GET /plaintext` is still served. Limits come from the command line so the same cases
run against a server with the default limits and one with small limits.

Prints one line per case and a final line `N passed, M failed`; exits 1 on any failure.
"""

import argparse
import socket
import sys
import threading
import time

TIMEOUT = 5.0
# How long to wait for the server's FIN after its response.
CLOSE_TIMEOUT = 3.0

OK_BODY = b"Hello, World!"


class Closed(Exception):
    """The peer closed before a complete response arrived."""


class Response:
    def __init__(self, version, status, headers, body):
        self.version = version
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for n, v in self.headers:
            if n == name:
                return v
        return None

    def __repr__(self):
        return f"<{self.status} {self.headers} body={self.body[:60]!r}>"


class Conn:
    """A client connection with its own read buffer (responses may be pipelined)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.s.close()

    def send(self, data):
        self.s.sendall(data)

    def send_tolerant(self, data):
        """Sends what the server accepts; a server that answered early and closed may
        reset the rest, which is not an error here (its response is what counts)."""
        try:
            self.s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _fill(self):
        try:
            d = self.s.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            raise Closed(f"peer closed; buffered {self.buf[:200]!r}")
        self.buf += d

    def _take_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, head_request=False, allow_interim=False):
        """Reads one response. Interim (1xx) responses are returned as they are when
        `allow_interim`, otherwise rejected."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise AssertionError(f"bad status line {lines[0]!r}")
        version, status = parts[0], int(parts[1])
        headers = []
        for l in lines[1:]:
            n, _, v = l.partition(b":")
            headers.append((n.strip().lower().decode("latin-1"), v.strip()))
        r = Response(version, status, headers, b"")
        if 100 <= status < 200:
            if not allow_interim:
                raise AssertionError(f"unexpected interim response {status}")
            return r
        if head_request or status in (204, 304):
            return r
        te = r.header("transfer-encoding")
        cl = r.header("content-length")
        if te is not None:
            if te.lower() != b"chunked":
                raise AssertionError(f"transfer-encoding {te!r}")
            body = b""
            while True:
                size = int(self._take_line().split(b";")[0], 16)
                if size == 0:
                    while self._take_line() != b"":
                        pass
                    break
                body += self._take(size)
                if self._take(2) != b"\r\n":
                    raise AssertionError("chunk not followed by CRLF")
            r.body = body
        elif cl is not None:
            r.body = self._take(int(cl))
        else:
            # Close-delimited.
            try:
                while True:
                    self._fill()
            except Closed:
                pass
            r.body, self.buf = self.buf, b""
        return r

    def is_closed(self, timeout=CLOSE_TIMEOUT):
        """True when the server closes without sending anything more."""
        if self.buf:
            return False
        self.s.settimeout(timeout)
        try:
            d = self.s.recv(1)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        finally:
            self.s.settimeout(TIMEOUT)
        return d == b""


def get(path="/plaintext", extra=b""):
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n"


def post(path, body, extra=b""):
    return (
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nContent-Length: "
        + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body
    )


def chunked_post(path, chunks, extra=b"", trailers=b""):
    out = b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
    out += extra + b"\r\n"
    for c in chunks:
        out += b"%x\r\n" % len(c) + c + b"\r\n"
    return out + b"0\r\n" + trailers + b"\r\n"


class Check(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Check(msg)


class Suite:
    def __init__(self, args):
        self.port = args.port
        self.a = args
        # A server answering every request with one static `Hello, World!` response
        # (`HttpServer::start_static`): routes do not exist, every 200 carries OK_BODY.
        self.static = args.static
        self.passed = 0
        self.failed = 0

    # -- runner ------------------------------------------------------------------

    def run(self, name, fn):
        try:
            fn()
            self.fresh_connection_served()
        except (Check, AssertionError, Closed, OSError, ValueError) as e:
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            return
        self.passed += 1
        print(f"ok   {name}", flush=True)

    def fresh_connection_served(self):
        c = Conn(self.port)
        try:
            c.send(get())
            r = c.response()
            check(r.status == 200 and r.body == OK_BODY, f"fresh connection got {r}")
        finally:
            c.close()

    # -- case shapes -------------------------------------------------------------

    def b(self, body):
        """The body a route answers with `body`; the static server's is always the same."""
        return OK_BODY if self.static else body

    def expect(self, raw, status, close=True, body=None, tolerant=False):
        """Sends `raw`, expects `status` and (if `close`) the server's close; if
        `close` is False, the connection must still serve another request."""
        c = Conn(self.port)
        try:
            if tolerant:
                c.send_tolerant(raw)
            else:
                c.send(raw)
            r = c.response()
            if self.static and status == 404:
                status = 200
            check(r.status == status, f"want {status}, got {r}")
            if body is not None:
                body = self.b(body)
                check(r.body == body, f"want body {body[:80]!r}, got {r.body[:80]!r}")
            if close is True:
                check(c.is_closed(), "connection not closed after the response")
            elif close is False:
                c.send(get())
                r2 = c.response()
                check(r2.status == 200 and r2.body == OK_BODY, f"keep-alive follow-up {r2}")
        finally:
            c.close()

    def bad(self, raw, status=400):
        """A request the server must refuse and then close (RFC 9112 sections 6.3 and
        11.2: after a framing error the next message boundary is unknown)."""
        self.expect(raw, status, close=True, tolerant=True)

    # -- cases -------------------------------------------------------------------

    def cases(self):
        R = self.run

        # Baselines: a good request, and one that keeps the connection.
        R("baseline GET keeps the connection", lambda: self.expect(get(), 200, close=False, body=OK_BODY))
        R("POST with Content-Length", lambda: self.expect(post("/len", b"hello"), 200, close=False, body=b"5"))
        R("POST chunked", lambda: self.expect(chunked_post("/echo", [b"hel", b"lo"]), 200, close=False, body=b"hello"))
        R("Connection: close is honoured", lambda: self.expect(get(extra=b"Connection: close\r\n"), 200, close=True))

        # Smuggling shapes.
        R("CL then TE -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
        R("TE then CL -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"))
        R("CL + TE smuggling a second request -> 400, nothing more", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"))
        R("duplicate Content-Length, same value -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"))
        R("duplicate Content-Length, different values -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"))
        R("Content-Length list '5, 5' -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\nhello"))
        R("Content-Length '+5' -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello"))
        R("Content-Length '-1' -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n"))
        R("Content-Length hex '0x5' -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: 0x5\r\n\r\nhello"))
        R("Content-Length overflowing u64 -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n"))
        R("Transfer-Encoding: chunked, identity -> 501", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501))
        R("Transfer-Encoding: gzip, chunked -> 501", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501))
        R("Transfer-Encoding: identity -> 501", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n", 501))
        R("Transfer-Encoding: chunked, chunked -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"))
        R("two Transfer-Encoding: chunked fields -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
        R("Transfer-Encoding: chunked;x=1 -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked;x=1\r\n\r\n0\r\n\r\n"))
        R("empty Transfer-Encoding -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \r\n\r\n0\r\n\r\n"))
        R("'Transfer-Encoding : chunked' (space before colon) -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"))
        R("'Transfer-Encoding<TAB>: chunked' (tab before colon) -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n"))
        R("'Transfer-Encoding: chun<TAB>ked' (tab inside the coding) -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chun\tked\r\n\r\n0\r\n\r\n"))
        R("'Transfer-Encoding:<TAB>chunked<TAB>' (tab as OWS) is chunked", lambda: self.expect(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\tchunked\t\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            200, close=False, body=b"5"))
        R("'Transfer-Encoding: xchunked' -> 501", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 501))

        # Line syntax.
        R("obs-fold -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n"))
        R("obs-fold with tab -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\r\n\tb\r\n\r\n"))
        R("whitespace before the first header line -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\n Host: t\r\n\r\n"))
        R("bare LF line endings -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\nHost: t\n\n"))
        R("bare LF in a header line -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: t\nX-A: b\r\n\r\n"))
        R("bare LF ending the head -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\n"))
        R("bare CR in the request line -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\rHost: t\r\n\r\n"))
        R("bare CR in a header value -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n"))
        R("NUL in a header value -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n"))
        R("control byte 0x01 in a header value -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n"))
        R("DEL in a header value -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\x7fb\r\n\r\n"))
        R("header value with tab and obs-text is accepted", lambda: self.expect(
            b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\tb\xe9\r\n\r\n", 200, close=False, body=OK_BODY))
        R("header name with a space -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX Bad: a\r\n\r\n"))
        R("header name with '(' (not a tchar) -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX(Bad): a\r\n\r\n"))
        R("header name with '@' -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX@Bad: a\r\n\r\n"))
        R("empty header name -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: t\r\n: a\r\n\r\n"))
        R("header line without colon -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n"))
        R("leading empty lines before the request line are skipped", lambda: self.expect(
            b"\r\n\r\n" + get(), 200, close=False, body=OK_BODY))
        R("an extra CRLF after a body, before the next request, is skipped", self.crlf_between)
        R("trailing space after the version -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1 \r\nHost: t\r\n\r\n"))
        R("Content-Length with leading zeros", lambda: self.expect(
            b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: 005\r\n\r\nhello", 200, close=False, body=b"5"))
        R("Transfer-Encoding: CHUNKED (case-insensitive) is chunked", lambda: self.expect(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            200, close=False, body=b"5"))
        R("GET with a Content-Length body keeps framing", lambda: self.expect(
            b"GET /len HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", 200, close=False, body=b"5"))
        R("OPTIONS * is accepted", lambda: self.expect(
            b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", 404, close=False))
        R("good request then a bad one in one write: 200, 400, close", self.good_then_bad)

        # Request line and Host.
        R("missing Host on HTTP/1.1 -> 400", lambda: self.bad(b"GET /plaintext HTTP/1.1\r\n\r\n"))
        R("two Host fields -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"))
        R("invalid Host value -> 400", lambda: self.bad(
            b"GET /plaintext HTTP/1.1\r\nHost: a b\r\n\r\n"))
        R("HTTP/1.0 without Host is fine (and closes)", lambda: self.expect(
            b"GET /plaintext HTTP/1.0\r\n\r\n", 200, close=True, body=OK_BODY))
        R("HTTP/1.0 keep-alive keeps the connection", lambda: self.http10_keep_alive())
        R("HTTP/1.0 with Transfer-Encoding -> 400", lambda: self.bad(
            b"POST /len HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
        R("HTTP/2.0 version string -> 505", lambda: self.bad(
            b"GET /plaintext HTTP/2.0\r\nHost: t\r\n\r\n", 505))
        R("HTTP/1.2 version string -> 505", lambda: self.bad(
            b"GET /plaintext HTTP/1.2\r\nHost: t\r\n\r\n", 505))
        R("lowercase 'http/1.1' -> 400", lambda: self.bad(
            b"GET /plaintext http/1.1\r\nHost: t\r\n\r\n"))
        R("garbage version -> 400", lambda: self.bad(
            b"GET /plaintext HTTX/1.1\r\nHost: t\r\n\r\n"))
        R("method with '@' -> 400", lambda: self.bad(b"G@T /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"))
        R("method with '(' -> 400", lambda: self.bad(b"GE(T /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"))
        R("two spaces after the method -> 400", lambda: self.bad(
            b"GET  /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"))
        R("NUL in the target -> 400", lambda: self.bad(b"GET /plain\x00text HTTP/1.1\r\nHost: t\r\n\r\n"))
        R("'*' target with GET -> 400", lambda: self.bad(b"GET * HTTP/1.1\r\nHost: t\r\n\r\n"))
        R("authority-form target with GET -> 400", lambda: self.bad(
            b"GET example.com:80 HTTP/1.1\r\nHost: t\r\n\r\n"))
        R("absolute-form target is served", lambda: self.expect(
            b"GET http://t/plaintext HTTP/1.1\r\nHost: t\r\n\r\n", 200, close=False, body=OK_BODY))
        R("Expect: something-else -> 417", lambda: self.expect(
            b"POST /len HTTP/1.1\r\nHost: t\r\nExpect: something-else\r\nContent-Length: 5\r\n\r\nhello",
            417, close=None, tolerant=True))
        R("Expect: 100-continue gets 100, then the answer", lambda: self.expect_continue())
        R("Expect: 100-continue on HTTP/1.0 is ignored (no 100)", lambda: self.expect(
            b"POST /len HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
            200, close=True, body=b"5"))
        R("Expect: 100-continue with the body already sent: one final answer", lambda: self.expect(
            b"POST /len HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
            200, close=False, body=b"5"))
        R("request then half-close: still answered, then closed", self.half_close)
        R("pipelined request after Connection: close is not answered", lambda: self.expect(
            get(extra=b"Connection: close\r\n") + get(), 200, close=True, body=OK_BODY))

        # Chunked bodies.
        R("chunk size not hex -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"))
        R("chunk size '-1' -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nhello\r\n0\r\n\r\n"))
        R("empty chunk size line -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n"))
        R("chunk size '0x5' -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"))
        R("chunk size overflowing u64 (ffffffffffffffffff) -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n"))
        R("chunk size bare LF -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"))
        R("missing CRLF after chunk data -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"))
        R("chunk data longer than its size -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"))
        R("chunk extensions are accepted and ignored", lambda: self.expect(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;name=value;flag\r\nhello\r\n6 ; q=\"a \\\"b\"\r\n world\r\n0;last\r\n\r\n",
            200, close=False, body=b"hello world"))
        R("invalid chunk extension -> 400", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n"))
        R("request trailers reach the handler", lambda: self.expect(
            chunked_post("/trailers", [b"abc"], trailers=b"X-A: 1\r\nX-B: two\r\n"),
            200, close=False, body=b"x-a=1,x-b=two"))
        # RFC 9110 section 6.5: fields that must not be trailers are dropped (framing,
        # routing, controls, authentication) or kept as trailers, never refused.
        for field in (b"Content-Length: 3", b"Transfer-Encoding: chunked", b"Host: evil",
                      b"Authorization: Basic eA=="):
            R(f"trailer {field.split(b':')[0].decode()} is dropped", lambda field=field: self.expect(
                chunked_post("/trailers", [b"abc"], trailers=field + b"\r\nX-A: 1\r\n"),
                200, close=False, body=b"x-a=1"))
        R("trailers content-type and vary are kept as trailers", lambda: self.expect(
            chunked_post("/trailers", [b"abc"], trailers=b"Content-Type: text/plain\r\nVary: *\r\n"),
            200, close=False, body=b"content-type=text/plain,vary=*"))
        R("trailer obs-fold -> 400", lambda: self.bad(
            chunked_post("/len", [b"abc"], trailers=b"X-A: 1\r\n folded\r\n")))

        # Limits: at the limit passes, over fails.
        self.limit_cases()

        # Pipelining and keep-alive.
        R("3 pipelined requests in one write, answered in order", self.pipelined_three)
        R("2000 pipelined requests (output held back and resumed), in order", self.pipelined_flood)
        R("2000 pipelined requests then half-close: all answered", lambda: self.pipelined_flood(half_close=True))
        R("pipelined requests split at every byte boundary", self.split_everywhere)
        R("100 requests on one keep-alive connection", self.hundred_in_a_row)
        R("50 stalled connections do not hold up others", self.stalled_do_not_block)

    # -- limit cases ---------------------------------------------------------------

    def limit_cases(self):
        a = self.a
        R = self.run

        # Request line: `GET /plaintext?<pad> HTTP/1.1` is exactly n bytes (no CRLF).
        def request_line(n):
            fixed = len(b"GET /plaintext? HTTP/1.1")
            return b"GET /plaintext?" + b"q" * (n - fixed) + b" HTTP/1.1"

        line = a.max_request_line
        R(f"request line of {line} bytes is served", lambda: self.expect(
            request_line(line) + b"\r\nHost: t\r\n\r\n", 200, close=False, body=OK_BODY))
        R(f"request line of {line + 1} bytes -> 414", lambda: self.bad(
            request_line(line + 1) + b"\r\nHost: t\r\n\r\n", 414))
        R("request line far over the limit, no CRLF yet -> 414", lambda: self.bad(
            request_line(line * 2), 414))

        # Header block: the whole head, final CRLF included, is exactly n bytes.
        def head_of(n):
            start = b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Pad: "
            end = b"\r\n\r\n"
            pad = n - len(start) - len(end)
            assert pad > 0
            return start + b"p" * pad + end

        hb = a.max_header_bytes
        R(f"head of {hb} bytes is served", lambda: self.expect(head_of(hb), 200, close=False, body=OK_BODY))
        R(f"head of {hb + 1} bytes -> 431", lambda: self.bad(head_of(hb + 1), 431))
        R("head far over the limit -> 431", lambda: self.bad(head_of(hb * 2), 431))

        # Header count: Host plus n - 1 others.
        def with_fields(n):
            fields = b"".join(b"X-F%d: v\r\n" % i for i in range(n - 1))
            return b"GET /plaintext HTTP/1.1\r\nHost: t\r\n" + fields + b"\r\n"

        hc = a.max_headers
        R(f"{hc} header fields are served", lambda: self.expect(with_fields(hc), 200, close=False, body=OK_BODY))
        R(f"{hc + 1} header fields -> 431", lambda: self.bad(with_fields(hc + 1), 431))

        # Body by Content-Length: refused from the head alone.
        mb = a.max_body
        R(f"Content-Length body of {mb} bytes is served", lambda: self.expect(
            post("/len", b"b" * mb), 200, close=False, body=str(mb).encode()))
        R(f"Content-Length {mb + 1} -> 413 before any body byte", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (mb + 1), 413))
        R(f"Expect: 100-continue with Content-Length {mb + 1} -> 413, no 100", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (mb + 1), 413))

        # Chunked body: counted over the chunks.
        def halves(total):
            return [b"c" * (total // 2), b"c" * (total - total // 2)]

        R(f"chunked body of {mb} bytes is served", lambda: self.expect(
            chunked_post("/len", halves(mb)), 200, close=False, body=str(mb).encode()))
        R(f"chunked body of {mb + 1} bytes -> 413", lambda: self.bad(
            chunked_post("/len", halves(mb + 1)), 413))
        R("one chunk declaring more than the limit -> 413 before its data", lambda: self.bad(
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (mb + 1), 413))

        # Chunk-size digits, leading zeros included.
        d = a.max_chunk_size_digits
        R(f"chunk size with {d} digits is accepted", lambda: self.expect(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"5".rjust(d, b"0") + b"\r\nhello\r\n0\r\n\r\n", 200, close=False, body=b"hello"))
        R(f"chunk size with {d + 1} digits -> 400", lambda: self.bad(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"5".rjust(d + 1, b"0") + b"\r\nhello\r\n0\r\n\r\n"))

        # Chunk extensions, counted over the whole body: `5;` + name bytes.
        xb = a.max_chunk_ext_bytes

        def with_ext(n):
            return (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5;" + b"e" * (n - 1) + b"\r\nhello\r\n0\r\n\r\n")

        R(f"{xb} chunk-extension bytes are accepted", lambda: self.expect(
            with_ext(xb), 200, close=False, body=b"hello"))
        R(f"{xb + 1} chunk-extension bytes -> 400", lambda: self.bad(with_ext(xb + 1)))

        # Trailer section: the trailer lines and the final CRLF.
        tb = a.max_trailer_bytes

        def with_trailer_section(n):
            start, end = b"X-Pad: ", b"\r\n"
            line = start + b"t" * (n - 2 - len(start) - len(end)) + end
            return chunked_post("/trailers", [b"abc"], trailers=line)

        R(f"trailer section of {tb} bytes is accepted", lambda: self.expect(
            with_trailer_section(tb), 200, close=False))
        R(f"trailer section of {tb + 1} bytes -> 431", lambda: self.bad(with_trailer_section(tb + 1), 431))

        def with_trailers(n):
            return chunked_post("/len", [b"abc"], trailers=b"".join(b"X-T%d: v\r\n" % i for i in range(n)))

        R(f"{hc} trailer fields are accepted", lambda: self.expect(with_trailers(hc), 200, close=False, body=b"3"))
        R(f"{hc + 1} trailer fields -> 431", lambda: self.bad(with_trailers(hc + 1), 431))

    # -- multi-step cases --------------------------------------------------------

    def crlf_between(self):
        c = Conn(self.port)
        try:
            c.send(post("/len", b"hello") + b"\r\n" + get())
            r1, r2 = c.response(), c.response()
            check(r1.status == 200 and r1.body == self.b(b"5"), f"first {r1}")
            check(r2.status == 200 and r2.body == OK_BODY, f"second {r2}")
        finally:
            c.close()

    def good_then_bad(self):
        c = Conn(self.port)
        try:
            c.send(get() + b"GET /plaintext HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n" + get())
            r1, r2 = c.response(), c.response()
            check(r1.status == 200 and r1.body == OK_BODY, f"first {r1}")
            check(r2.status == 400, f"second {r2}")
            check(c.is_closed(), "not closed after the 400")
        finally:
            c.close()

    def half_close(self):
        c = Conn(self.port)
        try:
            c.send(get() + post("/echo", b"after"))
            c.s.shutdown(socket.SHUT_WR)
            r1, r2 = c.response(), c.response()
            check(r1.status == 200 and r1.body == OK_BODY, f"first {r1}")
            check(r2.status == 200 and r2.body == self.b(b"after"), f"second {r2}")
            check(c.is_closed(), "not closed after the half-closed client was answered")
        finally:
            c.close()

    def pipelined_flood(self, half_close=False):
        n = 2000
        reqs = [post("/echo", b"req %d" % i) for i in range(n)]
        c = Conn(self.port)
        # The client must read while it writes, or both sides block on full buffers.
        sender_error = []

        def send_all():
            try:
                c.s.sendall(b"".join(reqs))
                if half_close:
                    c.s.shutdown(socket.SHUT_WR)
            except OSError as e:
                sender_error.append(e)

        t = threading.Thread(target=send_all)
        t.start()
        try:
            for i in range(n):
                r = c.response()
                check(r.status == 200 and r.body == self.b(b"req %d" % i), f"response {i}: {r}")
            if half_close:
                check(c.is_closed(), "not closed after answering a half-closed client")
        finally:
            t.join()
            c.close()
        check(not sender_error, f"sending failed: {sender_error}")

    def http10_keep_alive(self):
        c = Conn(self.port)
        try:
            for _ in range(3):
                c.send(b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                r = c.response()
                check(r.status == 200 and r.body == OK_BODY, f"got {r}")
                check((r.header("connection") or b"").lower() == b"keep-alive",
                      f"HTTP/1.0 keep-alive answer lacks 'connection: keep-alive': {r}")
            c.send(b"GET /plaintext HTTP/1.0\r\n\r\n")
            r = c.response()
            check(r.status == 200, f"got {r}")
            check(c.is_closed(), "HTTP/1.0 without keep-alive not closed")
        finally:
            c.close()

    def expect_continue(self):
        c = Conn(self.port)
        try:
            c.send(b"POST /len HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            r = c.response(allow_interim=True)
            check(r.status == 100, f"want 100 Continue, got {r}")
            c.send(b"hello")
            r = c.response()
            check(r.status == 200 and r.body == self.b(b"5"), f"after 100: {r}")
        finally:
            c.close()

    def pipelined_three(self):
        c = Conn(self.port)
        try:
            c.send(get() + post("/echo", b"second") + chunked_post("/echo", [b"thi", b"rd"]))
            bodies = [c.response().body for _ in range(3)]
            check(bodies == [OK_BODY, self.b(b"second"), self.b(b"third")], f"got {bodies}")
            c.send(get())
            check(c.response().body == OK_BODY, "connection unusable after the pipeline")
        finally:
            c.close()

    def split_everywhere(self):
        data = post("/echo", b"first body") + chunked_post("/echo", [b"sec", b"ond"], trailers=b"X-T: 1\r\n")
        for i in range(1, len(data)):
            c = Conn(self.port)
            try:
                c.send(data[:i])
                # Give the first segment a moment to be read on its own, so the
                # server really sees the split (it must answer either way).
                time.sleep(0.0005)
                c.send(data[i:])
                r1 = c.response()
                r2 = c.response()
                check(r1.status == 200 and r1.body == self.b(b"first body"), f"split at {i}: first {r1}")
                check(r2.status == 200 and r2.body == self.b(b"second"), f"split at {i}: second {r2}")
            finally:
                c.close()

    def stalled_do_not_block(self):
        stalled = []
        try:
            for i in range(50):
                c = Conn(self.port)
                # Alternately stalled in the head and in the body.
                if i % 2:
                    c.send(b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Slow: ")
                else:
                    c.send(b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhal")
                stalled.append(c)
            self.fresh_connection_served()
            # The stalled ones still complete.
            for i, c in enumerate(stalled):
                c.send(b"x\r\n\r\n" if i % 2 else b"f done!")
                r = c.response()
                check(r.status == 200 and r.body == (OK_BODY if i % 2 else self.b(b"10")),
                      f"stalled connection {i}: {r}")
        finally:
            for c in stalled:
                c.close()

    def hundred_in_a_row(self):
        c = Conn(self.port)
        try:
            for i in range(100):
                body = b"request %d" % i
                c.send(post("/echo", body))
                r = c.response()
                check(r.status == 200 and r.body == self.b(body), f"request {i}: {r}")
                check(r.header("connection") is None or r.header("connection").lower() != b"close",
                      f"request {i} announced close: {r}")
        finally:
            c.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    # The server's limits (defaults: flare_h1::Limits::default()).
    p.add_argument("--max-request-line", type=int, default=8 * 1024)
    p.add_argument("--max-header-bytes", type=int, default=16 * 1024)
    p.add_argument("--max-headers", type=int, default=100)
    p.add_argument("--max-body", type=int, default=2 * 1024 * 1024)
    p.add_argument("--max-chunk-size-digits", type=int, default=16)
    p.add_argument("--max-chunk-ext-bytes", type=int, default=16 * 1024)
    p.add_argument("--max-trailer-bytes", type=int, default=16 * 1024)
    p.add_argument("--static", action="store_true",
                   help="the server answers every request with one static response")
    args = p.parse_args()
    suite = Suite(args)
    suite.cases()
    print(f"{suite.passed} passed, {suite.failed} failed", flush=True)
    sys.exit(1 if suite.failed else 0)


if __name__ == "__main__":
    main()
