"""The verified caller: every service checks the access token itself (defence in depth).

Tokens are ES256 JWTs issued by identity (docs/auth.md). Keys come from identity's JWKS
(`JWKS_URL`, cached, refreshed on an unknown key id) or, on one machine, from the PEM files in
`KEYS_DIR`. The algorithm is pinned to ES256, so `alg: none` and HS256-with-the-public-key tokens
are refused before any key is used.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, Request
from jwt.algorithms import ECAlgorithm

from vanity_common.errors import PermissionDenied, Unauthenticated

log = logging.getLogger(__name__)

ALGORITHM = "ES256"
TOKEN_CLASSES = ("customer", "admin")
_WWW_AUTH = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


KEY_ID_LENGTH = 16


def _b64url_uint(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


def jwk_thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 thumbprint of an EC P-256 key, base64url without padding."""
    numbers = public_key.public_numbers()
    canonical = json.dumps(
        {"crv": "P-256", "kty": "EC", "x": _b64url_uint(numbers.x), "y": _b64url_uint(numbers.y)},
        separators=(",", ":"),
        sort_keys=True,
    )
    return (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    )


def key_id_for(public_key: ec.EllipticCurvePublicKey) -> str:
    """The key id of docs/auth.md: the first 16 characters of the RFC 7638 thumbprint."""
    return jwk_thumbprint(public_key)[:KEY_ID_LENGTH]


def public_jwk(public_key: ec.EllipticCurvePublicKey, key_id: str) -> dict[str, str]:
    """The public JWK of a P-256 verification key, as published in a JWKS document."""
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url_uint(numbers.x),
        "y": _b64url_uint(numbers.y),
        "kid": key_id,
        "use": "sig",
        "alg": ALGORITHM,
    }


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the verified token says."""

    user_id: str
    roles: frozenset[str]
    perms: frozenset[str] = field(default_factory=frozenset)
    token_id: str = ""
    session_id: str = ""
    email: str = ""

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def can(self, permission: str) -> bool:
        return self.is_admin and permission in self.perms


class KeySource:
    """Public verification keys by key id."""

    async def get(self, key_id: str):  # pragma: no cover - interface
        raise NotImplementedError


class PemDirectoryKeys(KeySource):
    """`<key-id>.public.pem` files in a folder, re-read when a key id is not known yet."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._keys: dict[str, object] = {}

    def _load(self) -> None:
        keys = {}
        for pem in self.folder.glob("*.public.pem"):
            key_id = pem.name.removesuffix(".public.pem")
            keys[key_id] = ECAlgorithm.from_jwk(ECAlgorithm.to_jwk(_load_pem(pem.read_bytes())))
        self._keys = keys

    async def get(self, key_id: str):
        if key_id not in self._keys:
            self._load()
        return self._keys.get(key_id)


def _load_pem(data: bytes):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(data)


class JwksKeys(KeySource):
    """Identity's JWKS over HTTP; refetched on an unknown key id, at most every `min_refresh` s."""

    def __init__(self, url: str, min_refresh: float = 30.0, timeout: float = 3.0) -> None:
        self.url = url
        self.min_refresh = min_refresh
        self.timeout = timeout
        self._keys: dict[str, object] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    def _fetch(self) -> dict[str, object]:
        with urllib.request.urlopen(self.url, timeout=self.timeout) as resp:  # noqa: S310
            document = json.loads(resp.read())
        return {
            jwk["kid"]: ECAlgorithm.from_jwk(json.dumps(jwk))
            for jwk in document.get("keys", [])
            if jwk.get("kty") == "EC" and "kid" in jwk
        }

    async def get(self, key_id: str):
        if key_id in self._keys:
            return self._keys[key_id]
        async with self._lock:
            if key_id not in self._keys and time.monotonic() - self._fetched_at > self.min_refresh:
                try:
                    self._keys = await asyncio.to_thread(self._fetch)
                except OSError as exc:
                    log.warning("JWKS fetch failed: %s", exc)
                self._fetched_at = time.monotonic()
        return self._keys.get(key_id)


class TokenVerifier:
    def __init__(self, keys: KeySource, issuer: str = "vanity-identity", leeway: int = 5) -> None:
        self.keys = keys
        self.issuer = issuer
        self.leeway = leeway

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("Malformed access token.", headers=_WWW_AUTH) from exc
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated("Unsupported token algorithm.", headers=_WWW_AUTH)
        token_class, _, key_id = str(header.get("kid", "")).partition(".")
        if token_class not in TOKEN_CLASSES or not key_id:
            raise Unauthenticated("Unknown signing key.", headers=_WWW_AUTH)
        key = await self.keys.get(key_id)
        if key is None:
            raise Unauthenticated("Unknown signing key.", headers=_WWW_AUTH)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "sub", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("Access token expired.", headers=_WWW_AUTH) from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("Invalid access token.", headers=_WWW_AUTH) from exc
        roles = frozenset(str(r) for r in claims.get("roles") or ())
        if ("admin" in roles) != (token_class == "admin"):
            raise Unauthenticated("Token class does not match its roles.", headers=_WWW_AUTH)
        return Principal(
            user_id=str(claims["sub"]),
            roles=roles,
            perms=frozenset(str(p) for p in claims.get("perms") or ()),
            token_id=str(claims["jti"]),
            session_id=str(claims.get("sid", "")),
            email=str(claims.get("email", "")),
        )


def verifier_from_settings(settings) -> TokenVerifier:
    keys: KeySource = (
        JwksKeys(settings.jwks_url) if settings.jwks_url else PemDirectoryKeys(settings.keys_dir)
    )
    return TokenVerifier(keys, issuer=settings.token_issuer)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def optional_principal(request: Request) -> Principal | None:
    token = bearer_token(request)
    if token is None:
        return None
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(token)
    request.state.principal = principal
    return principal


async def require_user(request: Request) -> Principal:
    principal = await optional_principal(request)
    if principal is None:
        raise Unauthenticated("Sign in required.", headers={"WWW-Authenticate": "Bearer"})
    return principal


def require_admin(permission: str | None = None):
    """Dependency factory: an admin, and when given, one holding `permission`."""

    async def _dependency(principal: Annotated[Principal, Depends(require_user)]) -> Principal:
        if not principal.is_admin:
            raise PermissionDenied("Admin role required.")
        if permission and permission not in principal.perms:
            raise PermissionDenied(f"Admin permission '{permission}' required.")
        return principal

    return _dependency


CurrentUser = Annotated[Principal, Depends(require_user)]
OptionalUser = Annotated[Principal | None, Depends(optional_principal)]
