"""Resolves names with dnspython against 127.0.0.1:PORT, for comparison.

Usage: dnspython_query.py PORT NAME:TYPE...
Prints one tab-separated line per query: RCODE, then the values sorted: for A/AAAA
the addresses at the end of the CNAME chain, for TXT each record's strings joined
by "|", for SRV "priority/weight/port/target".
"""

import sys

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver


def main():
    port = int(sys.argv[1])
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = port
    res.lifetime = 5
    for spec in sys.argv[2:]:
        name, rtype = spec.split(":")
        try:
            ans = res.resolve(name, rtype, search=False)
            values = []
            for rd in ans:
                if rtype == "TXT":
                    values.append("|".join(x.decode() for x in rd.strings))
                elif rtype == "SRV":
                    values.append("%d/%d/%d/%s" % (rd.priority, rd.weight, rd.port, str(rd.target).rstrip(".")))
                else:
                    values.append(rd.to_text())
            print("\t".join(["NOERROR"] + sorted(values)))
        except dns.resolver.NXDOMAIN:
            print("NXDOMAIN")
        except dns.resolver.NoAnswer:
            print("NODATA")


if __name__ == "__main__":
    main()
