"""Python `websockets` echo server with permessage-deflate: the deflate peer
of `cargo xtask bench ws` (tungstenite 0.30, hence tokio-tungstenite, has no
permessage-deflate). One asyncio event loop, the library's defaults
(`compression="deflate"`), every text and binary message back as it came.

    python echo.py --addr 127.0.0.1:PORT
"""

import argparse
import asyncio

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main(host, port):
    async with serve(echo, host, port, compression="deflate", max_size=1 << 20):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--addr", default="127.0.0.1:8080")
    a = p.parse_args()
    host, port = a.addr.rsplit(":", 1)
    asyncio.run(main(host, int(port)))
