"""Composition root: wires identity's use cases into the chassis."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from vanity_common.app import ServiceParts, build_service_app
from vanity_common.auth import TokenVerifier
from vanity_common.tasks import make_celery

from vanity_identity import grpc_api, rest
from vanity_identity.keys import KeyStore, StoreKeys
from vanity_identity.mail import mailer_from_settings
from vanity_identity.passwords import Passwords
from vanity_identity.service import IdentityService
from vanity_identity.settings import IdentitySettings, load_settings
from vanity_identity.throttle import Throttle, parse_networks
from vanity_identity.tokens import AccessTokenIssuer


def build_service(settings: IdentitySettings, db, keys: KeyStore) -> IdentityService:
    """The use cases with their collaborators (also used by tasks and the CLI)."""
    return IdentityService(
        db=db,
        settings=settings,
        issuer=AccessTokenIssuer(keys, settings.token_issuer, settings.access_token_ttl_seconds),
        passwords=Passwords(
            time_cost=settings.argon2_time_cost,
            memory_cost_kib=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
            concurrency=settings.password_hash_concurrency,
        ),
        throttle=Throttle(
            settings.redis_url,
            {
                "login_account": settings.login_account_limits,
                "login_ip": settings.login_ip_limits,
                "register_ip": settings.register_ip_limits,
                "reset_ip": settings.reset_ip_limits,
                "reset_email": settings.reset_email_limits,
            },
            prefix=settings.rate_limit_prefix,
        ),
        mailer=mailer_from_settings(settings),
    )


def load_keys(settings: IdentitySettings) -> KeyStore:
    """Development/test: the first key pair is generated. Production: refuses without keys."""
    keys = KeyStore(settings.keys_dir, reload_seconds=settings.keys_reload_seconds)
    keys.ensure(allow_generate=settings.allow_key_generation)
    return keys


class CeleryEnqueuer:
    """Sends tasks by name to identity's queue (no import of the task code in the web process)."""

    def __init__(self, settings: IdentitySettings) -> None:
        self.celery = make_celery(settings, include=[])
        self.queue = settings.service_name

    async def __call__(self, task_name: str, *args) -> None:
        await asyncio.to_thread(self.celery.send_task, task_name, args=list(args), queue=self.queue)


async def _startup(app: FastAPI) -> None:
    settings: IdentitySettings = app.state.settings
    app.state.identity = build_service(settings, app.state.db, app.state.keys)
    if not hasattr(app.state, "enqueue"):
        app.state.enqueue = CeleryEnqueuer(settings)


async def _rate_limit_store(app: FastAPI) -> None:
    await app.state.identity.throttle.ping()


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or load_settings()
    settings.check_production()
    keys = load_keys(settings)
    app = build_service_app(
        settings,
        ServiceParts(
            routers=rest.routers,
            register_grpc=grpc_api.register,
            on_startup=[_startup],
            readiness_checks={"rate_limit_store": _rate_limit_store} if settings.redis_url else {},
            title="Vanity identity",
        ),
    )
    app.state.keys = keys
    # Identity verifies its own tokens with the keys it holds (no JWKS round trip to itself).
    app.state.token_verifier = TokenVerifier(StoreKeys(keys), issuer=settings.token_issuer)
    app.state.trusted_proxies = parse_networks(settings.trusted_proxies)
    return app
