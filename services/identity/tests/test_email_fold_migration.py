"""Migration 0003 folds the e-mail addresses stored before NFKC + casefold (issue 16, finding 8):
a fullwidth address becomes the plain one; of two accounts folding to one address, the one
already holding it keeps it and the other is left as stored."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from vanity_common.migrations import ensure_database, upgrade

NOW = "2026-01-01 00:00:00"


async def _users(url: str, statement: str, rows: list[dict] | None = None):
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sa.text(statement), rows or [{}])
            return result.fetchall() if result.returns_rows else None
    finally:
        await engine.dispose()


async def test_stored_addresses_are_folded(database_url):
    await ensure_database(database_url)
    await asyncio.to_thread(upgrade, "vanity_identity", database_url, "0002")
    insert = (
        "INSERT INTO users (id, email, name, password_hash, roles, permissions, "
        "password_changed_at, created_at, updated_at) VALUES "
        "(:id, :email, 'X', 'h', ',customer,', '', :created, :created, :created)"
    )
    rows = [
        # fullwidth, nobody else: folded
        {"id": "u1", "email": "\uff42\uff41\uff52\uff53@example.com", "created": NOW},
        {"id": "u4", "email": "plain@example.com", "created": NOW},
    ]
    expected = {"u1": "bars@example.com", "u4": "plain@example.com"}
    if database_url.startswith("sqlite"):
        # SQLite compares bytes, so look-alikes could be stored side by side (MariaDB's
        # collation already treats them as one address): an older look-alike of an address
        # another account holds exactly stays as stored.
        rows += [
            {"id": "u2", "email": "\uff43\uff41\uff54@example.com", "created": "2025-01-01"},
            {"id": "u3", "email": "cat@example.com", "created": NOW},
        ]
        expected |= {"u2": "\uff43\uff41\uff54@example.com", "u3": "cat@example.com"}
    await _users(database_url, insert, rows)
    await asyncio.to_thread(upgrade, "vanity_identity", database_url, "head")
    assert dict(await _users(database_url, "SELECT id, email FROM users")) == expected
