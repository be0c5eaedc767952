"""Access tokens (ES256 JWTs, docs/auth.md) and opaque refresh/reset tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import jwt
from vanity_common.auth import ALGORITHM

from vanity_identity.domain import token_class
from vanity_identity.keys import KeyStore


def new_opaque_token() -> str:
    """32 random bytes, base64url: a refresh or password-reset token."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the database keeps of an opaque token (SHA-256 hex): a leak of the table gives no
    usable token, and a high-entropy token needs no slow hash."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    expires_at: int
    token_id: str


class AccessTokenIssuer:
    def __init__(self, keys: KeyStore, issuer: str, ttl_seconds: int) -> None:
        if not 0 < ttl_seconds <= 900:
            raise ValueError("access token lifetime must be within 1..900 s (docs/auth.md)")
        self.keys = keys
        self.issuer = issuer
        self.ttl_seconds = ttl_seconds

    def issue(
        self,
        *,
        user_id: str,
        email: str,
        roles: Iterable[str],
        perms: Iterable[str],
        session_id: str,
        now: datetime,
    ) -> IssuedAccessToken:
        role_set = frozenset(roles)
        key_id, private_key = self.keys.signing_key()
        issued_at = int(now.timestamp())
        token_id = new_id()
        claims = {
            "iss": self.issuer,
            "sub": user_id,
            "roles": sorted(role_set),
            "perms": sorted(perms) if "admin" in role_set else [],
            "email": email,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + self.ttl_seconds,
            "jti": token_id,
            "sid": session_id,
        }
        token = jwt.encode(
            claims,
            private_key,
            algorithm=ALGORITHM,
            headers={"kid": f"{token_class(role_set)}.{key_id}", "typ": "JWT"},
        )
        return IssuedAccessToken(token=token, expires_at=claims["exp"], token_id=token_id)
