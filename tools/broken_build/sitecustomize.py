"""A deliberately broken build, for `make load BROKEN=1` only: on this folder's PYTHONPATH the
checkout process skips the stock steps of the saga (no reservation, no commit), so orders are
confirmed and paid for stock nobody took. The post-run audit must catch it
(`units_sold_equal_committed`); nothing outside a load run ever puts this file on the path.

Python imports `sitecustomize` at start-up; only the checkout service's processes are patched.
"""

from __future__ import annotations

from pathlib import Path


def _is_checkout_process() -> bool:
    try:
        words = Path("/proc/self/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"vanity_checkout" in words or any(b"vanity_checkout.worker" in w for w in words)


if _is_checkout_process():
    from datetime import timedelta

    from vanity_checkout import saga as _saga

    async def _pretend_reserved(self, run):
        """What a reservation would answer, without asking inventory."""
        ttl = timedelta(seconds=self.settings.reservation_ttl_seconds)
        return _saga._done(reservation_expires_at=self.clock() + ttl)

    async def _pretend_committed(self, run):
        return _saga._done()

    _saga.CheckoutSaga._RUNNERS[_saga.SagaStep.RESERVE_STOCK] = _pretend_reserved
    _saga.CheckoutSaga._RUNNERS[_saga.SagaStep.COMMIT_STOCK] = _pretend_committed
