"""Composition root: wires inventory's use cases into the chassis."""

from __future__ import annotations

from fastapi import FastAPI
from vanity_common.app import ServiceParts, build_service_app

from vanity_inventory import grpc_api, rest
from vanity_inventory.service import InventoryService
from vanity_inventory.settings import InventorySettings, load_settings


def build_service(db, settings: InventorySettings, **kwargs) -> InventoryService:
    """The use cases with their collaborators, as the app, the worker and the CLI use them."""
    if "notifier" not in kwargs and settings.low_stock_notifications:
        from vanity_inventory.notifications import CeleryLowStockNotifier

        kwargs["notifier"] = CeleryLowStockNotifier(settings)
    return InventoryService(db, settings.low_stock_threshold, **kwargs)


def create_app(settings: InventorySettings | None = None, **service_kwargs) -> FastAPI:
    """`service_kwargs` (clock, notifier) let tests inject a clock or capture notifications."""
    settings = settings or load_settings()

    async def _startup(app: FastAPI) -> None:
        app.state.inventory = build_service(app.state.db, settings, **service_kwargs)

    return build_service_app(
        settings,
        ServiceParts(
            routers=[rest.router, rest.admin],
            register_grpc=grpc_api.register,
            on_startup=[_startup],
        ),
    )
