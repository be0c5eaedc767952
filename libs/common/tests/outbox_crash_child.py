"""Child process of test_outbox's crash test: commits an order with its outbox row, starts
relaying it, and announces on stdout where it stands; the parent SIGKILLs it there.

usage: python outbox_crash_child.py <database_url> <order_id> before_consume|after_consume
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from outbox_harness import TOPIC, IdempotentConsumer, place_order
from vanity_common.db import Database
from vanity_common.outbox import OutboxRelay


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(url: str, order_id: str, kill_point: str) -> None:
    db = Database(url, pool_size=2)
    consumer = IdempotentConsumer(db)

    async def handler(message) -> None:
        if kill_point == "after_consume":
            await consumer(message)  # the effect and its dedupe record are committed
        say(f"{kill_point} {message.id}")
        await asyncio.Event().wait()  # never settles: the parent kills us here

    message_id = await place_order(db, order_id)
    say(f"committed {message_id}")
    relay = OutboxRelay(
        db,
        {TOPIC: handler},
        service="crash-child",
        handler_timeout_s=3600,
        lease_s=36000,
        batch_size=1,
        concurrency=1,
    )
    await relay.deliver([message_id])


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
