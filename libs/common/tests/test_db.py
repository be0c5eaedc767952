"""The database chassis on a real MariaDB: what its driver reports reaches the logs, minus the
notes every migration produces."""

from __future__ import annotations

import logging

from sqlalchemy import text
from vanity_common.db import Database


async def test_server_warnings_are_logged_but_expected_notes_are_not(mariadb_url, caplog):
    db = Database(mariadb_url)
    try:
        with caplog.at_level(logging.WARNING, logger="asyncmy"):
            async with db.connect() as conn:
                await conn.execute(
                    text("CREATE TEMPORARY TABLE t (id INT, CONSTRAINT pk_t PRIMARY KEY (id))")
                )
                await conn.execute(text("SELECT CAST('12abc' AS SIGNED)"))  # a truncation warning
    finally:
        await db.engine.dispose()
    messages = [r.getMessage() for r in caplog.records if r.name == "asyncmy"]
    assert not [m for m in messages if "PRIMARY" in m], messages
    assert any("Truncated" in m for m in messages), messages
