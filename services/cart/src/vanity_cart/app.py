"""The cart web process: REST and gRPC around the container from bootstrap.py."""

from __future__ import annotations

from fastapi import FastAPI
from vanity_common.app import ServiceParts, build_service_app

from vanity_cart import grpc_api, rest
from vanity_cart.bootstrap import build_container
from vanity_cart.settings import CartSettings, load_settings


def create_app(settings: CartSettings | None = None, **overrides) -> FastAPI:
    """`overrides` go to `build_container` (tests: ports, clock)."""
    settings = settings or load_settings()
    app = build_service_app(
        settings,
        ServiceParts(
            routers=[rest.router],
            container=lambda: build_container(settings, **overrides),
            register_grpc=grpc_api.register,
        ),
    )
    rest.install_problem_details(app)
    return app
