"""The gateway stand-in's test helpers (gateway/tests, tests/e2e): kong.yml and its entities, a
fixed clock for rate-limit windows, and the stand-in served on a random port. Tokens in
identity's key layout: vanity_testkit.tokens (mint_token, generate_key)."""

from __future__ import annotations

import asyncio
import copy
import socket
import time
from contextlib import asynccontextmanager
from pathlib import Path

KONG_YML = Path(__file__).resolve().parents[4] / "gateway" / "kong.yml"
SERVICES = ["identity", "catalog", "inventory", "cart", "checkout", "payments"]


class FixedClock:
    """Mid-minute of the current hour: rate-limit windows cannot roll over during a test."""

    def __init__(self) -> None:
        self.now = float(int(time.time()) // 3600 * 3600 + 1830)

    def __call__(self) -> float:
        return self.now


def route_of(doc: dict, name: str) -> dict:
    for s in doc["services"]:
        for r in s["routes"]:
            if r["name"] == name:
                return r
    raise KeyError(name)


def plugin_of(entity: dict, name: str) -> dict:
    for p in entity["plugins"]:
        if p["name"] == name:
            return p
    raise KeyError(name)


def service_of(doc: dict, name: str) -> dict:
    return next(s for s in doc["services"] if s["name"] == name)


@asynccontextmanager
async def running_gateway(
    tmp_path, doc, upstream_url, clock=None, upstreams=None, limits=None, realip=None
):
    """Serve `doc` with the stand-in on a random loopback port; yields its base URL.

    The server is the one `python -m vanity_gateway` runs (server.make_server); `limits`
    (server.ClientLimits) and `realip` (realip.RealIp) default to the production defaults."""
    import yaml
    from vanity_gateway.app import create_app
    from vanity_gateway.render import dump
    from vanity_gateway.server import ClientLimits, make_server

    doc = copy.deepcopy(doc)
    cfg = tmp_path / f"kong-{id(doc)}.yml"
    cfg.write_text(dump(doc))
    ups = tmp_path / f"upstreams-{id(doc)}.yml"
    ups.write_text(
        yaml.safe_dump({"upstreams": upstreams or dict.fromkeys(SERVICES, upstream_url)})
    )
    env = {"clock": clock} if clock else {}
    app = create_app(cfg, ups, watch_interval=None, realip=realip, **env)
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = make_server(app, limits or ClientLimits(), log_level="warning", loop="none",
                         lifespan="on")  # fmt: skip
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "gateway did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
