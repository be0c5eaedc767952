"""Inventory's web process: its container (bootstrap.py) plugged into the chassis."""

from __future__ import annotations

from vanity_common.app import service_app_factory

from vanity_inventory import grpc_api, rest
from vanity_inventory.bootstrap import build_container
from vanity_inventory.settings import load_settings

# create_app(settings=None, **overrides): overrides go to `build_container` (tests inject a
# clock or capture notifications).
create_app = service_app_factory(
    load_settings,
    build_container,
    routers=[rest.router, rest.admin],
    register_grpc=grpc_api.register,
)
