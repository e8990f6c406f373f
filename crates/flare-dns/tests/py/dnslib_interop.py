"""Codec interop with dnslib, a DNS library flare did not write.

  dnslib_interop.py emit         prints the hex of a response dnslib builds with every
                                 record type flare types, an unknown type and EDNS(0)
  dnslib_interop.py parse HEX    parses HEX with dnslib and prints one line per record:
                                 section, owner, type, TTL, rdata (dnslib's text form),
                                 then "edns <udp size>" when there is an OPT record
"""

import sys

from dnslib import (AAAA, CNAME, EDNS0, MX, NS, PTR, QTYPE, RR, SOA, SRV, TXT, A,
                    DNSHeader, DNSQuestion, DNSRecord, RD)


def emit():
    r = DNSRecord(DNSHeader(id=0x5151, qr=1, aa=1, ra=1), q=DNSQuestion("example.org", QTYPE.ANY))
    r.add_answer(RR("example.org", QTYPE.A, rdata=A("192.0.2.1"), ttl=60))
    r.add_answer(RR("example.org", QTYPE.AAAA, rdata=AAAA("2001:db8::1"), ttl=61))
    r.add_answer(RR("www.example.org", QTYPE.CNAME, rdata=CNAME("example.org"), ttl=62))
    r.add_answer(RR("example.org", QTYPE.MX, rdata=MX("mail.example.org", 10), ttl=63))
    r.add_answer(RR("example.org", QTYPE.TXT, rdata=TXT(["one", "two words"]), ttl=64))
    r.add_answer(RR("_sip._udp.example.org", QTYPE.SRV, rdata=SRV(5, 6, 5060, "sip.example.org"), ttl=65))
    r.add_answer(RR("1.2.0.192.in-addr.arpa", QTYPE.PTR, rdata=PTR("example.org"), ttl=66))
    r.add_answer(RR("example.org", 65280, rdata=RD(b"\x01\x02\x03"), ttl=67))
    r.add_auth(RR("example.org", QTYPE.NS, rdata=NS("ns1.example.org"), ttl=68))
    r.add_auth(RR("example.org", QTYPE.SOA,
                  rdata=SOA("ns1.example.org", "admin.example.org", (2024, 3600, 600, 86400, 300)), ttl=69))
    r.add_ar(RR("ns1.example.org", QTYPE.A, rdata=A("192.0.2.53"), ttl=70))
    r.add_ar(EDNS0(udp_len=4096))
    print(r.pack().hex())


def parse(hexstr):
    r = DNSRecord.parse(bytes.fromhex(hexstr))
    for section, rrs in (("an", r.rr), ("ns", r.auth), ("ar", r.ar)):
        for rr in rrs:
            if rr.rtype == QTYPE.OPT:
                print("edns", rr.rclass)
                continue
            print(section, str(rr.rname).rstrip("."), QTYPE.get(rr.rtype), rr.ttl, rr.rdata.toZone())


if __name__ == "__main__":
    if sys.argv[1] == "emit":
        emit()
    else:
        parse(sys.argv[2])
