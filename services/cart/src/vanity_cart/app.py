"""The cart web process: REST and gRPC around the container from bootstrap.py."""

from __future__ import annotations

from vanity_common.app import service_app_factory

from vanity_cart import grpc_api, rest
from vanity_cart.bootstrap import build_container
from vanity_cart.settings import load_settings

# create_app(settings=None, **overrides): overrides go to `build_container` (tests: ports, clock).
create_app = service_app_factory(
    load_settings, build_container, routers=[rest.router], register_grpc=grpc_api.register
)
