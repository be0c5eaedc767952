"""Identity's web process: its container (bootstrap.py) plugged into the chassis."""

from __future__ import annotations

from fastapi import FastAPI
from vanity_common.app import ServiceParts, build_service_app
from vanity_common.auth import TokenVerifier

from vanity_identity import grpc_api, rest
from vanity_identity.bootstrap import build_container, load_keys
from vanity_identity.keys import StoreKeys
from vanity_identity.settings import IdentitySettings, load_settings


def create_app(settings: IdentitySettings | None = None, **overrides) -> FastAPI:
    """`overrides` go to `build_container`. The keys load here, not at startup, so a
    production configuration without keys fails as the app is made."""
    settings = settings or load_settings()
    settings.check_production()
    keys = overrides.pop("keys", None) or load_keys(settings)
    app = build_service_app(
        settings,
        ServiceParts(
            routers=rest.routers,
            container=lambda: build_container(settings, keys=keys, **overrides),
            register_grpc=grpc_api.register,
            title="Vanity identity",
        ),
    )
    # Identity verifies its own tokens with the keys it holds (no JWKS round trip to itself).
    app.state.token_verifier = TokenVerifier(StoreKeys(keys), issuer=settings.token_issuer)
    return app
