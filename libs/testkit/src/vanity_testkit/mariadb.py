"""Throwaway MariaDB databases for tests and benchmarks.

The server is `VANITY_TEST_MARIADB_URL` (default root@127.0.0.1:3306, no password). On CI
(`CI` set) an unreachable server fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pymysql
import pytest
from sqlalchemy.engine import make_url

MARIADB_ENV = "VANITY_TEST_MARIADB_URL"
DEFAULT_MARIADB = "mysql+asyncmy://root@127.0.0.1:3306"


def mariadb_server() -> str:
    """The server's SQLAlchemy URL without a database (append `/<name>`)."""
    return os.environ.get(MARIADB_ENV, DEFAULT_MARIADB).rstrip("/")


def admin_connection(server: str | None = None) -> pymysql.Connection:
    """An autocommit connection to the server, for CREATE/DROP DATABASE."""
    url = make_url(server or mariadb_server())
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        connect_timeout=2,
        autocommit=True,
    )


_reachable: bool | None = None


def mariadb_reachable() -> bool:
    global _reachable
    if _reachable is None:
        try:
            admin_connection().close()
            _reachable = True
        except pymysql.Error:
            _reachable = False
    return _reachable


def require_mariadb() -> None:
    """Skips the calling test when MariaDB is unreachable (fails it on CI)."""
    if not mariadb_reachable():
        if os.environ.get("CI"):
            pytest.fail("MariaDB is not reachable on CI; .ci/run should have started it")
        pytest.skip("MariaDB not reachable")


@contextmanager
def scratch_databases(
    names: Iterable[str], *, prefix: str = "vt", server: str | None = None
) -> Iterator[dict[str, str]]:
    """One new, empty database per name (`{name: url}`), dropped on exit whatever happened."""
    server = (server or mariadb_server()).rstrip("/")
    created = {n: f"{prefix}_{n[:4]}_{uuid.uuid4().hex[:12]}" for n in names}
    conn = admin_connection(server)
    try:
        with conn.cursor() as cur:
            for database in created.values():
                cur.execute(
                    f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
        yield {n: f"{server}/{database}" for n, database in created.items()}
    finally:
        with conn.cursor() as cur:
            for database in created.values():
                cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        conn.close()
