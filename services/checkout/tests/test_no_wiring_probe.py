"""Issue 16, finding 9: checkout's wiring probe answered exact stock counts to anyone who could
reach it. It is gone: no route under /internal, in the app or its OpenAPI document."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager
from vanity_checkout.app import create_app
from vanity_checkout.settings import CheckoutSettings
from vanity_common.migrations import migrate


async def test_checkout_has_no_wiring_probe(tmp_path):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'checkout.db'}"
    await migrate("vanity_checkout", database_url)
    app = create_app(
        CheckoutSettings(
            database_url=database_url,
            data_dir=tmp_path,
            grpc_enabled=False,
            ended_sessions_refresh_seconds=0,
        )
    )
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://checkout") as client:
            response = await client.get(
                "/internal/v1/probe/availability", params={"sku": "LIP-001"}
            )
    assert response.status_code == 404
    assert not [p for p in app.openapi()["paths"] if p.startswith("/internal")]
    assert not [r for r in app.routes if getattr(r, "path", "").startswith("/internal")]
