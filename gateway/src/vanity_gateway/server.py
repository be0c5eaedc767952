"""The HTTP server of the stand-in: uvicorn + httptools, with nginx's limits on slow or huge requests.

uvicorn has no header/body read timeout and no header size or count limit with httptools, so the
protocol below adds what nginx (and so Kong) enforces, with nginx's defaults and answers:
- `client_header_timeout` (60 s): the whole request head must arrive in time, else the
  connection is closed without an answer (nginx logs a 408 and sends nothing);
- `client_body_timeout` (60 s): the longest pause between two reads of the body; same answer;
- `large_client_header_buffers 4 8k`: a request line over 8 KB is `414 URI too long`; a header
  line over 8 KB, or a head over 4 x 8 KB, is nginx's 494, which Kong answers as
  `400 Request header or cookie too large`;
- at most 100 headers (Kong's `lua_max_req_headers`: Kong would hide the rest from its plugins;
  the stand-in refuses the request the same way as an oversized head instead).
A request the parser refuses is Kong's `400 Bad request`. Every answer carries Kong's JSON body.

Forwarding headers are never believed by uvicorn (`proxy_headers=False`): the app applies
kong.conf's `trusted_ips` itself (realip.py).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# (status, message, headers seen so far) -> (status, response headers, body)
ErrorRenderer = Callable[[int, str | None, list[tuple[bytes, bytes]]], tuple[int, list, bytes]]

HEADER_TOO_LARGE = 494  # nginx's internal status; Kong answers it as 400


@dataclass(frozen=True)
class ClientLimits:
    header_timeout: float = 60.0
    body_timeout: float = 60.0
    keepalive_timeout: float = 5.0
    max_line: int = 8192
    max_header_bytes: int = 4 * 8192
    max_headers: int = 100
    lingering_time: float = 5.0  # after refusing a request, keep draining input this long


class _Reject(Exception):
    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.message = message


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits = ClientLimits()
    render_error: ErrorRenderer | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head = True
        self._head_bytes = 0
        self._header_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._lingering = False
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    # -- timers ------------------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout, self._timed_out)

    def _arm_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
        self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timed_out)

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _timed_out(self) -> None:
        self._cancel_timers()
        if not self.transport.is_closing():
            self.transport.close()

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self.flow.read_paused:  # the app is not reading: the client is not the slow one
            self._arm_body_timer()
        else:
            self._timed_out()

    # -- parsing -----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # refused already: drain, so the answer is not lost to a reset
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            reject = exc.__context__
            if isinstance(reject, _Reject):
                self._reject(reject.status, reject.message)
            else:
                self._reject(400)
            return
        except httptools.HttpParserError:
            self._reject(400)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._in_head and self._head_bytes > self.limits.max_header_bytes + self.limits.max_line:
            self._reject(HEADER_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._header_bytes = 0
        self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_line:
            raise _Reject(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        line = len(name) + len(value) + 4
        self._header_bytes += line
        if (
            line > self.limits.max_line
            or self._header_bytes > self.limits.max_header_bytes
            or len(self.headers) >= self.limits.max_headers
        ):
            raise _Reject(HEADER_TOO_LARGE)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._arm_body_timer()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._arm_body_timer()
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self._in_head = True
        super().on_message_complete()

    # -- answers -----------------------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        self._reject(400)

    def _reject(self, status: int, message: str | None = None) -> None:
        self._cancel_timers()
        if self.transport.is_closing():
            return
        seen = list(self.headers or [])
        if self.render_error is not None:
            status, headers, body = self.render_error(status, message, seen)
        else:  # pragma: no cover - the gateway always installs its renderer
            status = 400 if status == HEADER_TOO_LARGE else status
            headers, body = [(b"content-type", b"text/plain")], b"Bad request\n"
        head = [STATUS_LINE[status]]
        for name, value in headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        # nginx's lingering close: closing with unread input would reset the connection and
        # could destroy the answer before the client reads it; half-close and drain instead
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._lingering = True
            self._head_timer = self.loop.call_later(self.limits.lingering_time, self._timed_out)
        else:  # pragma: no cover - TCP transports can always half-close
            self.transport.close()


def protocol_class(limits: ClientLimits, render_error: ErrorRenderer | None) -> type:
    """A GuardedHttpToolsProtocol bound to these limits and this error renderer."""
    return type(
        "GatewayHttpProtocol",
        (GuardedHttpToolsProtocol,),
        {"limits": limits, "render_error": staticmethod(render_error) if render_error else None},
    )


def make_server(app: Any, limits: ClientLimits, *, log_level: str = "info", loop: str = "auto",
                **config: Any) -> uvicorn.Server:  # fmt: skip
    return uvicorn.Server(
        uvicorn.Config(
            app,
            http=protocol_class(limits, getattr(app, "render_protocol_error", None)),
            proxy_headers=False,  # trusted_ips is applied by the app (realip.py)
            timeout_keep_alive=limits.keepalive_timeout,
            log_level=log_level,
            loop=loop,
            server_header=False,
            **config,
        )
    )


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit TCP_NODELAY on Linux. Without it, the response head and body
    # (two writes) meet the client's delayed ACK on keep-alive connections: +40 ms per request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
