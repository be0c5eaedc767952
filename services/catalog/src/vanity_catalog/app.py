"""Catalog's web process: its container (bootstrap.py) plugged into the chassis."""

from __future__ import annotations

from vanity_common.app import service_app_factory

from vanity_catalog import grpc_api, rest, rest_images
from vanity_catalog.bootstrap import build_container
from vanity_catalog.settings import load_settings

# create_app(settings=None, **overrides): overrides go to `build_container` (a cache, a clock).
create_app = service_app_factory(
    load_settings,
    build_container,
    routers=[rest.router, rest.admin, rest_images.public, rest_images.admin],
    register_grpc=grpc_api.register,
)
