"""`python -m vanity_inventory [serve|migrate|seed|audit|expire]`."""

from __future__ import annotations

import asyncio
import json

from vanity_common.cli import service_main

from vanity_inventory.app import create_app
from vanity_inventory.bootstrap import build_container
from vanity_inventory.seed import seed
from vanity_inventory.settings import InventorySettings, load_settings


def _with_service(settings: InventorySettings, use):
    async def run():
        async with build_container(settings, pool_size=2) as services:
            return await use(services.inventory)

    return asyncio.run(run())


def audit(settings: InventorySettings, _args: list[str]) -> int:
    """Recomputes balances from the ledger; exit status 1 when anything drifts."""
    report = _with_service(settings, lambda s: s.audit())
    print(
        json.dumps(
            {"skus_checked": report.skus_checked, "drift": [d.__dict__ for d in report.drift]}
        )
    )
    return 1 if report.drift else 0


def expire(settings: InventorySettings, _args: list[str]) -> int:
    count = _with_service(settings, lambda s: s.expire_due(settings.expiry_batch))
    print(json.dumps({"expired": count}))
    return 0


main = service_main(
    load_settings,
    create_app,
    "vanity_inventory",
    seed=seed,
    extra_commands={"audit": audit, "expire": expire},
)

if __name__ == "__main__":
    main()
