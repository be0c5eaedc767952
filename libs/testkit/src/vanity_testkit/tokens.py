"""Access tokens in identity's format (docs/auth.md), signed by a temporary key pair whose public
half sits in a KEYS_DIR the service under test reads: authorization tests in any service."""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from vanity_common.auth import jwk_thumbprint

# What identity grants an admin (docs/auth.md).
ADMIN_PERMS = ("catalog", "inventory", "orders", "users", "payments")


def access_claims(
    *, sub: str, roles, perms, ttl: int, now: int | None = None, issuer: str = "vanity-identity"
) -> dict[str, Any]:
    """The claims identity puts in an access token (docs/auth.md)."""
    now = int(time.time()) if now is None else now
    return {
        "iss": issuer,
        "sub": sub,
        "roles": list(roles),
        "perms": list(perms),
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "sid": uuid.uuid4().hex,
    }


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
        klass = token_class or ("admin" if "admin" in roles else "customer")
        claims = access_claims(sub=user_id, roles=roles, perms=perms, ttl=ttl, issuer=self.issuer)
        return jwt.encode(
            {**claims, **extra},
            self.private_key,
            algorithm="ES256",
            headers={"kid": f"{klass}.{self.key_id}"},
        )

    def admin(
        self,
        user_id: str = "admin-1",
        perms=ADMIN_PERMS,
        **kw,
    ) -> str:
        return self.token(user_id, roles=("admin",), perms=tuple(perms), **kw)

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


# ---- identity's key layout (KEYS_DIR: <kid>.private.pem / .public.pem / active), for the gateway
# stand-in's tests and the e2e suite, which read the keys identity's `make gateway-config` reads.


def b64url(data: bytes) -> str:
    """Unpadded base64url, for tests that hand-craft a malformed token."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate_key(keys_dir: str | Path, activate: bool = True) -> str:
    """Creates `<key-id>.private.pem` / `.public.pem` (key id = 16 characters of the RFC 7638
    thumbprint) and makes it the active key."""
    keys_dir = Path(keys_dir)
    keys_dir.mkdir(parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    key_id = jwk_thumbprint(private.public_key())[:16]
    (keys_dir / f"{key_id}.private.pem").write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (keys_dir / f"{key_id}.public.pem").write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    if activate:
        (keys_dir / "active").write_text(key_id + "\n")
    return key_id


def load_private_key(keys_dir: str | Path, key_id: str | None = None):
    keys_dir = Path(keys_dir)
    key_id = key_id or (keys_dir / "active").read_text().strip()
    pem = (keys_dir / f"{key_id}.private.pem").read_bytes()
    return key_id, serialization.load_pem_private_key(pem, password=None)


def mint_token(
    keys_dir: str | Path,
    *,
    sub: str = "1",
    admin: bool = False,
    key_id: str | None = None,
    ttl: int = 900,
    now: int | None = None,
    header: dict[str, Any] | None = None,
    **extra_claims: Any,
) -> str:
    """An access token shaped like identity's (docs/auth.md), signed ES256 with a key from
    keys_dir. `header` overrides header fields; a None value removes one (e.g. no `kid`)."""
    key_id, private = load_private_key(keys_dir, key_id)
    claims = {
        **access_claims(
            sub=sub,
            roles=["admin"] if admin else ["customer"],
            perms=ADMIN_PERMS if admin else [],
            ttl=ttl,
            now=now,
        ),
        "email": f"user{sub}@example.test",
        **extra_claims,
    }
    headers = {"kid": f"{'admin' if admin else 'customer'}.{key_id}", **(header or {})}
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None},
        private,
        algorithm="ES256",
        headers={k: v for k, v in headers.items() if v is not None},
    )
