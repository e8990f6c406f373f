"""Interop peer for flare-hpack's tests: the Python `hpack` package.

Reads one JSON request on stdin, writes one JSON answer on stdout.

  {"mode": "decode", "stories": [["<hex block>", ...], ...]}
      -> {"stories": [[[[name_hex, value_hex, never_indexed], ...], ...], ...]}
     Each story is decoded in order with one Decoder (shared context).

  {"mode": "encode", "stories": [[[[name_hex, value_hex], ...], ...], ...]}
      -> {"stories": [["<hex block>", ...], ...]}
     Each story is encoded in order with one Encoder (Huffman on).
"""

import json
import sys

import hpack
from hpack import NeverIndexedHeaderTuple


def decode(stories):
    out = []
    for blocks in stories:
        decoder = hpack.Decoder(max_header_list_size=1 << 30)
        decoded = []
        for block in blocks:
            fields = decoder.decode(bytes.fromhex(block), raw=True)
            decoded.append(
                [[n.hex(), v.hex(), isinstance(f, NeverIndexedHeaderTuple)] for f in fields for n, v in [f]]
            )
        out.append(decoded)
    return out


def encode(stories):
    out = []
    for cases in stories:
        encoder = hpack.Encoder()
        out.append(
            [
                encoder.encode([(bytes.fromhex(n), bytes.fromhex(v)) for n, v in case], huffman=True).hex()
                for case in cases
            ]
        )
    return out


def main():
    request = json.load(sys.stdin)
    if request["mode"] == "decode":
        answer = decode(request["stories"])
    elif request["mode"] == "encode":
        answer = encode(request["stories"])
    else:
        sys.exit("unknown mode " + request["mode"])
    json.dump({"stories": answer}, sys.stdout)


if __name__ == "__main__":
    main()
