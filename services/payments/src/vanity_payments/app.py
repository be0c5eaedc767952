"""Payments' web process: its container (bootstrap.py) plugged into the chassis."""

from __future__ import annotations

from fastapi import FastAPI
from vanity_common.app import ServiceParts, build_service_app

from vanity_payments import grpc_api, rest
from vanity_payments.bootstrap import build_container
from vanity_payments.settings import PaymentsSettings, load_settings


def create_app(settings: PaymentsSettings | None = None, **overrides) -> FastAPI:
    """`overrides` go to `build_container` (tests inject a provider, a checkout port, a
    webhook sender or a clock)."""
    settings = settings or load_settings()
    return build_service_app(
        settings,
        ServiceParts(
            routers=[rest.router, rest.admin, rest.development],
            container=lambda: build_container(settings, **overrides),
            register_grpc=grpc_api.register,
        ),
    )
