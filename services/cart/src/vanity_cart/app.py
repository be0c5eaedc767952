"""Composition root for cart."""

from __future__ import annotations

from fastapi import FastAPI
from vanity_common.app import ServiceParts, build_service_app

from vanity_cart import grpc_api, rest
from vanity_cart.service import CartService
from vanity_cart.settings import CartSettings, load_settings


async def _startup(app: FastAPI) -> None:
    app.state.cart = CartService(app.state.db)


def create_app(settings: CartSettings | None = None) -> FastAPI:
    return build_service_app(
        settings or load_settings(),
        ServiceParts(routers=[rest.router], register_grpc=grpc_api.register, on_startup=[_startup]),
    )
