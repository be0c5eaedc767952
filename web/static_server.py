"""The web app's static upstream: serves web/dist (the Vite build) behind the gateway's `/` route.

    python web/static_server.py --root web/dist --port 8007

- `/assets/*` are content-hashed by Vite: cached for a year, `immutable`; a missing one is a 404
  (never the app's HTML, which a browser would try to run as a stale script).
- Every other GET that is not a file gets `index.html` (the SPA decides the route), `no-cache` so
  a new deployment is picked up on the next visit (revalidated with ETag: usually a 304).
- `/api/*` never falls back: an API path that reached this server matched no API route, so it is
  a JSON 404, as a client of the API expects.
- Security headers on every answer: a strict CSP (everything from this origin, nothing inline),
  nosniff, no framing, no referrer.
- gzip for text when the client accepts it (compressed once per file version, kept in memory).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import mimetypes
import os
import sys
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
SHORT = "public, max-age=3600"  # unhashed files beside index.html (favicon, robots.txt)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

# mimetypes reads /etc/mime.types, which differs between machines: the types that matter are fixed.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}
COMPRESSIBLE = {".html", ".js", ".mjs", ".css", ".json", ".map", ".svg", ".txt", ".webmanifest"}
MIN_GZIP_BYTES = 1024


def content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    return (
        CONTENT_TYPES.get(suffix)
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    etag: str
    last_modified: str
    content_type: str


class StaticSite:
    """An ASGI app over one build folder. Files are read per version (size + mtime), so a
    rebuild while running is served without a restart."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[Path, tuple[tuple[int, int], Asset]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        response = self.respond(Request(scope, receive))
        await response(scope, receive, send)

    def respond(self, request: Request) -> Response:
        path = request.url.path
        if path == "/healthz":
            return _json(200, {"status": "ok"})
        if request.method not in ("GET", "HEAD"):
            return _json(
                405, _problem(405, "Only GET and HEAD are served here."), Allow="GET, HEAD"
            )
        if path == "/api" or path.startswith("/api/"):
            return _json(404, _problem(404, "No API route matches this path."))
        file = self._file(path)
        if path.startswith("/assets/"):
            if file is None:
                return _json(404, _problem(404, "No such asset."))
            return self._serve(request, file, IMMUTABLE)
        if file is not None and file.name != "index.html":
            return self._serve(request, file, SHORT)
        index = self.root / "index.html"
        if not index.is_file():
            return _json(503, _problem(503, "The web app is not built yet (make web)."))
        return self._serve(request, index, REVALIDATE)

    def _file(self, url_path: str) -> Path | None:
        relative = url_path.lstrip("/")
        if not relative or "\x00" in relative:
            return None
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None  # traversal (../) or a folder: not a file of this site
        return candidate

    def _asset(self, file: Path) -> Asset:
        stat = file.stat()
        version = (stat.st_size, stat.st_mtime_ns)
        cached = self._cache.get(file)
        if cached and cached[0] == version:
            return cached[1]
        body = file.read_bytes()
        compress = file.suffix.lower() in COMPRESSIBLE and len(body) >= MIN_GZIP_BYTES
        asset = Asset(
            body=body,
            gzipped=gzip.compress(body, compresslevel=9, mtime=0) if compress else None,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            last_modified=formatdate(stat.st_mtime, usegmt=True),
            content_type=content_type(file),
        )
        self._cache[file] = (version, asset)
        return asset

    def _serve(self, request: Request, file: Path, cache_control: str) -> Response:
        asset = self._asset(file)
        headers = {
            **SECURITY_HEADERS,
            "Cache-Control": cache_control,
            "ETag": asset.etag,
            "Last-Modified": asset.last_modified,
        }
        if asset.gzipped is not None:
            headers["Vary"] = "Accept-Encoding"
        if _etag_matches(request.headers.get("if-none-match"), asset.etag):
            return Response(status_code=304, headers=headers)
        body = asset.body
        if asset.gzipped is not None and _accepts_gzip(request.headers.get("accept-encoding", "")):
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        headers["Content-Length"] = str(len(body))
        content = b"" if request.method == "HEAD" else body
        # Content-Length given: a HEAD answer states the size a GET would send
        return Response(content, headers=headers, media_type=asset.content_type)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _accepts_gzip(header: str) -> bool:
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.strip()
            return not (q.startswith("q=") and float(q[2:] or 0) == 0)
    return False


def _problem(status: int, detail: str) -> dict:
    titles = {404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
    return {"type": "about:blank", "title": titles[status], "status": status, "detail": detail}


def _json(status: int, body: dict, **extra: str) -> Response:
    media = "application/problem+json" if status >= 400 else "application/json"
    return Response(
        json.dumps(body),
        status_code=status,
        media_type=media,
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store", **extra},
    )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(prog="static_server", description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path(os.environ.get("WEB_ROOT", here / "dist")))
    ap.add_argument("--host", default=os.environ.get("WEB_HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("WEB_HTTP_PORT", "8007")))
    args = ap.parse_args(argv)
    if not (args.root / "index.html").is_file():
        print(f"static_server: {args.root}/index.html is missing; run `make web`", file=sys.stderr)
    import uvicorn

    uvicorn.run(
        StaticSite(args.root),
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
