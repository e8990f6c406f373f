"""A tiny ASGI app for crates/flare/tests/ws_client_h2.rs, served by hypercorn.

WebSocket on any path but /refuse: accepts (choosing the subprotocol `chat` when
offered), echoes text and binary; the text `version` is answered with the HTTP
version hypercorn saw (`2` over HTTP/2) and `close CODE` makes the server close
with CODE. /refuse closes before accepting, which hypercorn answers with 403.
Plain HTTP requests get the HTTP version as their body.
"""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": scope["http_version"].encode()})
        return
    if scope["type"] != "websocket":
        return
    connect = await receive()
    assert connect["type"] == "websocket.connect", connect
    if scope["path"] == "/refuse":
        await send({"type": "websocket.close", "code": 1008})
        return
    offered = scope.get("subprotocols") or []
    await send(
        {
            "type": "websocket.accept",
            "subprotocol": "chat" if "chat" in offered else None,
        }
    )
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})
        elif text == "version":
            await send({"type": "websocket.send", "text": scope["http_version"]})
        elif text.startswith("close "):
            await send({"type": "websocket.close", "code": int(text[6:])})
            return
        else:
            await send({"type": "websocket.send", "text": text})
