"""HTTP `Idempotency-Key` for non-idempotent POSTs (checkout, refunds, ...).

A client that may retry a POST sends a key it generated (a UUID); the first request with that
key runs, its final answer is stored, and every retry gets that same answer again, byte for
byte, without running anything twice.

    @router.post("/checkout")
    @idempotent()                       # required=True: a POST without the header is a 400
    async def checkout(body: CheckoutBody, user: CurrentUser, services: Container):
        ...
        return json_response(order_json(order), status_code=201)

Rules (what a client sees):
- The key is scoped to the caller: `user:<id>` when the request is signed in (the route's
  `CurrentUser`/`OptionalUser` dependency ran), otherwise `anon:<client address>`; a route can
  pass `scope=` to decide otherwise. Another user's identical key is another key.
- The first request's fingerprint (method, path with query, SHA-256 of the body) is stored
  with its answer. The same key with a different request: 422 `IDEMPOTENCY_KEY_REUSED`.
- A retry while the first request is still running: 409 `IDEMPOTENCY_REQUEST_IN_PROGRESS`
  with `Retry-After: 1` (it does not wait; the client retries and then gets the replay).
  The claim is one INSERT on a primary key, so of any number of concurrent duplicates exactly
  one runs.
- Stored answers: 2xx and 4xx (including problem+json from a `ServiceError`) — they are final.
  A 5xx answer or an exception releases the claim instead, so a failed first attempt does not
  poison the key: the retry runs again. A process that dies mid-request leaves its claim,
  which a retry may take over once the claim's lease (`lease`, default 60 s) has run out.
- A replay carries `Idempotent-Replayed: true`. Keys expire 24 h after their first use;
  `IdempotencyStore.purge_expired()` deletes expired rows in batches (run it from beat).
- Missing header where required: 400 `IDEMPOTENCY_KEY_REQUIRED`. A key longer than 255
  characters, empty, or with characters outside printable ASCII: 400 `IDEMPOTENCY_KEY_INVALID`.
  Both name the header in `errors[].field`. An RFC 8941 quoted string (`"abc"`) is accepted.

The answer is stored in a transaction of its own after the use case committed. A process dying
between the two leaves a claim that a retry takes over after the lease: the use case itself must
still be idempotent for that window (checkout's orders are unique per user and key).

Storage: the `idempotency_keys` table in the service's own database. A service declares it in
its tables.py with `idempotency_table(metadata)` and creates it in a migration.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, get_type_hints

import grpc
import orjson
from fastapi import Header, Request
from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from vanity_common.db import Database, UTCDateTime
from vanity_common.errors import (
    Conflict,
    FieldError,
    InvalidArgument,
    ServiceError,
    problem_response,
)

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEY_TTL = timedelta(hours=24)
DEFAULT_LEASE = timedelta(seconds=60)

IN_FLIGHT = "in_flight"
COMPLETED = "completed"

# Headers a replay must not repeat: recomputed, per-request, or a session the client may have
# since ended.
_UNSTORED_HEADERS = frozenset(
    {"content-length", "date", "server", "x-request-id", "set-cookie", "transfer-encoding"}
)


TABLE = "idempotency_keys"
_EXPIRY_INDEX = "ix_idempotency_keys_expires_at"


def _columns() -> list[Column]:
    return [
        # SHA-256 of scope and key: exact (case-sensitive whatever the collation) and short.
        Column("key_hash", String(64), primary_key=True),
        Column("scope", String(160), nullable=False),
        Column("idempotency_key", String(MAX_KEY_LENGTH), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("state", String(16), nullable=False),
        Column("claim_token", String(32), nullable=True),
        Column("locked_until", UTCDateTime(), nullable=True),
        Column("response_status", Integer, nullable=True),
        Column("response_headers", Text, nullable=True),
        # Base64 text: one column type whatever the driver binds bytes as.
        Column(
            "response_body",
            Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"),
            nullable=True,
        ),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("expires_at", UTCDateTime(), nullable=False),
    ]


def idempotency_table(metadata: MetaData) -> Table:
    """The `idempotency_keys` table on a service's metadata (in its tables.py)."""
    table = Table(TABLE, metadata, *_columns())
    Index(_EXPIRY_INDEX, table.c.expires_at)
    return table


def create_idempotency_table() -> None:
    """A service migration's `upgrade()`."""
    from alembic import op

    op.create_table(TABLE, *_columns())
    op.create_index(_EXPIRY_INDEX, TABLE, ["expires_at"])


def drop_idempotency_table() -> None:
    """A service migration's `downgrade()`."""
    from alembic import op

    op.drop_table(TABLE)


# The chassis' own handle on the table (statements name the table; each service's database
# has it through the service's migration).
keys_table = idempotency_table(MetaData())

# Built once with bind parameters: SQLAlchemy keys (caches) them once, not on every request.
_CLAIM = insert(keys_table)
_COMPLETE = update(keys_table).where(
    keys_table.c.key_hash == bindparam("claimed_key_hash"),
    keys_table.c.claim_token == bindparam("claimed_token"),
)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def to_response(self) -> Response:
        response = Response(self.body, status_code=self.status)
        for name, value in self.headers:
            response.headers.append(name, value)
        response.headers[REPLAYED_HEADER] = "true"
        return response

    @classmethod
    def of(cls, response: Response) -> StoredResponse:
        headers = [
            (name, value)
            for name, value in response.headers.items()
            if name.lower() not in _UNSTORED_HEADERS
        ]
        return cls(response.status_code, headers, bytes(response.body))


@dataclass(frozen=True)
class Claim:
    """This request holds the key: it runs, then completes or releases the claim."""

    key_hash: str
    token: str


def _key_error(reason: str, message: str) -> ServiceError:
    return ServiceError(
        message=message,
        reason=reason,
        errors=[FieldError(IDEMPOTENCY_HEADER, message)],
        http_status=400,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
    )


def parse_key(raw: str | None) -> str | None:
    """The key from the header value (None when absent); 400 problem when malformed."""
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':  # RFC 8941 sf-string, as the IETF draft
        key = key[1:-1]
    if not key:
        raise _key_error("IDEMPOTENCY_KEY_INVALID", f"{IDEMPOTENCY_HEADER} is empty.")
    if len(key) > MAX_KEY_LENGTH:
        raise _key_error(
            "IDEMPOTENCY_KEY_INVALID",
            f"{IDEMPOTENCY_HEADER} is longer than {MAX_KEY_LENGTH} characters.",
        )
    if not all(" " <= ch <= "~" for ch in key):
        raise _key_error(
            "IDEMPOTENCY_KEY_INVALID",
            f"{IDEMPOTENCY_HEADER} may hold printable ASCII characters only.",
        )
    return key


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    body_hash = hashlib.sha256(body).hexdigest()
    return hashlib.sha256(f"{method.upper()}\n{path}\n{body_hash}".encode()).hexdigest()


def _key_hash(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()


class IdempotencyStore:
    """Claims, stored answers and expiry of idempotency keys in one service's database."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime],
        ttl: timedelta = KEY_TTL,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self.lease = lease

    def _claim_values(self, fingerprint: str, token: str, now: datetime) -> dict[str, Any]:
        return {
            "fingerprint": fingerprint,
            "state": IN_FLIGHT,
            "claim_token": token,
            "locked_until": now + self.lease,
            "response_status": None,
            "response_headers": None,
            "response_body": None,
            "created_at": now,
            "expires_at": now + self.ttl,
        }

    async def begin(self, scope: str, key: str, fingerprint: str) -> Claim | StoredResponse:
        """Claims the key for this request, or returns the stored answer to replay.

        Raises 422 for a key used with another request, 409 while another request holds it.
        """
        key_hash = _key_hash(scope, key)
        t = keys_table
        for _ in range(5):
            now = self.clock()
            token = uuid.uuid4().hex
            try:
                async with self.db.connect(write=True) as conn:
                    await conn.execute(
                        _CLAIM,
                        {
                            "key_hash": key_hash,
                            "scope": scope[:160],
                            "idempotency_key": key,
                            **self._claim_values(fingerprint, token, now),
                        },
                    )
                return Claim(key_hash, token)
            except IntegrityError:
                pass  # the key exists: replay, refuse, or take over a dead claim
            async with self.db.connect() as conn:
                row = (await conn.execute(select(t).where(t.c.key_hash == key_hash))).first()
            if row is None:
                continue  # released between our insert and our read: claim it again
            if row.expires_at <= now:
                taken = await self._take_over(key_hash, fingerprint, now, t.c.expires_at <= now)
            elif row.fingerprint != fingerprint:
                raise InvalidArgument(
                    f"This {IDEMPOTENCY_HEADER} was already used for a different request.",
                    reason="IDEMPOTENCY_KEY_REUSED",
                    errors=[FieldError(IDEMPOTENCY_HEADER, "already used for a different request")],
                )
            elif row.state == COMPLETED:
                return StoredResponse(
                    row.response_status,
                    [tuple(pair) for pair in orjson.loads(row.response_headers or "[]")],
                    base64.b64decode(row.response_body or ""),
                )
            elif row.locked_until is not None and row.locked_until > now:
                raise Conflict(
                    f"A request with this {IDEMPOTENCY_HEADER} is still being processed; "
                    "retry shortly to get its result.",
                    reason="IDEMPOTENCY_REQUEST_IN_PROGRESS",
                    errors=[FieldError(IDEMPOTENCY_HEADER, "a request with it is in progress")],
                    headers={"Retry-After": "1"},
                )
            else:
                # The claim's holder died mid-request: take it over, unless someone else did.
                taken = await self._take_over(
                    key_hash, fingerprint, now, t.c.claim_token == row.claim_token
                )
            if taken is not None:
                return taken
        raise Conflict(
            f"A request with this {IDEMPOTENCY_HEADER} is still being processed.",
            reason="IDEMPOTENCY_REQUEST_IN_PROGRESS",
            headers={"Retry-After": "1"},
        )

    async def _take_over(self, key_hash: str, fingerprint: str, now: datetime, condition):
        """A compare-and-set on the row: of concurrent takers, exactly one succeeds."""
        token = uuid.uuid4().hex
        async with self.db.connect(write=True) as conn:
            result = await conn.execute(
                update(keys_table)
                .where(keys_table.c.key_hash == key_hash, condition)
                .values(**self._claim_values(fingerprint, token, now))
            )
        return Claim(key_hash, token) if result.rowcount == 1 else None

    async def complete(self, claim: Claim, answer: StoredResponse) -> bool:
        """Stores the final answer; False when the claim was lost (its lease ran out)."""
        async with self.db.connect(write=True) as conn:
            result = await conn.execute(
                _COMPLETE,
                {
                    "claimed_key_hash": claim.key_hash,
                    "claimed_token": claim.token,
                    "state": COMPLETED,
                    "locked_until": None,
                    "response_status": answer.status,
                    "response_headers": orjson.dumps(answer.headers).decode(),
                    "response_body": base64.b64encode(answer.body).decode("ascii"),
                },
            )
        return result.rowcount == 1

    async def release(self, claim: Claim) -> None:
        """Forgets the claim, so a retry runs the request again."""
        async with self.db.connect(write=True) as conn:
            await conn.execute(
                delete(keys_table).where(
                    keys_table.c.key_hash == claim.key_hash,
                    keys_table.c.claim_token == claim.token,
                )
            )

    async def purge_expired(self, *, batch: int = 1000) -> int:
        """Deletes keys past their expiry, `batch` rows per short transaction; returns the count.
        Safe to run from several beat schedulers at once."""
        total = 0
        while True:
            now = self.clock()
            async with self.db.connect(write=True) as conn:
                hashes = (
                    await conn.execute(
                        select(keys_table.c.key_hash)
                        .where(keys_table.c.expires_at <= now)
                        .limit(batch)
                    )
                ).scalars()
                hashes = list(hashes)
                if hashes:
                    await conn.execute(
                        delete(keys_table).where(
                            keys_table.c.key_hash.in_(hashes), keys_table.c.expires_at <= now
                        )
                    )
            total += len(hashes)
            if len(hashes) < batch:
                return total


# ---- FastAPI -------------------------------------------------------------------------------

ScopeOf = Callable[[Request], str]


def caller_scope(request: Request) -> str:
    """`user:<id>` when a signed-in principal was resolved for this request, else the client's
    address (anonymous keys must be unguessable; UUIDv4 keys from distinct clients never meet)."""
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        return f"user:{principal.user_id}"
    return f"anon:{request.client.host if request.client else 'unknown'}"


def _store_of(request: Request) -> IdempotencyStore:
    from vanity_common.app import service_container

    return service_container(request).idempotency


_REQUEST_PARAM = "_idempotency_request"
_KEY_PARAM = "_idempotency_key"
_KeyHeader = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        description=(
            "A key the client generates (a UUID) per intended operation and repeats on retries: "
            "a retry gets the first answer again. Scoped to the caller, kept 24 h, at most 255 "
            "printable ASCII characters."
        ),
    ),
]


def idempotent(*, required: bool = True, scope: ScopeOf | None = None):
    """Route decorator (below `@router.post(...)`) making a POST idempotent by key.

    The endpoint returns a starlette `Response` (e.g. `json_response`) so the exact bytes can be
    stored; a `ServiceError` it raises with a 4xx status is stored as its problem+json answer.
    """
    scope_of = scope or caller_scope

    def decorate(endpoint: Callable[..., Awaitable[Any]]):
        hints = get_type_hints(endpoint, include_extras=True)
        signature = inspect.signature(endpoint)
        params = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values()
        ]
        request_param = next((p.name for p in params if p.annotation is Request), None)
        extra = [
            inspect.Parameter(
                _KEY_PARAM, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_KeyHeader
            )
        ]
        if request_param is None:
            extra.append(
                inspect.Parameter(
                    _REQUEST_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=Request
                )
            )

        @functools.wraps(endpoint)
        async def run(*args: Any, **kwargs: Any) -> Response:
            raw_key = kwargs.pop(_KEY_PARAM)
            request: Request = (
                kwargs[request_param] if request_param else kwargs.pop(_REQUEST_PARAM)
            )
            key = parse_key(raw_key)
            if key is None:
                if required:
                    raise _key_error(
                        "IDEMPOTENCY_KEY_REQUIRED",
                        f"This request needs an {IDEMPOTENCY_HEADER} header.",
                    )
                return await endpoint(*args, **kwargs)
            path = request.url.path
            if request.url.query:
                path = f"{path}?{request.url.query}"
            fingerprint = request_fingerprint(request.method, path, await request.body())
            store = _store_of(request)
            outcome = await store.begin(scope_of(request), key, fingerprint)
            if isinstance(outcome, StoredResponse):
                return outcome.to_response()
            return await _run_claimed(store, outcome, endpoint, args, kwargs)

        run.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*params, *extra],
            return_annotation=hints.get("return", signature.return_annotation),
        )
        return run

    return decorate


async def _run_claimed(store: IdempotencyStore, claim: Claim, endpoint, args, kwargs) -> Response:
    try:
        response = await endpoint(*args, **kwargs)
    except ServiceError as exc:
        if exc.http_status >= 500:
            await _release(store, claim)
            raise
        response = problem_response(
            exc.http_status,
            exc.message,
            reason=exc.reason,
            errors=[e.as_dict() for e in exc.errors] or None,
            headers=exc.headers or None,
        )
    except BaseException:
        await _release(store, claim)
        raise
    if not isinstance(response, Response) or not hasattr(response, "body"):
        await _release(store, claim)
        raise TypeError("an @idempotent endpoint returns a Response with a body")
    if response.status_code >= 500:
        await _release(store, claim)
        return response
    try:
        if not await store.complete(claim, StoredResponse.of(response)):
            log.warning("idempotency claim lost before the answer was stored")
    except Exception:  # the work is done; answer it, and let a retry re-run an idempotent use case
        log.exception("storing the idempotent answer failed")
    return response


async def _release(store: IdempotencyStore, claim: Claim) -> None:
    try:
        await store.release(claim)
    except Exception:  # the lease frees the key later
        log.exception("releasing an idempotency claim failed")
