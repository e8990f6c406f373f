"""Echo WebSocket server (Python `websockets`, permessage-deflate on) for
tests/client_ws.rs. Prints `listening http://127.0.0.1:PORT` once bound."""
from websockets.sync.server import serve


def echo(ws):
    for msg in ws:
        ws.send(msg)


with serve(echo, "127.0.0.1", 0, compression="deflate", subprotocols=["chat"],
           max_size=None) as server:
    port = server.socket.getsockname()[1]
    print(f"listening http://127.0.0.1:{port}", flush=True)
    server.serve_forever()
