"""Run by test_crash_recovery.py as a separate process: charges once with the mock provider on
the given database, and reports APPLIED once the provider has applied the charge, before the
answer is stored locally. The test then SIGKILLs this process: a real crash at that point."""

from __future__ import annotations

import asyncio
import sys

from vanity_payments.bootstrap import build_container
from vanity_payments.service import ChargeCommand
from vanity_payments.settings import PaymentsSettings


async def main(database_url: str, data_dir: str) -> None:
    settings = PaymentsSettings(
        env="test", database_url=database_url, data_dir=data_dir, log_level="ERROR"
    )
    container = build_container(settings, run_relay=False)
    provider = container.provider
    create = provider.create_intent

    async def applied_then_hang(request, *, idempotency_key):
        snapshot = await create(request, idempotency_key=idempotency_key)
        print("APPLIED", snapshot.id, flush=True)
        await asyncio.Event().wait()  # killed here
        return snapshot

    provider.create_intent = applied_then_hang
    await container.payments.charge(
        ChargeCommand("order:crash:charge", "order-crash", "user-1", 5_000, "EUR", "pm_card_visa")
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
