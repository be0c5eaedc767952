"""A real checkout process for the SIGKILL crash tests (`test_saga_sigkill.py`).

It runs the saga against the real inventory and payments services over gRPC (cart, catalog
and identity are in-process fakes: their state is not what the tests check) and, at a named
boundary, kills itself with SIGKILL: no exception, no `finally`, no clean-up, exactly as the
kernel would end it.

usage: python saga_crash_child.py '<json config>'

config: checkout_url, inventory_target, payments_target, data_dir, mode ("place" or
"recover"), crash_at, user, key, method, lines, prices.

crash_at:
  "before:<port>.<method>"  dies just before the remote call (inventory.commit, ...)
  "after:<port>.<method>"   dies right after the remote call answered, before checkout's commit
  "commit:<n>"              dies right after checkout's n-th unit of work committed
  ""                        no crash

"place" prints `placed <status>` if it survives; "recover" runs the recovery sweep with a clock
past every lease and backoff until no saga is active, then prints `recovered <n>`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).parent))

from saga_fakes import FakeCart, FakeCatalog, FakeClock, FakeIdentity
from sqlalchemy import select
from vanity_checkout.domain import ShippingAddress
from vanity_checkout.ports import CheckoutPorts
from vanity_checkout.saga import CheckoutSaga, PlaceOrder, SagaSettings
from vanity_checkout.settings import CheckoutSettings
from vanity_checkout.tables import sagas
from vanity_common.db import Database
from vanity_common.grpc_client import ChannelPool

ADDRESS = ShippingAddress("Ada Lovelace", "1 Main St", "Paris", "75001", "FR")


def die(where: str) -> None:
    sys.stdout.write(f"killing at {where}\n")
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class KillingPort:
    """The real port, with a SIGKILL before or after one named method."""

    def __init__(self, name: str, port, crash_at: str) -> None:
        self._name, self._port, self._crash_at = name, port, crash_at

    def __getattr__(self, method: str):
        real = getattr(self._port, method)
        label = f"{self._name}.{method}"

        async def call(*args, **kwargs):
            if self._crash_at == f"before:{label}":
                die(self._crash_at)
            result = await real(*args, **kwargs)
            if self._crash_at == f"after:{label}":
                die(self._crash_at)
            return result

        return call


def kill_after_commit(db: Database, n: int) -> None:
    real = db.write
    count = 0

    async def write(work, **kwargs):
        nonlocal count
        result = await real(work, **kwargs)
        count += 1
        if count == n:
            die(f"commit:{n}")
        return result

    db.write = write  # type: ignore[method-assign]


async def main(config: dict) -> None:
    settings = CheckoutSettings(
        database_url=config["checkout_url"],
        inventory_grpc_target=config["inventory_target"],
        payments_grpc_target=config["payments_target"],
        data_dir=config["data_dir"],
    )
    crash_at = config.get("crash_at", "") if config["mode"] == "place" else ""
    channels = ChannelPool.from_settings(settings)
    real = CheckoutPorts.over_grpc(channels, settings)
    cart = FakeCart()
    cart.put(config["user"], config["lines"])
    ports = SimpleNamespace(
        inventory=KillingPort("inventory", real.inventory, crash_at),
        payments=KillingPort("payments", real.payments, crash_at),
        catalog=FakeCatalog(config["prices"]),
        identity=FakeIdentity(),
        cart=cart,
    )
    db = Database(settings.database_url, pool_size=2)
    if crash_at.startswith("commit:"):
        kill_after_commit(db, int(crash_at.split(":")[1]))
    # Recovery acts as a later process would: every lease and backoff of the dead run is over.
    clock = FakeClock(datetime.now(UTC))
    saga = CheckoutSaga(
        db,
        ports,
        clock=clock,
        settings=SagaSettings(lease_seconds=30, retry_base_seconds=1, retry_max_seconds=60),
        worker_id=f"child-{config['mode']}",
    )
    try:
        if config["mode"] == "place":
            order = await saga.place_order(
                PlaceOrder(
                    user_id=config["user"],
                    idempotency_key=config["key"],
                    payment_method=config["method"],
                    shipping_address=ADDRESS,
                )
            )
            print(f"placed {order.status.value}", flush=True)
        else:
            claimed = 0
            for _ in range(30):
                clock.now = datetime.now(UTC) + timedelta(seconds=120)
                claimed += await saga.recover_expired_leases()
                async with db.connect() as conn:
                    active = (
                        await conn.execute(
                            select(sagas.c.order_id).where(
                                sagas.c.state.in_(["running", "waiting", "compensating"])
                            )
                        )
                    ).all()
                if not active:
                    break
                await asyncio.sleep(0.2)  # a retry whose backoff is 1 s on checkout's clock
                clock.now += timedelta(seconds=120)
            print(f"recovered {claimed}", flush=True)
    finally:
        await channels.close()
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
