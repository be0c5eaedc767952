"""Product image routes in kong.yml: the variants are public (no token, consumer headers
dropped, their own per-IP limit); uploads are admin-only and may be larger than the global
1 MB, other admin bodies may not."""

from __future__ import annotations

import json

import pytest
from vanity_testkit.gateway import running_gateway
from vanity_testkit.tokens import mint_token

pytestmark = pytest.mark.timeout(60)
IMAGE = "/api/v1/images/0123456789abcdef0123456789abcdef-10x10/480.webp"
MB = 1024 * 1024


@pytest.fixture
async def gw(tmp_path, doc, echo_upstream, clock):
    async with running_gateway(tmp_path, doc, echo_upstream, clock) as url:
        yield url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_images_are_public_and_rate_limited_on_their_own(gw, http):
    forged = {"X-Consumer-Groups": "admin", "X-Consumer-Username": "vanity-admin"}
    async with http.get(f"{gw}{IMAGE}", headers=forged) as r:
        assert r.status == 200
        seen = (await r.json())["headers"]
        assert "x-consumer-groups" not in seen and "x-consumer-username" not in seen
        assert r.headers["RateLimit-Limit"] == "3000"
    async with http.head(f"{gw}{IMAGE}") as r:
        assert r.status == 200
    async with http.post(f"{gw}{IMAGE}", data=b"x") as r:  # read-only
        assert r.status == 404


async def test_uploads_need_an_admin_and_may_be_up_to_ten_megabytes(gw, http, keys_dir, clock):
    upload = f"{gw}/api/v1/admin/products/7/images"
    image_headers = {"Content-Type": "image/jpeg"}
    async with http.post(upload, data=b"x" * 100, headers=image_headers) as r:
        assert r.status == 401
    customer = bearer(mint_token(keys_dir, now=int(clock())))
    async with http.post(upload, data=b"x" * 100, headers=customer | image_headers) as r:
        assert r.status == 403
    admin = bearer(mint_token(keys_dir, admin=True, now=int(clock())))
    async with http.post(upload, data=b"x" * (3 * MB), headers=admin | image_headers) as r:
        assert r.status == 200 and (await r.json())["body_len"] == 3 * MB
    async with http.post(upload, data=b"x" * (10 * MB + 1), headers=admin | image_headers) as r:
        assert r.status == 413
    # the larger limit is the upload's alone: other admin writes keep the global 1 MB
    big_json = json.dumps({"description": "x" * (2 * MB)}).encode()
    async with http.patch(f"{gw}/api/v1/admin/products/7", data=big_json, headers=admin) as r:
        assert r.status == 413
    async with http.post(
        f"{gw}/api/v1/admin/products/7/variants", data=big_json, headers=admin
    ) as r:
        assert r.status == 413
