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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, Request
from jwt.algorithms import ECAlgorithm
from vanity.identity.v1 import identity_pb2 as identity_pb
from vanity.identity.v1 import identity_pb2_grpc as identity_pb_grpc

from vanity_common.errors import PermissionDenied, Unauthenticated
from vanity_common.grpc_client import ChannelPool

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


class EndedSessions:
    """The deny list: sessions identity has ended (logout, disabled account, password change,
    refresh-token reuse), by session id, with when they ended. An entry is kept as long as a
    token of that session can still be valid, then forgotten."""

    def __init__(self, retention_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.retention_seconds = retention_seconds
        self.clock = clock
        self._ended_at: dict[str, float] = {}

    def add(self, session_id: str, ended_at: float) -> bool:
        """Records an ended session; True when it was not known yet."""
        if not session_id or ended_at + self.retention_seconds < self.clock():
            return False
        known = session_id in self._ended_at
        self._ended_at[session_id] = ended_at
        return not known

    def prune(self) -> None:
        horizon = self.clock() - self.retention_seconds
        for session_id in [s for s, at in self._ended_at.items() if at < horizon]:
            del self._ended_at[session_id]

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._ended_at

    def __len__(self) -> int:
        return len(self._ended_at)


class TokenVerifier:
    def __init__(
        self,
        keys: KeySource,
        issuer: str = "vanity-identity",
        leeway: int = 5,
        max_lifetime_seconds: int = 900,
        ended_sessions: EndedSessions | None = None,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.leeway = leeway
        self.max_lifetime_seconds = max_lifetime_seconds
        self.ended_sessions = ended_sessions

    def _check_lifetime(self, claims: dict) -> None:
        """docs/auth.md: `iat`, `exp`, `nbf` are numbers and `exp - iat` <= the maximum, so a
        token minted for a year (or with a string `exp`) is refused even when its signature is
        good; and it cannot have been issued in the future."""
        times = {}
        for name in ("exp", "iat", "nbf"):
            value = claims.get(name)
            if value is None and name == "nbf":
                continue
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise Unauthenticated(
                    f"Invalid access token: '{name}' is not a number.", headers=_WWW_AUTH
                )
            times[name] = value
        if times["exp"] - times["iat"] > self.max_lifetime_seconds:
            raise Unauthenticated("Access token lifetime exceeds the maximum.", headers=_WWW_AUTH)
        if times["iat"] > time.time() + self.leeway:
            raise Unauthenticated("Access token issued in the future.", headers=_WWW_AUTH)

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
        self._check_lifetime(claims)
        session_id = str(claims.get("sid", ""))
        if self.ended_sessions is not None and session_id in self.ended_sessions:
            raise Unauthenticated(
                "This session has ended; sign in again.", reason="SESSION_ENDED", headers=_WWW_AUTH
            )
        roles = frozenset(str(r) for r in claims.get("roles") or ())
        if ("admin" in roles) != (token_class == "admin"):
            raise Unauthenticated("Token class does not match its roles.", headers=_WWW_AUTH)
        return Principal(
            user_id=str(claims["sub"]),
            roles=roles,
            perms=frozenset(str(p) for p in claims.get("perms") or ()),
            token_id=str(claims["jti"]),
            session_id=session_id,
            email=str(claims.get("email", "")),
        )


def verifier_from_settings(settings) -> TokenVerifier:
    keys: KeySource = (
        JwksKeys(settings.jwks_url) if settings.jwks_url else PemDirectoryKeys(settings.keys_dir)
    )
    verifier = TokenVerifier(
        keys,
        issuer=settings.token_issuer,
        max_lifetime_seconds=settings.access_token_max_lifetime_seconds,
    )
    if settings.ended_sessions_refresh_seconds > 0:
        verifier.ended_sessions = EndedSessions(
            settings.access_token_max_lifetime_seconds + verifier.leeway + RETENTION_MARGIN_SECONDS
        )
    return verifier


# ---- the ended-sessions feed: identity -> every service's deny list ----------------------------

RETENTION_MARGIN_SECONDS = 60
# A session ended (its revoked_at written) just before identity answered may commit after the
# answer: every poll re-reads this much of the recent past. Longer than any identity transaction.
FEED_OVERLAP_US = 10_000_000
FEED_PAGE_SIZE = 500

FetchEndedSessions = Callable[[identity_pb.ListEndedSessionsRequest], Awaitable[Any]]


class EndedSessionsFeed:
    """Keeps an EndedSessions list current by polling identity's ListEndedSessions: one small
    call every `interval` seconds per process, none per request. When identity cannot be
    reached the list keeps what it has (tokens of sessions ended meanwhile stay valid until
    they expire, as they would without the list) and the failure is logged once."""

    def __init__(
        self,
        ended: EndedSessions,
        fetch: FetchEndedSessions,
        interval_seconds: float,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.ended = ended
        self.fetch = fetch
        self.interval_seconds = interval_seconds
        self._close = close
        self._after_us = 0
        self._after_id = ""
        self._failing = False
        self._lock = asyncio.Lock()  # the background loop and an explicit refresh take turns

    async def aclose(self) -> None:
        """Releases what the feed holds (its channel to identity)."""
        if self._close is not None:
            await self._close()

    async def refresh(self) -> int:
        """Catches up with identity once; returns how many sessions were new."""
        async with self._lock:
            return await self._catch_up()

    async def _catch_up(self) -> int:
        added = 0
        while True:
            reply = await self.fetch(
                identity_pb.ListEndedSessionsRequest(
                    ended_after_us=self._after_us,
                    after_session_id=self._after_id,
                    page_size=FEED_PAGE_SIZE,
                )
            )
            for ended in reply.sessions:
                added += self.ended.add(ended.session_id, ended.ended_at_us / 1_000_000)
            if reply.sessions:
                self._after_us = reply.sessions[-1].ended_at_us
                self._after_id = reply.sessions[-1].session_id
            if not reply.has_more:
                break
        # Everything up to identity's answer is read; the next poll starts a margin before it.
        self._after_us = max(0, reply.server_time_us - FEED_OVERLAP_US)
        self._after_id = ""
        self.ended.prune()
        return added

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
                if self._failing:
                    log.info("ended-sessions feed from identity restored")
                self._failing = False
            except grpc.aio.AioRpcError as exc:
                if not self._failing:
                    log.warning("ended-sessions feed from identity failed: %s", exc.code().name)
                self._failing = True
            except Exception:  # the feed must outlive any one bad answer
                log.exception("ended-sessions feed: unexpected failure")
                self._failing = True
            await asyncio.sleep(self.interval_seconds)


def identity_ended_sessions(channels, settings) -> FetchEndedSessions:
    """ListEndedSessions on identity over the process' pooled channel."""
    channel = channels.channel(
        settings.identity_grpc_target,
        identity_pb.DESCRIPTOR.services_by_name["IdentityService"].full_name,
        idempotent_methods=("ListEndedSessions",),
        timeout_s=settings.grpc_default_timeout_s,
    )
    return identity_pb_grpc.IdentityServiceStub(channel).ListEndedSessions


def ended_sessions_feed(verifier, settings) -> EndedSessionsFeed | None:
    """The feed of a verifier's deny list (None when the verifier keeps no list, e.g.
    identity's own, which reads its database instead). It owns its channel to identity, so its
    retry policy never becomes that of the service's own calls to identity."""
    ended = getattr(verifier, "ended_sessions", None)
    if ended is None or settings.ended_sessions_refresh_seconds <= 0:
        return None
    channels = ChannelPool.from_settings(settings)
    return EndedSessionsFeed(
        ended,
        identity_ended_sessions(channels, settings),
        settings.ended_sessions_refresh_seconds,
        close=channels.close,
    )


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
