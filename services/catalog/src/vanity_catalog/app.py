"""Catalog's web process: its container (bootstrap.py) plugged into the chassis."""

from __future__ import annotations

from fastapi import FastAPI
from vanity_common.app import ServiceParts, build_service_app

from vanity_catalog import grpc_api, rest
from vanity_catalog.bootstrap import build_container
from vanity_catalog.settings import CatalogSettings, load_settings


def create_app(settings: CatalogSettings | None = None, **overrides) -> FastAPI:
    """`overrides` go to `build_container` (a cache, a clock)."""
    settings = settings or load_settings()
    return build_service_app(
        settings,
        ServiceParts(
            routers=[rest.router, rest.admin],
            container=lambda: build_container(settings, **overrides),
            register_grpc=grpc_api.register,
        ),
    )
