"""Composition root: wires inventory's use cases into the chassis."""

from __future__ import annotations

from fastapi import FastAPI
from vanity_common.app import ServiceParts, build_service_app

from vanity_inventory import grpc_api, rest
from vanity_inventory.service import InventoryService
from vanity_inventory.settings import InventorySettings, load_settings


async def _startup(app: FastAPI) -> None:
    settings: InventorySettings = app.state.settings
    app.state.inventory = InventoryService(app.state.db, settings.low_stock_threshold)


def create_app(settings: InventorySettings | None = None) -> FastAPI:
    return build_service_app(
        settings or load_settings(),
        ServiceParts(routers=[rest.router], register_grpc=grpc_api.register, on_startup=[_startup]),
    )
