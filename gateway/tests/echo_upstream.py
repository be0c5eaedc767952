"""A real upstream for the gateway tests: reflects the request it received as JSON.

`?delay=<seconds>` makes it wait before answering (for the 504 test). Prints its port, then serves.
Usage: python echo_upstream.py [port]
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys

from aiohttp import web


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    delay = request.query.get("delay")
    if delay:
        await asyncio.sleep(float(delay))
    payload = {
        "method": request.method,
        "path": request.path,
        "raw_path": request.raw_path,
        "headers": {k.lower(): v for k, v in request.headers.items()},
        "body_len": len(body),
    }
    return web.Response(body=json.dumps(payload).encode(), content_type="application/json")


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    print(sock.getsockname()[1], flush=True)
    app = web.Application(client_max_size=64 << 20)
    app.router.add_route("*", "/{tail:.*}", echo)
    web.run_app(app, sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    main()
