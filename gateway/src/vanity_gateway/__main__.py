"""`python -m vanity_gateway`: run the local Kong stand-in (uvicorn, one process)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
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
    ap.add_argument(
        "--trusted-ips",
        default=os.environ.get("GATEWAY_TRUSTED_IPS", ""),
        help="kong.conf trusted_ips: comma-separated proxies whose X-Real-IP/X-Forwarded-* are "
        "believed (default none; env GATEWAY_TRUSTED_IPS)",
    )
    ap.add_argument(
        "--real-ip-header",
        default=os.environ.get("GATEWAY_REAL_IP_HEADER", "X-Real-IP"),
        help="kong.conf real_ip_header (X-Real-IP or X-Forwarded-For)",
    )
    ap.add_argument(
        "--real-ip-recursive",
        action="store_true",
        default=os.environ.get("GATEWAY_REAL_IP_RECURSIVE", "") in ("1", "on", "true"),
        help="kong.conf real_ip_recursive",
    )
    ap.add_argument(
        "--client-header-timeout",
        type=float,
        default=float(os.environ.get("GATEWAY_CLIENT_HEADER_TIMEOUT", "60")),
        help="seconds to receive a whole request head (nginx client_header_timeout)",
    )
    ap.add_argument(
        "--client-body-timeout",
        type=float,
        default=float(os.environ.get("GATEWAY_CLIENT_BODY_TIMEOUT", "60")),
        help="longest pause between two body reads (nginx client_body_timeout)",
    )
    ap.add_argument("--check", action="store_true", help="validate the config and exit")
    ap.add_argument("--log-level", default=os.environ.get("GATEWAY_LOG_LEVEL", "info"))
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    from .app import create_app
    from .realip import RealIp

    try:
        realip = RealIp(args.trusted_ips, args.real_ip_header, args.real_ip_recursive)
    except ValueError as exc:
        print(f"vanity-gateway: refusing to start: trusted ips: {exc}", file=sys.stderr)
        return 2
    try:
        app = create_app(
            args.config,
            args.upstreams or None,
            status_port=args.status_port or None,
            watch_interval=args.watch or None,
            realip=realip,
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

    from .server import ClientLimits, bind, make_server

    sockets = [bind(args.host, args.port)]
    if args.status_port:
        sockets.append(bind(args.host, args.status_port))
    limits = ClientLimits(
        header_timeout=args.client_header_timeout, body_timeout=args.client_body_timeout
    )
    server = make_server(
        app,
        limits,
        log_level=args.log_level.lower(),
        loop="uvloop",
        access_log=False,
        lifespan="on",
        date_header=True,
    )
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
