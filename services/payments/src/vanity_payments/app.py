"""Payments' web process: its container (bootstrap.py) plugged into the chassis."""

from __future__ import annotations

from vanity_common.app import service_app_factory

from vanity_payments import grpc_api, rest
from vanity_payments.bootstrap import build_container
from vanity_payments.settings import load_settings

# create_app(settings=None, **overrides): overrides go to `build_container` (tests inject a
# provider, a checkout port, a webhook sender or a clock).
create_app = service_app_factory(
    load_settings,
    build_container,
    routers=[rest.router, rest.admin, rest.development],
    register_grpc=grpc_api.register,
)
