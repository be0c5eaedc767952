"""`python -m vanity_gateway`: run the local Kong stand-in (uvicorn, one process)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys

from .config import ConfigError, default_paths


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    cfg, ups = default_paths()
    ap = argparse.ArgumentParser(prog="vanity_gateway", description=__doc__)
    ap.add_argument("--config", default=cfg, help="rendered kong.yml (env GATEWAY_CONFIG)")
    ap.add_argument(
        "--upstreams", default=ups, help="local upstream map, '' for none (env GATEWAY_UPSTREAMS)"
    )
    ap.add_argument("--host", default=os.environ.get("GATEWAY_HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
    ap.add_argument(
        "--status-port",
        type=int,
        default=int(os.environ.get("GATEWAY_STATUS_PORT", "8100")),
        help="Kong status API stand-in (/metrics, /status); 0 disables",
    )
    ap.add_argument(
        "--watch",
        type=float,
        default=float(os.environ.get("GATEWAY_WATCH_INTERVAL", "1.0")),
        help="seconds between config file checks for hot reload; 0 disables",
    )
    ap.add_argument("--check", action="store_true", help="validate the config and exit")
    ap.add_argument("--log-level", default=os.environ.get("GATEWAY_LOG_LEVEL", "info"))
    return ap.parse_args(argv)


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit TCP_NODELAY on Linux. Without it, the response head and body
    # (two writes) meet the client's delayed ACK on keep-alive connections: +40 ms per request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    from .app import create_app

    try:
        app = create_app(
            args.config,
            args.upstreams or None,
            status_port=args.status_port or None,
            watch_interval=args.watch or None,
        )
    except ConfigError as exc:
        print(f"vanity-gateway: refusing to start: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(
            f"vanity-gateway: refusing to start: {exc.filename} not found "
            "(run `make gateway-config` to render it)",
            file=sys.stderr,
        )
        return 2
    if args.check:
        print(f"{args.config}: OK ({len(app.config.routes)} routes)")
        return 0

    import uvicorn

    sockets = [_bind(args.host, args.port)]
    if args.status_port:
        sockets.append(_bind(args.host, args.status_port))
    config = uvicorn.Config(
        app,
        log_level=args.log_level.lower(),
        access_log=False,
        lifespan="on",
        loop="uvloop",
        http="httptools",
        server_header=False,
        date_header=True,
    )
    server = uvicorn.Server(config)
    print(
        f"vanity-gateway: {args.config} -> http://{args.host}:{args.port}"
        + (f" (status :{args.status_port})" if args.status_port else ""),
        file=sys.stderr,
        flush=True,
    )
    asyncio.run(server.serve(sockets=sockets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
