"""Pytest plugin shared by every service's tests (enabled in the root conftest.py).

- `database_url`: a throwaway database per test, on SQLite always and on MariaDB whenever it is
  reachable (on CI an unreachable MariaDB fails the run instead of skipping it).
- `mariadb_url`: MariaDB only, for concurrency tests.
- `TokenMinter`: a development key pair in a temporary KEYS_DIR and access tokens in identity's
  format (docs/auth.md), for testing authorization in any service.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pymysql
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vanity_common.auth import jwk_thumbprint

__all__ = ["TokenMinter", "jwk_thumbprint", "mariadb_reachable", "require_mariadb"]

MARIADB_ENV = "VANITY_TEST_MARIADB_URL"
DEFAULT_MARIADB = "mysql+aiomysql://root@127.0.0.1:3306"


def _mariadb_server() -> str:
    return os.environ.get(MARIADB_ENV, DEFAULT_MARIADB).rstrip("/")


def _pymysql_connect():
    from sqlalchemy.engine import make_url

    url = make_url(_mariadb_server())
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        connect_timeout=2,
        autocommit=True,
    )


_mariadb_ok: bool | None = None


def mariadb_reachable() -> bool:
    global _mariadb_ok
    if _mariadb_ok is None:
        try:
            _pymysql_connect().close()
            _mariadb_ok = True
        except pymysql.Error:
            _mariadb_ok = False
    return _mariadb_ok


def require_mariadb() -> None:
    if not mariadb_reachable():
        if os.environ.get("CI"):
            pytest.fail("MariaDB is not reachable on CI; .ci/run should have started it")
        pytest.skip("MariaDB not reachable")


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    require_mariadb()
    name = f"vt_{uuid.uuid4().hex[:16]}"
    conn = _pymysql_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        yield f"{_mariadb_server()}/{name}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "mariadb"])
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("mariadb_url")


class TokenMinter:
    """Mints identity-format access tokens with a key pair written to `keys_dir`."""

    def __init__(self, keys_dir: Path, issuer: str = "vanity-identity") -> None:
        self.keys_dir = Path(keys_dir)
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        self.issuer = issuer
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = jwk_thumbprint(self.private_key.public_key())[:16]
        (self.keys_dir / f"{self.key_id}.public.pem").write_bytes(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def token(
        self,
        user_id: str = "user-1",
        roles: tuple[str, ...] = ("customer",),
        perms: tuple[str, ...] = (),
        ttl: int = 300,
        token_class: str | None = None,
        **extra,
    ) -> str:
        now = int(time.time())
        klass = token_class or ("admin" if "admin" in roles else "customer")
        claims = {
            "iss": self.issuer,
            "sub": user_id,
            "roles": list(roles),
            "perms": list(perms),
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "sid": uuid.uuid4().hex,
            **extra,
        }
        return jwt.encode(
            claims, self.private_key, algorithm="ES256", headers={"kid": f"{klass}.{self.key_id}"}
        )

    def admin(
        self,
        user_id: str = "admin-1",
        perms=("catalog", "inventory", "orders", "users", "payments"),
        **kw,
    ) -> str:
        return self.token(user_id, roles=("admin",), perms=tuple(perms), **kw)

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token_minter(tmp_path: Path) -> TokenMinter:
    return TokenMinter(tmp_path / "keys")


class TcpProxy:
    """A loopback TCP forwarder that a test can cut and restore, to inject a dependency outage
    (database, gRPC peer) into a running service without touching the real server."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self._server = None
        self._writers: set = set()

    async def start(self) -> TcpProxy:
        import asyncio

        async def pipe(reader, writer) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        async def handle(client_reader, client_writer) -> None:
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                client_writer.close()
                return
            self._writers.update({client_writer, up_writer})
            await asyncio.gather(pipe(client_reader, up_writer), pipe(up_reader, client_writer))
            self._writers.difference_update({client_writer, up_writer})

        self._server = await asyncio.start_server(handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()
