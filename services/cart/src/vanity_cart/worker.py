"""Celery worker and beat for cart: `celery -A vanity_cart.worker worker -B -Q cart`."""

from __future__ import annotations

from vanity_common.tasks import make_celery, run_every

from vanity_cart.settings import CartSettings, load_settings


def beat_schedule(settings: CartSettings) -> dict[str, dict]:
    return run_every(
        {
            "cart.expire_guest_carts": settings.guest_expiry_interval_s,
            "cart.purge_idempotency_keys": 3600.0,
        }
    )


settings = load_settings()
BEAT_SCHEDULE = beat_schedule(settings)
celery_app = make_celery(settings, include=["vanity_cart.tasks"], beat_schedule=BEAT_SCHEDULE)
