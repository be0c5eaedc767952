"""Issue 16 through the stand-in: path normalization as Kong's, hostile paths, forwarded headers,
slow and oversized requests. Real upstream process, real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from vanity_gateway.realip import RealIp
from vanity_gateway.server import ClientLimits
from vanity_gateway.uri import escape, normalize
from vanity_testkit.gateway import plugin_of, route_of, running_gateway
from vanity_testkit.tokens import mint_token
from yarl import URL

pytestmark = pytest.mark.timeout(60)
NO_ROUTE = "no Route matched with those values"


def raw_url(base: str, path: str) -> URL:
    """The URL exactly as written: the client must not resolve dot-segments itself."""
    return URL(base + path, encoded=True)


async def fetch(http, method, url, **kw):
    async with http.request(method, url, **kw) as r:
        return r.status, r.headers, await r.read()


@pytest.fixture
async def gw(tmp_path, doc, echo_upstream, clock):
    async with running_gateway(tmp_path, doc, echo_upstream, clock) as url:
        yield url


# --- kong.tools.uri parity (cases from Kong's spec/01-unit/18-tools_uri_spec.lua, then ours) --


def _latin1(s: str) -> str:
    return s.encode().decode("latin-1")


KONG_NORMALIZE = [
    # (input, merge_slashes, Kong's answer)
    ("", False, ""),
    ("/", False, "/"),
    ("/a/b/c/", False, "/a/b/c/"),
    ("/a%2Fb%2Fc/", False, "/a%2Fb%2Fc/"),
    ("/%20%21%23%24%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3D%3F%40%5B%5D", False,
     "/ %21%23%24%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3D%3F%40%5B%5D"),
    ("/a%2fb%2fc/", False, "/a%2Fb%2Fc/"),
    ("/f%6f%6f", False, "/foo"),
    ("/%6B%6f%6e%67", False, "/kong"),
    ("/%2E", False, "/"),
    ("//", False, "//"),
    ("/./", False, "/"),
    ("/.", False, "/"),
    ("/..", False, "/"),
    ("/../", False, "/"),
    ("/////", False, "/////"),
    ("/./.././../", False, "/"),
    ("/a/b/c/./../../g", False, "/a/g"),
    ("mid/content=5/../6", False, "mid/6"),
    ("//", True, "/"),
    ("/////", True, "/"),
    ("/a//b//", True, "/a/b/"),
    ("/endel%C3%B8st", False, _latin1("/endeløst")),
    ("/%C3%A4/a/%2e./a%2E//a/%2e/./a/../a/%2e%2E/%5f%99%af%2f%2F", True,
     _latin1("/ä/a./a/_") + "\x99\xaf%2F%2F"),
    # the attacks of issue 16 and their encoded variants
    ("/api/v1/products/../../../metrics", True, "/metrics"),
    ("/api/v1/products/%2e%2e/%2E%2E/%2e%2E/docs", True, "/docs"),
    ("/api/v1/products/.%2e/admin/products", True, "/api/v1/admin/products"),
    ("/api/v1/me/../auth/login", True, "/api/v1/auth/login"),
    ("/api/v1/products/..%2Fadmin", True, "/api/v1/products/..%2Fadmin"),  # %2F stays a byte
    ("/api/v1//cart///items", True, "/api/v1/cart/items"),
    ("/api/v1/%61vailability", True, "/api/v1/availability"),
    ("/../../../../etc", True, "/etc"),  # `..` above the root stays at the root
    ("/api/v1/products/x./y..", True, "/api/v1/products/x./y.."),  # trailing dots: not segments
    ("/api/v1/products/.../x", True, "/api/v1/products/.../x"),
    ("/api/v1/products/abc%00", True, "/api/v1/products/abc\x00"),
    ("/%25%32%65", True, "/%252e"),  # no double decoding
]  # fmt: skip


@pytest.mark.parametrize(("raw", "merge", "want"), KONG_NORMALIZE)
def test_normalize_matches_kong(raw, merge, want):
    assert normalize(raw, merge) == want


def test_escape_matches_kong():
    safe = "/!#$%&'()*+,/:;=?@[]ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    assert escape(safe) == safe
    assert escape("/a b/c d") == "/a%20b/c%20d"
    assert escape(_latin1("/a😀")) == "/a%F0%9F%98%80"
    assert escape("/x\r\nX-Injected: yes") == "/x%0D%0AX-Injected:%20yes"


# --- finding 1: route bypass by dot-segments --------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/products/../../../metrics",
        "/api/v1/products/../../../docs",
        "/api/v1/products/../../../openapi.json",
        "/api/v1/products/../../../readyz",
        "/api/v1/products/%2e%2e/%2E%2E/%2e%2E/metrics",
        "/api/v1/orders/../../../internal/v1/probe/availability?sku=SKU-1",
    ],
)
async def test_dot_segments_out_of_a_route_match_no_route(gw, http, path):
    status, headers, body = await fetch(http, "GET", raw_url(gw, path))
    assert status == 404, body
    msg = json.loads(body)
    assert msg["message"] == NO_ROUTE and msg["request_id"] == headers["X-Kong-Request-Id"]
    # Kong's global plugins decorate its own answers too
    assert headers["X-Content-Type-Options"] == "nosniff" and "X-Request-ID" in headers


async def test_dot_segments_into_admin_route_get_the_admin_plugins(gw, http, keys_dir, clock):
    path = raw_url(gw, "/api/v1/products/../admin/products")
    status, _, body = await fetch(http, "GET", path)
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
    customer = mint_token(keys_dir, now=int(clock()))
    status, _, body = await fetch(
        http, "GET", path, headers={"Authorization": f"Bearer {customer}"}
    )
    assert status == 403 and json.loads(body)["message"] == "You cannot consume this service"
    admin = mint_token(keys_dir, now=int(clock()), admin=True)
    status, _, body = await fetch(http, "GET", path, headers={"Authorization": f"Bearer {admin}"})
    assert status == 200
    assert json.loads(body)["raw_path"] == "/api/v1/admin/products"  # the path that was checked


async def test_dot_segments_into_login_get_the_login_rate_limit(gw, http):
    status, headers, body = await fetch(
        http, "POST", raw_url(gw, "/api/v1/me/../auth/login"), json={"email": "a@b.c"}
    )
    assert status == 200, body  # not identity-me's jwt 401
    assert headers["X-RateLimit-Limit-Minute"] == "10"
    assert json.loads(body)["raw_path"] == "/api/v1/auth/login"


async def test_upstream_receives_the_normalized_path_and_the_raw_query(gw, http):
    sent = "/api/v1//products/./a%2fb/%7Ebrand/x%20y/../z?q=a%20b&next=../x"
    status, _, body = await fetch(http, "GET", raw_url(gw, sent))
    assert status == 200
    seen = json.loads(body)
    assert seen["raw_path"] == "/api/v1/products/a%2Fb/~brand/z?q=a%20b&next=../x"
    assert seen["headers"]["x-forwarded-path"] == sent.split("?")[0]  # as Kong: the raw path


# --- finding 2: control characters -----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/products/abc%00",
        "/api/v1/brands%0a",
        "/api/v1/products/x%0d%0aX-Injected:%20yes",
        "/api/v1/products/%7f",
    ],
)
async def test_control_characters_in_the_path_are_a_kong_400(gw, http, path):
    status, headers, body = await fetch(
        http, "GET", raw_url(gw, path), headers={"Origin": "http://localhost:3000"}
    )
    assert status == 400, body
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    msg = json.loads(body)
    assert msg == {"message": "Bad request", "request_id": headers["X-Kong-Request-Id"]}
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Frame-Options"] == "DENY" and "X-Request-ID" in headers
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "X-Injected" not in headers and "Via" not in headers  # never proxied


# --- finding 5: forwarded headers only from trusted proxies ----------------------------------


def _per_ip_limit(doc, minute):
    rl = plugin_of(route_of(doc, "catalog-public"), "rate-limiting")
    rl["config"] = {k: v for k, v in rl["config"].items() if k not in ("minute", "hour")} | {
        "minute": minute
    }


async def test_untrusted_client_cannot_escape_the_per_ip_limit(
    tmp_path, doc, echo_upstream, http, clock
):
    _per_ip_limit(doc, 2)
    async with running_gateway(tmp_path, doc, echo_upstream, clock) as gw:
        for i in range(2):
            spoof = {"X-Forwarded-For": f"203.0.113.{i}", "X-Real-IP": f"198.51.100.{i}",
                     "X-Forwarded-Proto": "https", "X-Forwarded-Path": "/elsewhere"}  # fmt: skip
            status, _, body = await fetch(http, "GET", f"{gw}/api/v1/products", headers=spoof)
            assert status == 200
            seen = json.loads(body)["headers"]
            assert seen["x-real-ip"] == "127.0.0.1"
            assert seen["x-forwarded-for"] == f"203.0.113.{i}, 127.0.0.1"  # appended, as Kong
            assert seen["x-forwarded-proto"] == "http"
            assert seen["x-forwarded-path"] == "/api/v1/products"
        status, headers, _ = await fetch(
            http, "GET", f"{gw}/api/v1/products",
            headers={"X-Forwarded-For": "192.0.2.99", "X-Real-IP": "192.0.2.99"},
        )  # fmt: skip
        assert status == 429 and headers["X-RateLimit-Remaining-Minute"] == "0"


async def test_trusted_proxy_names_the_client(tmp_path, doc, echo_upstream, http, clock):
    _per_ip_limit(doc, 1)
    realip = RealIp("127.0.0.0/8")
    async with running_gateway(tmp_path, doc, echo_upstream, clock, realip=realip) as gw:
        a = {"X-Real-IP": "203.0.113.7", "X-Forwarded-Proto": "https"}
        status, _, body = await fetch(http, "GET", f"{gw}/api/v1/products", headers=a)
        assert status == 200
        seen = json.loads(body)["headers"]
        assert (seen["x-real-ip"], seen["x-forwarded-proto"]) == ("203.0.113.7", "https")
        assert (await fetch(http, "GET", f"{gw}/api/v1/products", headers=a))[0] == 429
        b = {"X-Real-IP": "203.0.113.8"}
        assert (await fetch(http, "GET", f"{gw}/api/v1/products", headers=b))[0] == 200


def test_realip_rules():
    xff = RealIp("10.0.0.0/8", header="X-Forwarded-For")
    hdrs = {"x-forwarded-for": ["6.6.6.6, 203.0.113.5"]}
    assert xff.client_ip("10.1.2.3", hdrs) == "203.0.113.5"
    assert xff.client_ip("198.51.100.1", hdrs) == "198.51.100.1"  # untrusted peer
    rec = RealIp("10.0.0.0/8", header="X-Forwarded-For", recursive=True)
    assert rec.client_ip("10.1.2.3", {"x-forwarded-for": ["203.0.113.5, 10.0.0.7"]}) == (
        "203.0.113.5"
    )
    assert RealIp("10.0.0.0/8").client_ip("10.1.2.3", {"x-real-ip": ["bogus"]}) == "10.1.2.3"
    assert RealIp().client_ip("127.0.0.1", {"x-real-ip": ["1.2.3.4"]}) == "127.0.0.1"


# --- finding 6: slow and oversized requests (raw sockets against the real server) ------------

FAST = ClientLimits(header_timeout=1.0, body_timeout=1.0, lingering_time=1.0)


@pytest.fixture
async def strict_gw(tmp_path, doc, echo_upstream, clock):
    async with running_gateway(tmp_path, doc, echo_upstream, clock, limits=FAST) as url:
        yield URL(url)


async def _connect(base: URL):
    return await asyncio.open_connection(base.host, base.port)


async def _closed_before(reader, writer, trickle: bytes, pause: float) -> bytes:
    """Send `trickle` a byte every `pause` s; returns what the server sent when it closed the
    connection. Fails if the whole trickle got through (the server never cut the client off)."""

    async def dribble():
        for b in trickle:
            writer.write(bytes([b]))
            await writer.drain()
            await asyncio.sleep(pause)

    sender = asyncio.create_task(dribble())
    received = asyncio.create_task(reader.read())
    done, _ = await asyncio.wait({sender, received}, return_when=asyncio.FIRST_COMPLETED)
    assert received in done, "the server kept a slow client for the whole trickle"
    sender.cancel()
    writer.close()
    return received.result()


async def test_slow_headers_are_cut_off(strict_gw):
    reader, writer = await _connect(strict_gw)
    head = b"GET /api/v1/products HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 200
    # 250 bytes at 0.2 s each would take 50 s; the 1 s header timeout closes it, answerless
    assert await _closed_before(reader, writer, head, 0.2) == b""


async def test_slow_body_is_cut_off(strict_gw):
    reader, writer = await _connect(strict_gw)
    writer.write(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                 b"Content-Type: application/json\r\n\r\n{")  # fmt: skip
    await writer.drain()
    assert await _closed_before(reader, writer, b" " * 99, 3.0) == b""


async def test_body_with_short_pauses_is_served(strict_gw):
    reader, writer = await _connect(strict_gw)
    writer.write(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                 b"Connection: close\r\n\r\n{")  # fmt: skip
    for chunk in (b' "', b"}"):
        await writer.drain()
        await asyncio.sleep(0.1)  # well under the 1 s body timeout
        writer.write(chunk)
    response = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    assert response.startswith(b"HTTP/1.1 200"), response[:200]


async def _raw_request(base: URL, request: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await _connect(base)
    writer.write(request)
    with contextlib.suppress(ConnectionError):  # the server may stop reading a huge head
        await writer.drain()
    data = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _request_with(headers: list[bytes], path: bytes = b"/api/v1/products") -> bytes:
    return (
        b"GET "
        + path
        + b" HTTP/1.1\r\nHost: x\r\n"
        + b"".join(h + b"\r\n" for h in headers)
        + b"\r\n"
    )


@pytest.mark.parametrize(
    "headers",
    [
        [b"X-Big: " + b"a" * 9000],  # one line over 8 KB
        [b"X-Huge: " + b"a" * (1 << 20)],  # 1 MiB
        [b"X-H-%d: %s" % (i, b"v" * 400) for i in range(90)],  # 36 KB in total
        [b"X-H-%d: v" % i for i in range(2000)],  # 2,000 headers
    ],
    ids=["8k-line", "1MiB", "36k-total", "2000-headers"],
)
async def test_oversized_heads_are_kong_400s(strict_gw, headers):
    status, h, body = await _raw_request(strict_gw, _request_with(headers))
    assert status == 400
    msg = json.loads(body)
    assert msg["message"] == "Request header or cookie too large"
    assert msg["request_id"] == h["x-kong-request-id"]
    assert h["x-content-type-options"] == "nosniff" and h["connection"] == "close"


async def test_long_request_line_is_414(strict_gw):
    status, _, body = await _raw_request(
        strict_gw, _request_with([], b"/api/v1/products/" + b"a" * 9000)
    )
    assert status == 414 and json.loads(body)["message"] == "URI too long"


async def test_unparseable_request_is_kong_400(strict_gw):
    status, h, body = await _raw_request(strict_gw, b"GET /x HTTP/1.1\r\nBad Header\r\n\r\n")
    assert status == 400 and json.loads(body)["message"] == "Bad request"
    assert h["content-type"] == "application/json; charset=utf-8"


async def test_normal_head_within_limits_is_served(strict_gw):
    headers = [b"X-H-%d: %s" % (i, b"v" * 100) for i in range(60)]
    status, _, body = await _raw_request(strict_gw, _request_with([*headers, b"Connection: close"]))
    assert status == 200 and json.loads(body)["headers"]["x-h-59"] == "v" * 100
