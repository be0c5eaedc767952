"""`make migration SERVICE=x MSG=...`: autogenerate an Alembic revision for one service against a
throwaway SQLite database brought to head first, so only the new changes are in it."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from vanity_common.migrations import alembic_config, migrate


def main(service: str, message: str) -> None:
    package = f"vanity_{service}"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'head.db'}"
        asyncio.run(migrate(package, url))
        config = alembic_config(package, url)
        heads = ScriptDirectory.from_config(config).get_heads()
        next_id = f"{int(heads[0]) + 1:04d}" if heads and heads[0].isdigit() else None
        command.revision(config, message=message, autogenerate=True, rev_id=next_id)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
