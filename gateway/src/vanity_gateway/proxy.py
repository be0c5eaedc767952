"""Upstream proxying with a pooled aiohttp ClientSession (see docs/gateway.md for the choice)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from yarl import URL

from .config import Service

HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
        "upgrade", "proxy-authenticate", "proxy-authorization",
    }
)  # fmt: skip
# nginx does not pass these from the upstream's answer (proxy_pass_header): the client sees the
# gateway's own Date, not two of them.
UPSTREAM_HIDDEN = frozenset({"date", "x-pad"})
SKIP_AUTO = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})


class UpstreamError(Exception):
    def __init__(self, status: int, message: str | None = None):
        super().__init__(status, message)
        self.status = status
        self.message = message


def make_session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=0,  # no global cap; nginx has none either
        limit_per_host=0,
        keepalive_timeout=4.0,  # below uvicorn's 5 s so pooled connections are not stale
        ttl_dns_cache=10,
        enable_cleanup_closed=False,
    )
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=SKIP_AUTO,
        timeout=aiohttp.ClientTimeout(total=None),
    )


async def send(
    session: aiohttp.ClientSession,
    service: Service,
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes | AsyncIterator[bytes] | None,
) -> aiohttp.ClientResponse:
    """Send the request upstream; returns the response with its body not yet read.

    Connection failures are retried up to `service.retries` times (nothing was sent yet), and a
    pooled connection closed by the upstream is retried once when the body can be replayed.
    Maps failures to Kong's statuses: refused/reset 502, DNS 503, timeouts 504.
    """
    # encoded=True: the path is already Kong's escaped, normalized path; yarl must neither
    # re-quote it nor resolve dot-segments a second time
    url = URL(service.base_url + raw_path, encoded=True)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=service.connect_timeout, sock_read=service.read_timeout
    )
    attempts = 0
    replayed = False
    while True:
        try:
            return await session.request(
                method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=timeout,
                compress=None,
                chunked=None,
            )
        except aiohttp.ClientConnectorDNSError as exc:
            raise UpstreamError(503, "name resolution failed") from exc
        except aiohttp.ConnectionTimeoutError as exc:
            attempts += 1
            if attempts > service.retries:
                raise UpstreamError(504) from exc
        except aiohttp.ClientConnectorError as exc:
            attempts += 1
            if attempts > service.retries:
                raise UpstreamError(502) from exc
        except (TimeoutError, aiohttp.SocketTimeoutError) as exc:
            raise UpstreamError(504) from exc
        except aiohttp.ServerDisconnectedError as exc:
            if replayed or not (body is None or isinstance(body, bytes)):
                raise UpstreamError(502) from exc
            replayed = True
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamError(502) from exc
