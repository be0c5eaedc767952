"""Identity's composition root (see vanity_common.bootstrap): the signing keys, password
hashing, the login throttle, the token issuer and the use cases with their e-mail outbox; tests
pass overrides (a clock, the keys, a database)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vanity_common.bootstrap import Clock, ReadinessCheck, ServiceContainer, utcnow
from vanity_common.db import Database
from vanity_common.mail import mailer_from_settings
from vanity_common.outbox import OutboxRelay

from vanity_identity.keys import KeyStore
from vanity_identity.passwords import Passwords
from vanity_identity.service import IdentityService
from vanity_identity.settings import IdentitySettings, load_settings
from vanity_identity.throttle import Network, Throttle, parse_networks
from vanity_identity.tokens import AccessTokenIssuer


@dataclass(kw_only=True, eq=False)
class IdentityContainer(ServiceContainer):
    settings: IdentitySettings
    keys: KeyStore
    identity: IdentityService
    # Proxies whose X-Forwarded-For is believed when telling clients apart (rate limits).
    trusted_proxies: list[Network] = field(default_factory=list)

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        checks = super().readiness_checks()
        if self.settings.redis_url:
            checks["rate_limit_store"] = self.identity.throttle.ping
        return checks

    def outbox_relays(self) -> list[OutboxRelay]:
        return [self.identity.outbox]  # the reset e-mail's way to the Celery worker


def load_keys(settings: IdentitySettings) -> KeyStore:
    """Development/test: the first key pair is generated. Production: refuses without keys."""
    keys = KeyStore(settings.keys_dir, reload_seconds=settings.keys_reload_seconds)
    keys.ensure(allow_generate=settings.allow_key_generation)
    return keys


def build_container(
    settings: IdentitySettings | None = None,
    *,
    keys: KeyStore | None = None,
    clock: Clock = utcnow,
    db: Database | None = None,
    pool_size: int | None = None,
) -> IdentityContainer:
    settings = settings or load_settings()
    core = IdentityContainer.core(settings, db=db, pool_size=pool_size)
    keys = keys or load_keys(settings)
    identity = IdentityService(
        db=core["db"],
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
        clock=clock,
    )
    return IdentityContainer(
        **core,
        clock=clock,
        keys=keys,
        identity=identity,
        trusted_proxies=parse_networks(settings.trusted_proxies),
    )
