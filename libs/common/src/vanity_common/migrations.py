"""Alembic per service: each service's `migrations/env.py` calls `run_env(metadata)`, and
`upgrade()` applies its revisions to SQLite or MySQL/MariaDB (creating the MySQL database)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(service_package: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", f"{service_package}:migrations")
    config.attributes["database_url"] = database_url
    return config


async def ensure_database(database_url: str) -> None:
    """Create the service's database if missing: MySQL/MariaDB `CREATE DATABASE`, SQLite the
    folder of its file (SQLite creates the file itself)."""
    url = make_url(database_url)
    if url.drivername.startswith("sqlite"):
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        return
    if not url.drivername.startswith("mysql") or not url.database:
        return
    server = create_async_engine(url._replace(database=None), poolclass=pool.NullPool)
    try:
        async with server.begin() as conn:
            await conn.execute(
                text(
                    f"CREATE DATABASE IF NOT EXISTS `{url.database}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            )
    finally:
        await server.dispose()


def upgrade(service_package: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service_package, database_url), revision)


def downgrade(service_package: str, database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(service_package, database_url), revision)


async def migrate(service_package: str, database_url: str) -> None:
    """Creates the database when needed and applies every revision (callable from async code)."""
    await ensure_database(database_url)
    await asyncio.to_thread(upgrade, service_package, database_url)


def _run_sync(connection: Connection, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str, metadata: MetaData) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync, metadata)
            await connection.commit()
    finally:
        await engine.dispose()


def run_env(metadata: MetaData) -> None:
    """Body of every service's migrations/env.py."""
    config = context.config
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, metadata))
