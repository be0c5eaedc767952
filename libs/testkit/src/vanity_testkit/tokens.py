"""Access tokens in identity's format (docs/auth.md), signed by a temporary key pair whose public
half sits in a KEYS_DIR the service under test reads: authorization tests in any service."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from vanity_common.auth import jwk_thumbprint


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
