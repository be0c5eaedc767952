"""Composition root: wires catalog's use cases into the chassis."""

from __future__ import annotations

from fastapi import FastAPI
from vanity_common.app import ServiceParts, build_service_app

from vanity_catalog import grpc_api, rest
from vanity_catalog.cache import cache_from_settings
from vanity_catalog.service import CatalogService
from vanity_catalog.settings import CatalogSettings, load_settings


async def _startup(app: FastAPI) -> None:
    settings: CatalogSettings = app.state.settings
    app.state.cache = cache_from_settings(settings)
    app.state.catalog = CatalogService(app.state.db, app.state.cache, settings.currency)
    app.state.cache_control = (
        f"public, max-age={settings.http_max_age_seconds}"
        if settings.http_max_age_seconds > 0
        else "public, no-cache"
    )


async def _shutdown(app: FastAPI) -> None:
    await app.state.cache.close()


async def _cache_ready(app: FastAPI) -> None:
    await app.state.cache.ping()


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    return build_service_app(
        settings or load_settings(),
        ServiceParts(
            routers=[rest.router, rest.admin],
            register_grpc=grpc_api.register,
            readiness_checks={"cache": _cache_ready},
            on_startup=[_startup],
            on_shutdown=[_shutdown],
        ),
    )
