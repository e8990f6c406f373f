#!/usr/bin/env python3
"""TLS alerts from flare's server, over raw sockets and tlslite-ng.

Run by `crates/flare/tests/tls_alerts.rs` against a TLS port whose handler answers
`GET /` with 200.

Each case sends something rustls must refuse (a malformed record or message, before
or after the handshake) and checks that the server's answer is exactly one fatal
alert with the expected description, followed by an orderly close: EOF, never a
reset (`ECONNRESET`). Before the handshake the records are built by hand; after it
tlslite-ng does the handshake and its record layer encrypts what the case sends
(empty records, an inner content type of 0, an empty alert, a ClientHello after the
handshake), so the alert flare sends comes back encrypted and is decrypted here.
Other cases check that session tickets queued before a bad record still arrive first
and that a KeyUpdate (with and without update_requested) keeps the connection.

Prints one line per case and a final line `N passed, M failed`; exits 1 on any failure.
"""

import argparse
import os
import socket
import struct
import sys
import time

from tlslite import HandshakeSettings, TLSConnection
from tlslite.constants import (
    AlertDescription,
    AlertLevel,
    ContentType,
    HandshakeType,
    KeyUpdateMessageType,
)
from tlslite.errors import TLSAbruptCloseError, TLSRemoteAlert
from tlslite.messages import Message

TIMEOUT = 5.0

# Alert descriptions (RFC 8446 section 6).
UNEXPECTED_MESSAGE = AlertDescription.unexpected_message  # 10
HANDSHAKE_FAILURE = AlertDescription.handshake_failure  # 40
DECODE_ERROR = AlertDescription.decode_error  # 50
PROTOCOL_VERSION = AlertDescription.protocol_version  # 70
FATAL = AlertLevel.fatal  # 2

# The client preface, empty SETTINGS and the ACK of the server's SETTINGS.
H2_PREFACE = (
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    + b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"
)


class Fail(Exception):
    pass


def alert_name(desc):
    return AlertDescription.toStr(desc) if hasattr(AlertDescription, "toStr") else str(desc)


# --- hand-built records ------------------------------------------------------------


def record(ctype, body, version=0x0303):
    return struct.pack(">BHH", ctype, version, len(body)) + body


def u16list(values):
    data = b"".join(struct.pack(">H", v) for v in values)
    return struct.pack(">H", len(data)) + data


def ext(kind, body):
    return struct.pack(">HH", kind, len(body)) + body


def client_hello(sig_algs=(0x0804, 0x0403, 0x0503), cut=None):
    """A TLS 1.3 ClientHello (x25519, AES-128-GCM); `cut` keeps only the first bytes of
    its body, with every length outside the body still consistent."""
    exts = b""
    exts += ext(0x000A, u16list([0x001D]))  # supported_groups: x25519
    exts += ext(0x000D, u16list(sig_algs))  # signature_algorithms
    exts += ext(0x002B, b"\x02\x03\x04")  # supported_versions: TLS 1.3
    share = struct.pack(">HH", 0x001D, 32) + os.urandom(32)
    exts += ext(0x0033, struct.pack(">H", len(share)) + share)  # key_share
    body = (
        b"\x03\x03"
        + os.urandom(32)
        + b"\x20"
        + os.urandom(32)
        + u16list([0x1301, 0x1302, 0x1303])
        + b"\x01\x00"
        + struct.pack(">H", len(exts))
        + exts
    )
    if cut is not None:
        body = body[:cut]
    hs = bytes([HandshakeType.client_hello]) + struct.pack(">I", len(body))[1:] + body
    return record(ContentType.handshake, hs, version=0x0301)


def raw_conn(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n, buf):
    while len(buf) < n:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            raise Fail(f"connection reset after {len(buf)} bytes {bytes(buf[:16]).hex()}")
        except socket.timeout:
            raise Fail(f"timeout after {len(buf)} bytes {bytes(buf[:16]).hex()}")
        if not chunk:
            raise Fail(f"EOF after {len(buf)} bytes {bytes(buf[:16]).hex()}, wanted {n}")
        buf += chunk
    return buf


def expect_eof(s, what):
    """The server's FIN arrives next: no more bytes, no reset."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            raise Fail(f"connection reset after the {what} (wanted an orderly close)")
        except socket.timeout:
            raise Fail(f"no close within {TIMEOUT}s after the {what}")
        if not chunk:
            return
        raise Fail(f"{len(chunk)} more bytes after the {what}: {chunk[:16].hex()}")
        if time.monotonic() > deadline:
            raise Fail("no EOF")


def expect_plain_alert(s, desc):
    """One plaintext fatal alert record, then EOF."""
    buf = recv_exact(s, 5, bytearray())
    ctype, _version, length = struct.unpack(">BHH", buf[:5])
    buf = recv_exact(s, 5 + length, buf)
    if ctype != ContentType.alert or length != 2:
        raise Fail(f"wanted an alert record, got type {ctype} length {length}: {bytes(buf[:16]).hex()}")
    level, got = buf[5], buf[6]
    if (level, got) != (FATAL, desc):
        raise Fail(f"wanted fatal {alert_name(desc)}, got level {level} {alert_name(got)}")
    expect_eof(s, "alert")


def pre_handshake(port, data, desc, then=None):
    s = raw_conn(port)
    try:
        s.sendall(data)
        if then is not None:
            # Bytes that arrive after the bad record: the server must read and drop
            # them (lingering) rather than close with them unread (a reset).
            time.sleep(0.05)
            s.sendall(then)
        expect_plain_alert(s, desc)
    finally:
        s.close()


# --- tlslite-ng connections ----------------------------------------------------------


def tls_conn(port, version=(3, 4), alpn=None, cork=False):
    s = raw_conn(port)
    if cork:
        # Hold the client's last flight (Finished) until the case's next record joins
        # it, so the server reads both at once.
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    return s, handshake(s, version, alpn)


def handshake(s, version, alpn=None, rsa_only=False):
    """A tlslite-ng client handshake over `s`; returns the connection."""
    settings = HandshakeSettings()
    settings.minVersion = version
    settings.maxVersion = version
    if rsa_only:
        # The server's key is ECDSA P-256: offer only RSA signature schemes.
        settings.ecdsaSigHashes = []
        settings.more_sig_schemes = []
        settings.dsaSigHashes = []
    # tlslite closes its socket on an alert: give it a duplicate, so the case can
    # still watch how the server closes.
    dup = socket.socket(fileno=os.dup(s.fileno()))
    # The duplicate shares the descriptor's non-blocking flag: give it the timeout.
    dup.settimeout(TIMEOUT)
    conn = TLSConnection(dup)
    conn.handshakeClientCert(settings=settings, alpn=alpn, serverName="localhost")
    return conn


def send_record(conn, ctype, body):
    for _ in conn._recordLayer.sendRecord(Message(ctype, bytearray(body))):
        pass


def recv_record(conn):
    """The next record, decrypted: (content type, payload); None on a clean EOF."""
    try:
        for result in conn._recordLayer.recvRecord():
            if result in (0, 1):
                continue
            header, parser = result
            return header.type, bytes(parser.bytes)
    except TLSAbruptCloseError:
        return None
    except ConnectionResetError:
        raise Fail("connection reset while waiting for the alert")
    except socket.timeout:
        raise Fail("timeout while waiting for the alert")


def expect_alert(s, conn, desc, allow_tickets=True):
    """Records until a fatal alert of `desc` (skipping session tickets), then EOF.
    Returns how many NewSessionTicket messages came before it."""
    tickets = 0
    while True:
        rec = recv_record(conn)
        if rec is None:
            raise Fail(f"EOF before the alert (wanted fatal {alert_name(desc)})")
        ctype, data = rec
        if ctype == ContentType.handshake and allow_tickets and data[:1] == bytes([HandshakeType.new_session_ticket]):
            tickets += count_handshake_messages(data, HandshakeType.new_session_ticket)
            continue
        if ctype == ContentType.application_data:
            # The HTTP/2 server preface (SETTINGS), sent before the bad record came.
            continue
        if ctype != ContentType.alert or len(data) != 2:
            raise Fail(f"wanted an alert, got type {ctype}: {data[:16].hex()}")
        if (data[0], data[1]) != (FATAL, desc):
            raise Fail(f"wanted fatal {alert_name(desc)}, got level {data[0]} {alert_name(data[1])}")
        break
    expect_eof(s, "alert")
    return tickets


def count_handshake_messages(data, kind):
    n, pos = 0, 0
    while pos + 4 <= len(data):
        length = int.from_bytes(data[pos + 1 : pos + 4], "big")
        if data[pos] == kind:
            n += 1
        pos += 4 + length
    return n


def expect_no_alert(s, conn):
    """Nothing but application data (the HTTP/2 preface) within a short while."""
    conn.sock.settimeout(0.5)
    try:
        while True:
            rec = recv_record(conn)
            if rec is None:
                raise Fail("the server closed")
            if rec[0] == ContentType.alert:
                raise Fail(f"alert {rec[1].hex()}")
    except Fail as e:
        if "timeout" not in str(e):
            raise
    finally:
        conn.sock.settimeout(TIMEOUT)


def after_handshake(port, ctype, body, desc, version=(3, 4), alpn=None):
    s, conn = tls_conn(port, version=version, alpn=alpn)
    try:
        send_record(conn, ctype, body)
        expect_alert(s, conn, desc)
    finally:
        s.close()


def get_ok(conn, s):
    conn.write(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = conn.read()
        if not chunk:
            raise Fail(f"EOF before a response: {got!r}")
        got += bytes(chunk)
    if not got.startswith(b"HTTP/1.1 200"):
        raise Fail(f"wanted 200, got {got[:60]!r}")


# --- cases ---------------------------------------------------------------------------


def cases(port):
    cs = []

    def case(fn):
        cs.append(fn)
        return fn

    # Before or during the handshake: hand-built plaintext records.
    @case
    def empty_handshake_record():
        # RFC 8446 section 5.1: no zero-length fragments of Handshake type.
        pre_handshake(port, record(ContentType.handshake, b"", 0x0301), DECODE_ERROR)

    @case
    def record_of_content_type_zero():
        # rustls finds an unknown record type undecodable (decode_error); RFC 8446
        # section 5 would have unexpected_message. Either way an alert, then the close.
        pre_handshake(port, record(0, b"\x01"), DECODE_ERROR)

    @case
    def empty_alert_record():
        pre_handshake(port, record(ContentType.alert, b""), DECODE_ERROR)

    @case
    def application_data_before_the_handshake():
        pre_handshake(port, record(ContentType.application_data, b"hello"), UNEXPECTED_MESSAGE)

    @case
    def client_hello_cut_short():
        pre_handshake(port, client_hello(cut=40), DECODE_ERROR)

    for version, vname in (((3, 4), "tls13"), ((3, 3), "tls12")):

        def no_usable_signature_algorithm(version=version):
            # TLS 1.3: the alert comes after ServerHello, encrypted with the
            # handshake keys; TLS 1.2: no suite fits, a plaintext alert.
            s = raw_conn(port)
            try:
                try:
                    handshake(s, version, rsa_only=True)
                except TLSRemoteAlert as e:
                    if (e.description, e.level) != (HANDSHAKE_FAILURE, FATAL):
                        raise Fail(f"wanted fatal handshake_failure, got {e}")
                else:
                    raise Fail("the handshake succeeded with RSA signature schemes only")
                expect_eof(s, "alert")
            finally:
                s.close()

        no_usable_signature_algorithm.__name__ = f"client_hello_without_a_usable_signature_algorithm_{vname}"
        cs.append(no_usable_signature_algorithm)

    @case
    def bad_record_then_more_bytes_read_and_dropped():
        pre_handshake(port, record(ContentType.alert, b""), DECODE_ERROR, then=b"x" * 8192)

    @case
    def bad_record_with_more_bytes_behind_it_in_the_same_write():
        # More than the server reads at once: closing with them unread would be a
        # reset, which can overtake the alert.
        pre_handshake(port, record(ContentType.alert, b"") + b"x" * 60000, DECODE_ERROR)

    @case
    def client_hello_in_two_records_then_bad_record():
        hello = client_hello()
        body = hello[5:]
        data = record(ContentType.handshake, body[:50], 0x0301) + record(ContentType.handshake, body[50:], 0x0301)
        # A full hello (the server answers it), then an empty alert: the server's
        # flight and then its alert (encrypted: only check the close is orderly).
        s = raw_conn(port)
        try:
            s.sendall(data)
            s.sendall(record(ContentType.alert, b""))
            # ServerHello in the clear, then encrypted records.
            buf = recv_exact(s, 5, bytearray())
            if buf[0] != ContentType.handshake:
                raise Fail(f"wanted ServerHello, got {bytes(buf).hex()}")
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    raise Fail("connection reset (wanted the alert and an orderly close)")
                if not chunk:
                    break
        finally:
            s.close()

    # After the handshake: tlslite-ng encrypts what the case sends.
    for version, vname in (((3, 4), "tls13"), ((3, 3), "tls12")):
        for alpn, aname in ((None, "h1"), ([bytearray(b"h2")], "h2")):

            def empty_handshake_record_after(version=version, alpn=alpn):
                # RFC 8446 section 5.4 asks for unexpected_message; rustls 0.23 skips
                # an empty handshake record once the handshake is done (TLS 1.3 and
                # 1.2), so the connection goes on: check that it does.
                s, conn = tls_conn(port, version=version, alpn=alpn)
                try:
                    if alpn is None:
                        send_record(conn, ContentType.handshake, b"")
                        get_ok(conn, s)
                    else:
                        # The client preface and SETTINGS, so the server waits.
                        conn.write(H2_PREFACE)
                        send_record(conn, ContentType.handshake, b"")
                        expect_no_alert(s, conn)
                finally:
                    s.close()

            def empty_alert_after(version=version, alpn=alpn):
                after_handshake(port, ContentType.alert, b"", DECODE_ERROR, version, alpn)

            def content_type_zero_after(version=version, alpn=alpn):
                if version == (3, 3):
                    # A record header of type 0: undecodable.
                    after_handshake(port, 0, b"", DECODE_ERROR, version, alpn)
                    return
                # TLS 1.3: an inner plaintext of zeros only (no content type). RFC 8446
                # section 5.4 asks for unexpected_message, but rustls 0.23 returns
                # IllegalTlsInnerPlaintext without queueing any alert: check that the
                # close is orderly all the same.
                s, conn = tls_conn(port, version=version, alpn=alpn)
                try:
                    send_record(conn, 0, b"")
                    while True:
                        rec = recv_record(conn)
                        if rec is None:
                            break
                        if rec[0] == ContentType.alert:
                            raise Fail(f"an alert rustls does not send: {rec[1].hex()} (update the case)")
                    expect_eof(s, "close")
                finally:
                    s.close()

            def client_hello_after(version=version, alpn=alpn):
                hello = client_hello()[5:]
                after_handshake(port, ContentType.handshake, hello, UNEXPECTED_MESSAGE, version, alpn)

            def bad_record_with_more_bytes_behind_it_after(version=version, alpn=alpn):
                s, conn = tls_conn(port, version=version, alpn=alpn)
                try:
                    # The bad record and 60 KB behind it in one write.
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
                    send_record(conn, ContentType.alert, b"")
                    s.sendall(b"x" * 60000)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
                    expect_alert(s, conn, DECODE_ERROR)
                finally:
                    s.close()

            for fn in (
                empty_handshake_record_after,
                empty_alert_after,
                content_type_zero_after,
                bad_record_with_more_bytes_behind_it_after,
            ):
                fn.__name__ = f"{fn.__name__}_{vname}_{aname}"
                cs.append(fn)
            if version == (3, 4):
                # TLS 1.2 answers a renegotiation attempt with a warning and goes on.
                client_hello_after.__name__ = f"client_hello_after_{vname}_{aname}"
                cs.append(client_hello_after)

    @case
    def tickets_then_bad_record_in_the_same_read():
        s, conn = tls_conn(port, cork=True)
        try:
            send_record(conn, ContentType.alert, b"")
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            tickets = expect_alert(s, conn, DECODE_ERROR)
            if tickets < 1:
                raise Fail("no session ticket before the alert")
        finally:
            s.close()

    @case
    def tickets_then_bad_record():
        s, conn = tls_conn(port)
        try:
            send_record(conn, ContentType.handshake, client_hello()[5:])
            tickets = expect_alert(s, conn, UNEXPECTED_MESSAGE)
            if tickets < 1:
                raise Fail("no session ticket before the alert")
        finally:
            s.close()

    for kind, kname in (
        (KeyUpdateMessageType.update_not_requested, "not_requested"),
        (KeyUpdateMessageType.update_requested, "requested"),
    ):
        for alpn, aname in ((None, "h1"),):

            def key_update(kind=kind):
                s, conn = tls_conn(port)
                try:
                    get_ok(conn, s)
                    for _ in conn.send_keyupdate_request(kind):
                        pass
                    get_ok(conn, s)
                    for _ in conn.send_keyupdate_request(kind):
                        pass
                    get_ok(conn, s)
                finally:
                    s.close()

            key_update.__name__ = f"key_update_{kname}_keeps_the_connection"
            cs.append(key_update)

    return cs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    passed = failed = 0
    for fn in cases(args.port):
        if args.only and args.only not in fn.__name__:
            continue
        start = time.monotonic()
        try:
            fn()
        except Fail as e:
            failed += 1
            print(f"FAIL {fn.__name__}: {e}")
        except Exception as e:  # anything else is a failure of the case too
            failed += 1
            print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}")
        else:
            passed += 1
            print(f"ok   {fn.__name__} ({time.monotonic() - start:.2f}s)")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
