"""Composition root for payments."""

from __future__ import annotations

from fastapi import FastAPI
from vanity_common.app import ServiceParts, build_service_app

from vanity_payments import grpc_api, rest
from vanity_payments.service import PaymentService
from vanity_payments.settings import PaymentsSettings, load_settings


async def _startup(app: FastAPI) -> None:
    settings: PaymentsSettings = app.state.settings
    app.state.payments = PaymentService(
        app.state.db,
        settings.stripe_webhook_secret.get_secret_value(),
        settings.stripe_webhook_tolerance_s,
    )


def create_app(settings: PaymentsSettings | None = None) -> FastAPI:
    return build_service_app(
        settings or load_settings(),
        ServiceParts(routers=[rest.router], register_grpc=grpc_api.register, on_startup=[_startup]),
    )
