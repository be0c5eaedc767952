"""The mock's events over real HTTP, as in `make run`: the relay signs each and POSTs it to the
running payments process' own webhook route (uvicorn on a free port)."""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from vanity_common.app import uvicorn_config
from vanity_common.migrations import migrate
from vanity_payments.app import create_app
from vanity_payments.domain import PaymentStatus
from vanity_payments.service import ChargeCommand
from vanity_payments.settings import PaymentsSettings


class NoCheckout:
    async def order(self, order_id):
        return None

    async def report_payment_outcome(self, **report):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_relay_posts_signed_events_to_the_running_webhook_route(sqlite_url, tmp_path):
    await migrate("vanity_payments", sqlite_url)
    port = free_port()
    settings = PaymentsSettings(
        env="test",
        database_url=sqlite_url,
        data_dir=tmp_path,
        http_port=port,
        grpc_enabled=False,
        access_log=False,
        ended_sessions_refresh_seconds=0,
        mock_webhook_url=f"http://127.0.0.1:{port}/api/v1/payments/webhooks/stripe",
    )
    app = create_app(settings, checkout=NoCheckout(), run_relay=False)
    config = uvicorn_config(app, settings)
    config.loop = "asyncio"
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), "uvicorn stopped"
            await asyncio.sleep(0.02)
        services = app.state.container
        payment = await services.payments.charge(
            ChargeCommand("k1", "order-1", "user-1", 5_000, "EUR", "pm_card_authenticationRequired")
        )
        await services.provider.complete_authentication(
            payment.provider_reference, client_secret=payment.client_secret, success=True
        )
        delivered = await services.relay.drain()
        assert delivered >= 2  # created, requires_action, amount_capturable_updated
        after = await services.payments.get_payment(payment_id=payment.id)
        assert after.status is PaymentStatus.AUTHORIZED
    finally:
        server.should_exit = True
        await serving
