"""Pytest plugin shared by every service's tests (enabled in the root conftest.py).

- `database_url`: a throwaway database per test, on SQLite always and on MariaDB whenever it is
  reachable (on CI an unreachable MariaDB fails the run instead of skipping it).
- `mariadb_url`: MariaDB only, for concurrency tests.
- `TokenMinter`: a development key pair in a temporary KEYS_DIR and access tokens in identity's
  format (docs/auth.md), for testing authorization in any service.
"""

from __future__ import annotations

import base64
import hashlib
import json
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


def jwk_thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 thumbprint of an EC P-256 key, base64url without padding."""
    numbers = public_key.public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()

    canonical = json.dumps(
        {"crv": "P-256", "kty": "EC", "x": b64(numbers.x), "y": b64(numbers.y)},
        separators=(",", ":"),
        sort_keys=True,
    )
    return (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    )


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
