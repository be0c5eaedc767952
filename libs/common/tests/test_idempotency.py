"""HTTP Idempotency-Key through a real chassis app, on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Request
from pydantic import BaseModel
from vanity_common.app import ServiceParts, build_service_app, json_response
from vanity_common.auth import OptionalUser
from vanity_common.bootstrap import ServiceContainer
from vanity_common.db import new_metadata
from vanity_common.errors import Conflict
from vanity_common.idempotency import (
    Claim,
    IdempotencyStore,
    StoredResponse,
    idempotency_table,
    idempotent,
    request_fingerprint,
)
from vanity_common.settings import ServiceSettings

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class ShopSettings(ServiceSettings):
    service_name = "idemshop"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class OrderBody(BaseModel):
    sku: str
    quantity: int


class Shop:
    """Endpoints that count how often they really ran."""

    def __init__(self) -> None:
        self.runs: dict[str, int] = {}
        self.gate: asyncio.Event | None = None
        self.router = APIRouter()
        self.failures_left = 0

        @self.router.post("/orders")
        @idempotent()
        async def create_order(body: OrderBody, user: OptionalUser):
            self._ran("orders")
            if self.gate is not None:
                await self.gate.wait()
            payload = {"order_id": uuid.uuid4().hex, "sku": body.sku, "qty": body.quantity}
            return json_response(payload, status_code=201, headers={"Location": "/orders/x"})

        @self.router.post("/flaky")
        @idempotent()
        async def flaky(request: Request):
            self._ran("flaky")
            if self.failures_left > 0:
                self.failures_left -= 1
                raise RuntimeError("injected crash")
            return json_response({"done": uuid.uuid4().hex})

        @self.router.post("/overloaded")
        @idempotent()
        async def overloaded():
            self._ran("overloaded")
            if self.runs["overloaded"] == 1:
                return json_response({"error": "busy"}, status_code=503)
            return json_response({"done": uuid.uuid4().hex})

        @self.router.post("/refused")
        @idempotent()
        async def refused():
            self._ran("refused")
            raise Conflict("Already cancelled.", reason="ORDER_CANCELLED")

        @self.router.post("/optional")
        @idempotent(required=False)
        async def optional():
            self._ran("optional")
            return json_response({"done": uuid.uuid4().hex})

    def _ran(self, name: str) -> None:
        self.runs[name] = self.runs.get(name, 0) + 1


async def create_keys_table(db) -> None:
    metadata = new_metadata()
    idempotency_table(metadata)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


@pytest.fixture
async def shop(database_url, tmp_path, token_minter):
    settings = ShopSettings(
        database_url=database_url,
        data_dir=tmp_path,
        keys_dir=token_minter.keys_dir,
        grpc_enabled=False,
        log_json=False,
    )
    clock = Clock()
    shop = Shop()
    app = build_service_app(
        settings,
        ServiceParts(
            routers=[shop.router],
            container=lambda: ServiceContainer(**ServiceContainer.core(settings), clock=clock),
        ),
    )
    async with LifespanManager(app):
        container = app.state.container
        await create_keys_table(container.db)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
            yield shop, client, container, clock


def key_headers(key: str, token_headers: dict | None = None) -> dict:
    return {"Idempotency-Key": key, **(token_headers or {})}


async def test_a_retry_replays_the_first_answer_byte_for_byte(shop, token_minter):
    service, client, _, _ = shop
    alice = token_minter.headers(token_minter.token(user_id="alice"))
    body = {"sku": "LIP-1", "quantity": 2}
    first = await client.post("/orders", json=body, headers=key_headers("k-1", alice))
    again = await client.post("/orders", json=body, headers=key_headers("k-1", alice))
    assert first.status_code == 201
    assert service.runs["orders"] == 1
    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again.headers["location"] == "/orders/x"
    assert again.headers["content-type"] == "application/json"
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


async def test_same_key_with_another_request_is_a_422_naming_the_header(shop, token_minter):
    service, client, _, _ = shop
    alice = token_minter.headers(token_minter.token(user_id="alice"))
    await client.post("/orders", json={"sku": "A", "quantity": 1}, headers=key_headers("k", alice))
    other = await client.post(
        "/orders", json={"sku": "A", "quantity": 9}, headers=key_headers("k", alice)
    )
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["reason"] == "IDEMPOTENCY_KEY_REUSED"
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert service.runs["orders"] == 1


async def test_missing_or_malformed_key_is_a_400_naming_the_header(shop):
    service, client, _, _ = shop
    body = {"sku": "A", "quantity": 1}
    missing = await client.post("/orders", json=body)
    assert missing.status_code == 400
    assert missing.json()["reason"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert missing.json()["errors"][0]["field"] == "Idempotency-Key"
    for bad in ("x" * 256, "tab\there", "", "ключ".encode()):
        response = await client.post("/orders", json=body, headers={"Idempotency-Key": bad})
        assert response.status_code == 400, bad
        assert response.json()["reason"] == "IDEMPOTENCY_KEY_INVALID"
        assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert "orders" not in service.runs
    longest = await client.post("/orders", json=body, headers={"Idempotency-Key": "k" * 255})
    quoted = await client.post("/orders", json=body, headers={"Idempotency-Key": '"k2"'})
    assert (longest.status_code, quoted.status_code) == (201, 201)
    # Optional routes run without a key, every time.
    assert (await client.post("/optional")).status_code == 200
    assert (await client.post("/optional")).status_code == 200
    assert service.runs["optional"] == 2


async def test_keys_are_scoped_to_the_caller(shop, token_minter):
    service, client, _, _ = shop
    body = {"sku": "A", "quantity": 1}
    alice = token_minter.headers(token_minter.token(user_id="alice"))
    bob = token_minter.headers(token_minter.token(user_id="bob"))
    a = await client.post("/orders", json=body, headers=key_headers("shared", alice))
    b = await client.post("/orders", json=body, headers=key_headers("shared", bob))
    anonymous = await client.post("/orders", json=body, headers=key_headers("shared"))
    assert (a.status_code, b.status_code, anonymous.status_code) == (201, 201, 201)
    assert len({a.json()["order_id"], b.json()["order_id"], anonymous.json()["order_id"]}) == 3
    assert service.runs["orders"] == 3


async def test_a_crashed_or_5xx_first_attempt_does_not_poison_the_key(shop):
    service, client, _, _ = shop
    service.failures_left = 1
    crashed = await client.post("/flaky", headers=key_headers("f"))
    assert crashed.status_code == 500
    retried = await client.post("/flaky", headers=key_headers("f"))
    assert retried.status_code == 200
    assert service.runs["flaky"] == 2
    assert (await client.post("/flaky", headers=key_headers("f"))).content == retried.content

    busy = await client.post("/overloaded", headers=key_headers("o"))
    assert busy.status_code == 503
    done = await client.post("/overloaded", headers=key_headers("o"))
    assert done.status_code == 200 and service.runs["overloaded"] == 2


async def test_a_4xx_answer_is_final_and_replayed(shop):
    service, client, _, _ = shop
    first = await client.post("/refused", headers=key_headers("r"))
    again = await client.post("/refused", headers=key_headers("r"))
    assert first.status_code == again.status_code == 409
    assert first.json()["reason"] == "ORDER_CANCELLED"
    assert again.content == first.content
    assert again.headers["content-type"] == "application/problem+json"
    assert service.runs["refused"] == 1


async def test_a_duplicate_while_the_first_runs_is_a_409_then_replays(shop):
    service, client, _, _ = shop
    service.gate = asyncio.Event()
    body = {"sku": "A", "quantity": 1}
    first = asyncio.create_task(client.post("/orders", json=body, headers=key_headers("slow")))
    while service.runs.get("orders", 0) == 0:  # until the first request holds the key
        await asyncio.sleep(0)
    duplicate = await client.post("/orders", json=body, headers=key_headers("slow"))
    assert duplicate.status_code == 409
    assert duplicate.json()["reason"] == "IDEMPOTENCY_REQUEST_IN_PROGRESS"
    assert duplicate.headers["retry-after"] == "1"
    service.gate.set()
    answer = await first
    replay = await client.post("/orders", json=body, headers=key_headers("slow"))
    assert replay.content == answer.content and service.runs["orders"] == 1


async def test_keys_expire_after_24_hours_and_are_purged(shop):
    service, client, container, clock = shop
    body = {"sku": "A", "quantity": 1}
    first = await client.post("/orders", json=body, headers=key_headers("old"))
    clock.now += timedelta(hours=23, minutes=59)
    assert (await client.post("/orders", json=body, headers=key_headers("old"))).content == (
        first.content
    )
    assert await container.idempotency.purge_expired() == 0
    clock.now += timedelta(minutes=1)
    fresh = await client.post(
        "/orders", json={"sku": "B", "quantity": 1}, headers=key_headers("old")
    )
    assert fresh.status_code == 201 and service.runs["orders"] == 2
    await client.post("/orders", json=body, headers=key_headers("other"))
    clock.now += timedelta(hours=24)
    assert await container.idempotency.purge_expired(batch=1) == 2
    assert await container.idempotency.purge_expired() == 0


async def test_a_dead_claim_is_taken_over_after_its_lease(shop):
    _, _, container, clock = shop
    store: IdempotencyStore = container.idempotency
    fingerprint = request_fingerprint("POST", "/x", b"{}")
    claim = await store.begin("user:u", "k", fingerprint)
    assert isinstance(claim, Claim)  # ...and its holder dies without completing or releasing
    clock.now += store.lease - timedelta(seconds=1)
    with pytest.raises(Conflict):
        await store.begin("user:u", "k", fingerprint)
    clock.now += timedelta(seconds=1)
    taken = await store.begin("user:u", "k", fingerprint)
    assert isinstance(taken, Claim) and taken.token != claim.token
    # The dead holder, should it wake up, can no longer store its answer.
    assert not await store.complete(claim, StoredResponse(200, [], b"late"))
    assert await store.complete(taken, StoredResponse(200, [], b"ok"))
    replay = await store.begin("user:u", "k", fingerprint)
    assert replay == StoredResponse(200, [], b"ok")


@pytest.mark.mariadb
async def test_twenty_concurrent_duplicates_run_exactly_once(mariadb_url, tmp_path):
    settings = ShopSettings(
        database_url=mariadb_url, data_dir=tmp_path, grpc_enabled=False, db_pool_size=25
    )
    shop = Shop()
    shop.gate = asyncio.Event()
    app = build_service_app(settings, ServiceParts(routers=[shop.router]))
    async with LifespanManager(app):
        await create_keys_table(app.state.container.db)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
            body = {"sku": "A", "quantity": 1}
            requests = [
                asyncio.create_task(client.post("/orders", json=body, headers=key_headers("c")))
                for _ in range(20)
            ]
            # Every duplicate is answered while the one that got the key is still running.
            done: set = set()
            pending = set(requests)
            while len(done) < 19:
                more, pending = await asyncio.wait(
                    pending, timeout=60, return_when=asyncio.FIRST_COMPLETED
                )
                assert more, "duplicates were not answered while the first request ran"
                done |= more
            shop.gate.set()
            answers = [await r for r in requests]
            codes = sorted(a.status_code for a in answers)
            assert codes == [201] + [409] * 19
            assert shop.runs["orders"] == 1
            winner = next(a for a in answers if a.status_code == 201)
            replay = await client.post("/orders", json=body, headers=key_headers("c"))
            assert replay.content == winner.content


@pytest.mark.mariadb
async def test_concurrent_claims_at_the_store_level(mariadb_url, tmp_path):
    from vanity_common.db import Database

    db = Database(mariadb_url, pool_size=25)
    try:
        await create_keys_table(db)
        store = IdempotencyStore(db, clock=lambda: datetime.now(UTC))
        fingerprint = request_fingerprint("POST", "/x", b"")

        async def claim():
            try:
                return await store.begin("user:u", "same", fingerprint)
            except Conflict:
                return None

        results = await asyncio.gather(*(claim() for _ in range(20)))
        assert sum(isinstance(r, Claim) for r in results) == 1
    finally:
        await db.dispose()


async def test_the_header_is_documented_in_openapi(shop):
    _, client, _, _ = shop
    schema = (await client.get("/openapi.json")).json()
    parameters = schema["paths"]["/orders"]["post"]["parameters"]
    header = next(p for p in parameters if p["name"] == "Idempotency-Key")
    assert header["in"] == "header" and "retry" in header["description"]
    assert "requestBody" in schema["paths"]["/orders"]["post"]  # the body model survived
