"""A scripted DNS server on 127.0.0.1 for flare-dns tests (UDP and TCP, same port).

Behaviour by query name (all under flare.test):
  tc.          UDP: empty answer with TC set; TCP: 40 A records.
  servfail.    SERVFAIL.
  wrongid.     first a reply with a wrong id (address 6.6.6.6), then the right one.
  silent.      no reply at all.
  nx.          NXDOMAIN with an SOA (TTL 300, MINIMUM 60) for negative caching.
  restart.     a CNAME to target.flare.test only, with no SOA.
  target.      A 192.0.2.77 / AAAA 2001:db8::77.
  anything else: A 192.0.2.1 / AAAA 2001:db8::1.
A TXT query for count.<name> answers with how many queries <name> has had (all types,
both transports), tcpcount.<name> with how many came over TCP, and peers.<name> with
one "id:source-port" string per UDP query.

Prints the port on the first line of stdout, then serves until stdin closes.
"""

import socket
import struct
import sys
import threading

from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, SOA, TXT, A, DNSRecord

LOCK = threading.Lock()
COUNTS = {}
TCP_COUNTS = {}
PEERS = {}


def bump(table, name):
    with LOCK:
        table[name] = table.get(name, 0) + 1


def answer(query, tcp, peer=None):
    q = query.q
    name = str(q.qname).lower().rstrip(".")
    qtype = QTYPE[q.qtype]
    reply = query.reply()
    if qtype == "TXT" and name.startswith("peers."):
        with LOCK:
            seen = list(PEERS.get(name.partition(".")[2], []))
        reply.add_answer(RR(q.qname, QTYPE.TXT, rdata=TXT(seen or [""]), ttl=0))
        return [reply]
    if qtype == "TXT" and name.startswith(("count.", "tcpcount.")):
        kind, _, target = name.partition(".")
        table = COUNTS if kind == "count" else TCP_COUNTS
        with LOCK:
            n = table.get(target, 0)
        reply.add_answer(RR(q.qname, QTYPE.TXT, rdata=TXT(str(n)), ttl=0))
        return [reply]
    bump(COUNTS, name)
    if peer is not None:
        with LOCK:
            PEERS.setdefault(name, []).append("%d:%d" % (query.header.id, peer[1]))
    if tcp:
        bump(TCP_COUNTS, name)
    label = name.split(".")[0]
    if label == "silent":
        return []
    if label == "servfail":
        reply.header.rcode = RCODE.SERVFAIL
        return [reply]
    if label == "nx":
        reply.header.rcode = RCODE.NXDOMAIN
        soa = SOA("ns.flare.test", "admin.flare.test", (1, 3600, 600, 86400, 60))
        reply.add_auth(RR("flare.test", QTYPE.SOA, rdata=soa, ttl=300))
        return [reply]
    if label == "restart":
        reply.add_answer(RR(q.qname, QTYPE.CNAME, rdata=CNAME("target.flare.test"), ttl=120))
        return [reply]
    if label == "tc" and not tcp:
        reply.header.tc = 1
        return [reply]
    v4, v6 = ("192.0.2.77", "2001:db8::77") if label == "target" else ("192.0.2.1", "2001:db8::1")
    if label == "tc":
        if qtype == "A":
            for i in range(1, 41):
                reply.add_answer(RR(q.qname, QTYPE.A, rdata=A("10.9.0.%d" % i), ttl=60))
        return [reply]
    if qtype == "A":
        reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(v4), ttl=60))
    elif qtype == "AAAA":
        reply.add_answer(RR(q.qname, QTYPE.AAAA, rdata=AAAA(v6), ttl=60))
    if label == "wrongid":
        bad = query.reply()
        bad.header.id = (query.header.id + 1) & 0xFFFF
        if qtype == "A":
            bad.add_answer(RR(q.qname, QTYPE.A, rdata=A("6.6.6.6"), ttl=60))
        return [bad, reply]
    return [reply]


def serve_udp(sock):
    while True:
        data, peer = sock.recvfrom(65535)
        try:
            query = DNSRecord.parse(data)
        except Exception:
            continue
        for r in answer(query, False, peer):
            sock.sendto(r.pack(), peer)


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def serve_tcp_conn(conn):
    with conn:
        while True:
            head = read_exact(conn, 2)
            if head is None:
                return
            data = read_exact(conn, struct.unpack("!H", head)[0])
            if data is None:
                return
            for r in answer(DNSRecord.parse(data), True):
                body = r.pack()
                conn.sendall(struct.pack("!H", len(body)) + body)


def serve_tcp(sock):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn,), daemon=True).start()


def main():
    for _ in range(20):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", port))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(16)
        break
    else:
        sys.exit("no free port")
    threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
    threading.Thread(target=serve_tcp, args=(tcp,), daemon=True).start()
    print(port, flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
