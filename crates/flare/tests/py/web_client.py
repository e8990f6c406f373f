#!/usr/bin/env python3
"""httpx client checks for flare-web's Router, extractors and responses.

Run by `crates/flare/tests/web_router.rs` against its test app; the one argument is
the base URL (`http://127.0.0.1:PORT`). Prints one line per case and
`web_client: all passed` at the end; exits 1 on the first failure.
"""

import json
import sys

import httpx

BASE = sys.argv[1]


def case(name):
    def wrap(f):
        try:
            f()
        except AssertionError as e:
            print(f"FAIL {name}: {e}")
            sys.exit(1)
        print(f"ok   {name}")
        return f

    return wrap


def client(**kw):
    return httpx.Client(base_url=BASE, timeout=10.0, **kw)


@case("JSON round trip keeps types and unicode")
def _():
    item = {"name": "café ☕", "qty": 7, "tags": ["x", "y\nz"]}
    with client() as c:
        r = c.post("/api/json", json=item)
        assert r.status_code == 201, r
        assert r.headers["content-type"] == "application/json", r.headers
        assert r.json() == item, r.text


@case("JSON rejections: 415 without JSON content type, 400 malformed, 422 wrong shape")
def _():
    with client() as c:
        r = c.post("/api/json", content=b'{"name":"a","qty":1,"tags":[]}',
                   headers={"content-type": "text/plain"})
        assert r.status_code == 415, r
        r = c.post("/api/json", content=b'{"name":"<script>',
                   headers={"content-type": "application/json"})
        assert r.status_code == 400, r
        assert "<script>" not in r.text, r.text
        r = c.post("/api/json", json={"name": "<script>alert(1)</script>", "qty": "many", "tags": []})
        assert r.status_code == 422, r
        assert "script" not in r.text and "many" not in r.text, r.text
        assert r.text.startswith("JSON body does not fit"), r.text


@case("form post sets a cookie; the client sends it back; removal clears it")
def _():
    with client() as c:
        r = c.post("/form", data={"user": "ann lee", "remember": "1"})
        assert r.status_code == 303, r
        assert r.headers["location"] == "/whoami", r.headers
        sc = r.headers["set-cookie"]
        assert sc == "session=user-ann%20lee; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax", sc
        assert c.cookies.get("session") == "user-ann%20lee", dict(c.cookies)
        r = c.get("/whoami")
        assert r.text == "you are user-ann%20lee", r.text
        r = c.post("/logout")
        assert r.text == "bye", r.text
        assert "session" not in c.cookies, dict(c.cookies)
        assert c.get("/whoami").text == "anonymous"


@case("form post follows the redirect with GET")
def _():
    with client(follow_redirects=True) as c:
        r = c.post("/form", data={"user": "bo"})
        assert r.status_code == 200 and r.text == "you are user-bo", (r, r.text)
        assert r.history[0].status_code == 303


@case("form rejections: 415 for JSON, 422 for missing field")
def _():
    with client() as c:
        assert c.post("/form", json={"user": "x"}).status_code == 415
        r = c.post("/form", data={"nobody": "x"})
        assert r.status_code == 422, r


@case("per-route body limits: 16 of 16 accepted, 17 refused (413); 3 MiB over the default, under a raised limit")
def _():
    with client() as c:
        r = c.post("/api/small", content=b"x" * 16)
        assert r.status_code == 200 and r.text == "16", (r, r.text)
    with client() as c:
        r = c.post("/api/small", content=b"x" * 17)
        assert r.status_code == 413, r
    with client() as c:
        # Other routes keep the server's default limit (2 MiB).
        r = c.post("/len", content=b"x" * 100_000)
        assert r.text == "100000", r.text
    with client() as c:
        r = c.post("/len", content=b"x" * (3 << 20))
        assert r.status_code == 413, r
    with client() as c:
        # A route may also raise the limit above the server's.
        r = c.post("/api/big", content=b"x" * (3 << 20))
        assert r.status_code == 200 and r.text == str(3 << 20), (r, r.text)


@case("path parameters percent-decoded; 400 for a non-number id")
def _():
    with client() as c:
        assert c.get("/api/users/9").json() == {"id": 9}
        assert c.get("/api/users/nine").status_code == 400
        assert c.get("/files/%E2%9C%93/x%20y").text == "file=✓/x y"


@case("405 with Allow, OPTIONS, HEAD")
def _():
    with client() as c:
        r = c.patch("/item")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, POST, DELETE, OPTIONS", r.headers
        r = c.options("/item")
        assert r.status_code == 204 and r.headers["allow"] == "GET, HEAD, POST, DELETE, OPTIONS", r
        r = c.head("/")
        assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == "5", r.headers


@case("server-sent events: id, event, multi-line data")
def _():
    with client() as c:
        with c.stream("GET", "/sse", params={"n": 2}) as r:
            assert r.headers["content-type"] == "text/event-stream", r.headers
            assert r.headers["cache-control"] == "no-cache", r.headers
            text = r.read().decode()
    expected = "".join(
        f"id: {i}\nevent: tick\ndata: line {i}\ndata: second\n\n" for i in range(2)
    )
    assert text == expected, repr(text)


@case("trailing slash redirect keeps method (308)")
def _():
    with client() as c:
        r = c.get("/dir")
        assert r.status_code == 308 and r.headers["location"] == "/dir/", r.headers


print("web_client: all passed")
