"""Every service's migrations apply, roll back and re-apply on SQLite and MariaDB, and leave a
schema identical to its table definitions (no model change without a migration)."""

import asyncio
import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine
from vanity_common.migrations import downgrade, migrate

SERVICES = ["identity", "catalog", "inventory", "cart", "checkout", "payments"]


async def schema_drift(package: str, url: str) -> list:
    metadata = importlib.import_module(f"{package}.tables").metadata
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn):
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return compare_metadata(context, metadata)

            return await conn.run_sync(diff)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_round_trip_without_drift(service, database_url):
    package = f"vanity_{service}"
    await migrate(package, database_url)
    assert await schema_drift(package, database_url) == []
    await asyncio.to_thread(downgrade, package, database_url)
    await migrate(package, database_url)
    assert await schema_drift(package, database_url) == []
