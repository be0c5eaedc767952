"""Async SQLAlchemy engine and transactions for SQLite (default) and MySQL/MariaDB.

SQLite: WAL, a busy timeout, foreign keys, and `BEGIN IMMEDIATE` for write transactions, which
serialises writers instead of failing them half-way. MySQL/MariaDB: READ COMMITTED, pre-ping,
recycled connections. Writes go through the unit of work (`db.write`, `vanity_common.uow`),
which re-runs a transaction on deadlock or lock-wait timeout; reads use `db.connect()`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import BigInteger, Column, DateTime, Integer, TypeDecorator, event, text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.ext.asyncio import async_sessionmaker as _sessionmaker

if TYPE_CHECKING:
    from vanity_common.uow import UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")


class _ExpectedServerNotes(logging.Filter):
    """asyncmy logs every warning and note the server returns. Two are expected, not news:
    MariaDB ignores the name of a PRIMARY KEY (the naming convention names every key), and a
    migration's CREATE DATABASE IF NOT EXISTS finds the database there."""

    EXPECTED = ("ignored for PRIMARY key", "database exists")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in self.EXPECTED)


logging.getLogger("asyncmy").addFilter(_ExpectedServerNotes())

# MySQL error codes worth retrying: deadlock found, lock wait timeout.
_MYSQL_RETRYABLE = {1213, 1205}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _install_sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's "begin" event, not pysqlite, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 15})
        _install_sqlite_pragmas(engine)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        isolation_level="READ COMMITTED",
    )


def is_retryable_db_error(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    orig = getattr(exc, "orig", None)
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_RETRYABLE:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(orig)


# MySQL client errors for a server that cannot be reached or went away mid-request.
_MYSQL_UNREACHABLE = {2002, 2003, 2006, 2013, 2055}


def is_database_unavailable(exc: BaseException) -> bool:
    """The database could not be reached (refused, dropped, pool exhausted) or kept deadlocking:
    a transient outage the client should retry, not a bug."""
    if isinstance(exc, SATimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or is_retryable_db_error(exc):
        return True
    args = getattr(getattr(exc, "orig", None), "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_UNREACHABLE:
        return True
    return isinstance(getattr(exc, "orig", None), ConnectionError | OSError)


class Database:
    """One service's database: an engine, read connections, the unit of work for writes and a
    readiness probe."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size, echo=echo)
        self._writer_engine = self.engine.execution_options(sqlite_immediate=True)
        self._writer_sessions = _sessionmaker(self._writer_engine, expire_on_commit=False)
        self._publish_listeners: list[Callable[[], None]] = []

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Deprecated: an ORM-session write transaction without deadlock retry or outbox.
        Use `write(work)` / `unit_of_work()`. Kept only for call sites outside the services
        converted so far (checkout's tests); remove it once they have moved."""
        async with self._writer_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def connect(self, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """A Core connection in a transaction: reads (`write=False`), or the connection under a
        unit of work (`write=True`, `BEGIN IMMEDIATE` on SQLite). Services write through
        `write`/`unit_of_work`, which add deadlock retry and the outbox."""
        engine = self._writer_engine if write else self.engine
        async with engine.begin() as conn:
            yield conn

    # ---- the unit of work (vanity_common.uow): how services write

    async def write(
        self,
        work: Callable[[UnitOfWork], Awaitable[T]],
        *,
        attempts: int = 8,
        on_retry: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> T:
        """Runs `work(uow)` in a fresh write transaction (Core connection, outbox `publish`),
        re-running all of it on deadlock or lock-wait timeout. See `vanity_common.uow`."""
        from vanity_common.uow import run_in_unit_of_work

        return await run_in_unit_of_work(self, work, attempts=attempts, on_retry=on_retry, **kwargs)

    def unit_of_work(self, **kwargs: Any):
        """`async with db.unit_of_work() as uow:` one attempt of `write`, without the retry."""
        from vanity_common.uow import unit_of_work

        return unit_of_work(self, **kwargs)

    def add_publish_listener(self, listener: Callable[[], None]) -> None:
        """`listener()` runs after every commit that published outbox rows (a relay's nudge)."""
        self._publish_listeners.append(listener)

    def remove_publish_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._publish_listeners:
            self._publish_listeners.remove(listener)

    def notify_published(self) -> None:
        for listener in list(self._publish_listeners):
            listener()

    async def ping(self) -> None:
        """Readiness: one round trip to the database (callers bound it with a timeout)."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def new_metadata():
    """A MetaData with stable constraint names, so migrations are reproducible on every dialect.

    It carries the chassis' messaging tables (`outbox`, `processed_messages`) too: every service
    has them, created by its migration with `vanity_common.outbox.create_messaging_tables()`."""
    from sqlalchemy import MetaData

    from vanity_common.outbox import add_messaging_tables

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    add_messaging_tables(metadata)
    return metadata


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in Python; naive UTC in the database, with microseconds on MySQL.

    MySQL DATETIME has no zone and defaults to whole seconds; SQLite stores text. Storing naive
    UTC everywhere keeps comparisons (`expires_at <= :now`) and keyset cursors exact and
    identical on both. A naive datetime is refused: its zone would be a guess.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite through a raw text() query
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ---- column helpers for services' tables.py (the same column, declared once)


def autoincrement_id() -> Column:
    """`id`: a 64-bit auto-increment primary key (ledgers, logs, lines). SQLite auto-increments
    only an INTEGER PRIMARY KEY, hence the variant."""
    return Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


def timestamp_columns() -> tuple[Column, Column]:
    """`created_at` and `updated_at` (UTC, required): `*timestamp_columns()` in a Table."""
    return (
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )
