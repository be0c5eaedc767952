"""The web app's static upstream (web/static_server.py) over a small build folder."""

from __future__ import annotations

import gzip
import importlib.util
import sys
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "web_static_server", ROOT / "web" / "static_server.py"
)
static_server = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = static_server
_spec.loader.exec_module(static_server)

INDEX = (
    "<!doctype html><title>Vanity</title><script type=module src=/assets/index-abc123.js></script>"
)
SCRIPT = "console.log('vanity');\n" * 200  # big enough to be worth compressing


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-abc123.js").write_text(SCRIPT)
    (tmp_path / "assets" / "index-abc123.css").write_text("body{color:red}")
    (tmp_path / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path.parent / "secret.txt").write_text("outside the site")
    return tmp_path


@pytest.fixture
async def client(dist: Path):
    transport = httpx.ASGITransport(app=static_server.StaticSite(dist))
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as c:
        yield c


async def test_hashed_assets_are_immutable_for_a_year_with_their_content_type(client):
    js = await client.get("/assets/index-abc123.js")
    assert js.status_code == 200
    assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"
    assert js.text == SCRIPT
    css = await client.get("/assets/index-abc123.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    svg = await client.get("/favicon.svg")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.headers["cache-control"] == "public, max-age=3600"


@pytest.mark.parametrize("path", ["/", "/products", "/products/velvet-lip?sku=X-1", "/admin/stock"])
async def test_app_routes_get_index_html_revalidated_on_every_visit(client, path):
    answer = await client.get(path)
    assert answer.status_code == 200
    assert answer.text == INDEX
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"] == "no-cache"


async def test_a_missing_asset_is_a_404_never_the_app_html(client):
    answer = await client.get("/assets/index-old999.js")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert "<html" not in answer.text.lower()


async def test_unmatched_api_paths_are_json_404s(client):
    answer = await client.get("/api/v1/nope")
    assert answer.status_code == 404
    assert answer.json()["status"] == 404


async def test_only_get_and_head(client):
    answer = await client.post("/products", content=b"x")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"
    head = await client.head("/assets/index-abc123.js", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(SCRIPT))


async def test_security_headers_on_every_answer(client):
    for path in ("/", "/assets/index-abc123.js", "/assets/missing.js", "/api/x"):
        headers = (await client.get(path)).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"


async def test_conditional_get_answers_304(client):
    first = await client.get("/")
    again = await client.get("/", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["cache-control"] == "no-cache"


async def test_text_is_gzipped_for_clients_that_accept_it(client):
    raw = await client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    packed = await client.send(
        client.build_request("GET", "/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"}),
        stream=True,
    )
    body = b"".join([chunk async for chunk in packed.aiter_raw()])  # the bytes on the wire
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == SCRIPT.encode()
    assert int(packed.headers["content-length"]) < len(SCRIPT) / 5


@pytest.mark.parametrize(
    "path", ["/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt"]
)
async def test_no_file_outside_the_build_folder_is_served(client, path):
    answer = await client.get(path)
    assert "outside the site" not in answer.text


async def test_a_rebuild_is_served_without_a_restart(client, dist):
    await client.get("/")
    (dist / "index.html").write_text(INDEX + "<!-- v2 -->")
    assert (await client.get("/")).text.endswith("<!-- v2 -->")


async def test_an_unbuilt_app_says_so(tmp_path):
    transport = httpx.ASGITransport(app=static_server.StaticSite(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as c:
        answer = await c.get("/")
    assert answer.status_code == 503
    assert "make web" in answer.json()["detail"]
