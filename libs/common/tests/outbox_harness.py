"""Shared by the outbox tests and the crash child process: the chassis tables plus a consumer
whose effect (an `effects` row) and dedupe record commit together."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, func, insert, select
from vanity_common.db import Database, new_metadata
from vanity_common.outbox import OutboxMessage

metadata = new_metadata()
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False),  # deliberately not unique
    Column("note", String(200), nullable=False),
)
orders = Table("orders", metadata, Column("id", String(64), primary_key=True))

TOPIC = "test.order_placed"
CONSUMER = "test-consumer"


async def create_tables(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


class IdempotentConsumer:
    """Applies a message's effect once per message id, in one transaction with its dedupe."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.calls = 0

    async def __call__(self, message: OutboxMessage) -> None:
        self.calls += 1

        async def work(uow) -> None:
            if await uow.mark_processed(CONSUMER, message.id):
                await uow.conn.execute(
                    insert(effects).values(message_id=message.id, note=message.payload["order"])
                )

        await self.db.write(work)


async def place_order(db: Database, order_id: str) -> str:
    async def work(uow) -> str:
        await uow.conn.execute(insert(orders).values(id=order_id))
        return await uow.publish(TOPIC, {"order": order_id})

    return await db.write(work)


async def effect_counts(db: Database) -> dict[str, int]:
    async with db.connect() as conn:
        rows = await conn.execute(
            select(effects.c.message_id, func.count()).group_by(effects.c.message_id)
        )
        return {message_id: int(n) for message_id, n in rows}
