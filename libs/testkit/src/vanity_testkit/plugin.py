"""The pytest plugin of every Vanity test folder (enabled by the root conftest.py).

- `database_url`: a throwaway database per test, on SQLite always and on MariaDB whenever it is
  reachable (on CI an unreachable MariaDB fails the run instead of skipping it).
- `mariadb_url`: MariaDB only, for concurrency tests. `sqlite_url`: SQLite only.
- `token_minter`: a development key pair in a temporary KEYS_DIR (`vanity_testkit.TokenMinter`).
- `clock`: a `vanity_testkit.FakeClock` at `T0`, for use cases that take a clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vanity_testkit.clock import FakeClock
from vanity_testkit.mariadb import require_mariadb, scratch_databases
from vanity_testkit.tokens import TokenMinter


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    require_mariadb()
    with scratch_databases(["test"]) as urls:
        yield urls["test"]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "mariadb"])
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("mariadb_url")


@pytest.fixture
def token_minter(tmp_path: Path) -> TokenMinter:
    return TokenMinter(tmp_path / "keys")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
