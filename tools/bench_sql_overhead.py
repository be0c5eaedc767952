"""What SQLAlchemy Core costs per statement on MariaDB, against the same statements sent with
the driver alone (asyncmy): client CPU per operation, one connection, no concurrency.

    .venv/bin/python -m tools.bench_sql_overhead [--ops 5000]

Three shapes, each as the saga's step commit uses them: a primary-key SELECT, a fenced UPDATE
(`WHERE id = ? AND version = ?`), and a whole short transaction (SELECT ... FOR UPDATE, UPDATE,
INSERT, COMMIT). Each through a prebuilt SQLAlchemy statement with bind parameters (what the
services do), through `exec_driver_sql` (SQLAlchemy's connection, no compilation), and through
an asyncmy cursor. The difference per statement, times the statements per saga, is what dropping
SQLAlchemy on the hot paths would save (docs/checkout.md).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

metadata = sa.MetaData()
rows = sa.Table(
    "bench_rows",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
)
log = sa.Table(
    "bench_log",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("row_id", sa.String(36), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
)
KEYS = [f"row-{n:05d}" for n in range(200)]

SELECT = sa.select(rows).where(rows.c.id == sa.bindparam("key_id"))
SELECT_LOCKED = SELECT.with_for_update()
UPDATE = (
    sa.update(rows)
    .where(rows.c.id == sa.bindparam("key_id"), rows.c.version == sa.bindparam("key_version"))
    .values(state=sa.bindparam("state"), version=rows.c.version + 1)
)
INSERT_LOG = sa.insert(log)
RAW_SELECT = "SELECT id, state, version, updated_at FROM bench_rows WHERE id = %s"
RAW_UPDATE = (
    "UPDATE bench_rows SET state = %s, version = version + 1 WHERE id = %s AND version = %s"
)
RAW_INSERT = "INSERT INTO bench_log (row_id, event) VALUES (%s, %s)"


async def _timed(ops: int, operation) -> float:
    """Client CPU microseconds per operation (after a warm-up)."""
    for n in range(min(ops, 200)):
        await operation(n)
    started = time.process_time()
    for n in range(ops):
        await operation(n)
    return (time.process_time() - started) * 1e6 / ops


async def main(ops: int) -> None:
    from vanity_testkit import scratch_databases

    with scratch_databases(["sqlbench"], prefix="vb") as urls:
        engine = create_async_engine(urls["sqlbench"], isolation_level="READ COMMITTED")
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(
                sa.insert(rows), [{"id": k, "state": "a", "version": 0} for k in KEYS]
            )
        results: dict[str, dict[str, float]] = {}
        async with engine.connect() as conn:
            await conn.commit()
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.autocommit(True)

            async def sa_select(n):
                (await conn.execute(SELECT, {"key_id": KEYS[n % 200]})).first()

            async def driver_sql_select(n):
                (await conn.exec_driver_sql(RAW_SELECT, (KEYS[n % 200],))).first()

            async def raw_select(n):
                async with raw.cursor() as cursor:
                    await cursor.execute(RAW_SELECT, (KEYS[n % 200],))
                    await cursor.fetchone()

            async def sa_update(n):
                await conn.execute(
                    UPDATE, {"key_id": KEYS[n % 200], "key_version": -1, "state": "b"}
                )

            async def driver_sql_update(n):
                await conn.exec_driver_sql(RAW_UPDATE, ("b", KEYS[n % 200], -1))

            async def raw_update(n):
                async with raw.cursor() as cursor:
                    await cursor.execute(RAW_UPDATE, ("b", KEYS[n % 200], -1))

            results["primary-key SELECT"] = {
                "SQLAlchemy Core": await _timed(ops, sa_select),
                "exec_driver_sql": await _timed(ops, driver_sql_select),
                "asyncmy": await _timed(ops, raw_select),
            }
            results["fenced UPDATE (no row)"] = {
                "SQLAlchemy Core": await _timed(ops, sa_update),
                "exec_driver_sql": await _timed(ops, driver_sql_update),
                "asyncmy": await _timed(ops, raw_update),
            }
            await conn.rollback()

        async def sa_transaction(n):
            key = KEYS[n % 200]
            async with engine.begin() as tx:
                row = (await tx.execute(SELECT_LOCKED, {"key_id": key})).first()
                await tx.execute(UPDATE, {"key_id": key, "key_version": row.version, "state": "c"})
                await tx.execute(INSERT_LOG, {"row_id": key, "event": "moved"})

        async with engine.connect() as holder:  # a pooled connection, driven by asyncmy alone
            direct = (await holder.get_raw_connection()).driver_connection

            async def raw_transaction(n):
                key = KEYS[n % 200]
                await direct.begin()
                async with direct.cursor() as cursor:
                    await cursor.execute(RAW_SELECT + " FOR UPDATE", (key,))
                    row = await cursor.fetchone()
                    await cursor.execute(RAW_UPDATE, ("c", key, row[2]))
                    await cursor.execute(RAW_INSERT, (key, "moved"))
                await direct.commit()

            results["transaction (3 statements + COMMIT)"] = {
                "SQLAlchemy Core": await _timed(ops, sa_transaction),
                "asyncmy": await _timed(ops, raw_transaction),
            }
        await engine.dispose()

    print(f"client CPU per operation, µs ({ops} operations each, one connection)")
    for shape, by_way in results.items():
        parts = ", ".join(f"{way} {us:.0f}" for way, us in by_way.items())
        print(f"  {shape:38} {parts}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=5000)
    asyncio.run(main(parser.parse_args().ops))
