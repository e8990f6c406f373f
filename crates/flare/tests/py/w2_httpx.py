"""Runs a script of HTTP requests with httpx on one keep-alive client and prints what
came back as JSON, for the flare-web middleware and static-file tests.

argv[1] is a JSON list of steps: {"method", "url", "headers": {..}, "etag_from": i}
where "etag_from" (optional) sends If-None-Match with the ETag of step i's response.
Each result: {"status", "headers": {lowercased name: [values]}, "body_hex",
"http_version"}. httpx decodes gzip and deflate bodies itself (its default
Accept-Encoding offers them), so "body_hex" is the decoded body.

With argv[2] == "h2" the client speaks HTTP/2 with prior knowledge (h2c), all steps
as streams of one connection.
"""

import json
import sys

import httpx


def main():
    steps = json.loads(sys.argv[1])
    results = []
    h2 = len(sys.argv) > 2 and sys.argv[2] == "h2"
    with httpx.Client(timeout=30.0, http1=not h2, http2=h2) as client:
        for step in steps:
            headers = dict(step.get("headers", {}))
            src = step.get("etag_from")
            if src is not None:
                etag = results[src]["headers"].get("etag", [None])[0]
                if etag is None:
                    raise SystemExit(f"step {src} had no etag")
                headers["If-None-Match"] = etag
            r = client.request(step.get("method", "GET"), step["url"], headers=headers)
            hdrs = {}
            for name, value in r.headers.multi_items():
                hdrs.setdefault(name.lower(), []).append(value)
            results.append(
                {
                    "status": r.status_code,
                    "headers": hdrs,
                    "body_hex": r.content.hex(),
                    "http_version": r.http_version,
                }
            )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
