"""Composition root for checkout."""

from __future__ import annotations

from fastapi import FastAPI
from vanity_common.app import ServiceParts, build_service_app

from vanity_checkout import grpc_api, rest
from vanity_checkout.service import OrderService
from vanity_checkout.settings import CheckoutSettings, load_settings


async def _startup(app: FastAPI) -> None:
    app.state.orders = OrderService(app.state.db)


def create_app(settings: CheckoutSettings | None = None) -> FastAPI:
    return build_service_app(
        settings or load_settings(),
        ServiceParts(
            routers=[rest.router, rest.internal],
            register_grpc=grpc_api.register,
            on_startup=[_startup],
        ),
    )
