"""Celery worker and beat for cart: `celery -A vanity_cart.worker worker -B -Q cart`."""

from __future__ import annotations

from celery import Celery
from vanity_common.tasks import make_celery

from vanity_cart.settings import CartSettings, load_settings


def beat_schedule(settings: CartSettings) -> dict[str, dict]:
    return {
        "cart-expire-guest-carts": {
            "task": "cart.expire_guest_carts",
            "schedule": settings.guest_expiry_interval_s,
        },
        "cart-purge-idempotency-keys": {"task": "cart.purge_idempotency_keys", "schedule": 3600.0},
    }


def build_celery(settings: CartSettings) -> Celery:
    return make_celery(
        settings, include=["vanity_cart.tasks"], beat_schedule=beat_schedule(settings)
    )


settings = load_settings()
BEAT_SCHEDULE = beat_schedule(settings)
celery_app = build_celery(settings)
