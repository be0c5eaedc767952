"""Checkout's web process: its container (bootstrap.py) plugged into the chassis."""

from __future__ import annotations

from fastapi import FastAPI
from vanity_common.app import ServiceParts, build_service_app

from vanity_checkout import grpc_api, rest
from vanity_checkout.bootstrap import build_container
from vanity_checkout.settings import CheckoutSettings, load_settings


def create_app(settings: CheckoutSettings | None = None, **overrides) -> FastAPI:
    """`overrides` go to `build_container` (fake ports, a clock)."""
    settings = settings or load_settings()
    return build_service_app(
        settings,
        ServiceParts(
            routers=[rest.router, rest.admin],
            container=lambda: build_container(settings, **overrides),
            register_grpc=grpc_api.register,
        ),
    )
