"""The chassis around a service: health, readiness, metrics, request ids, problem+json."""

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.engine import make_url
from vanity_common.app import ServiceParts, build_service_app, service_container
from vanity_common.errors import Conflict
from vanity_common.settings import ServiceSettings
from vanity_testkit import TcpProxy


class DemoSettings(ServiceSettings):
    service_name = "demo"


class Item(BaseModel):
    sku: str = Field(min_length=3)
    quantity: int = Field(ge=1)


router = APIRouter()


@router.post("/items")
async def create_item(items: list[Item]):
    return {"count": len(items)}


@router.get("/conflict")
async def conflict():
    raise Conflict("Already there.", reason="DUPLICATE_THING")


@router.get("/count")
async def count(request: Request):
    async with service_container(request).db.connect() as conn:
        return {"one": (await conn.execute(text("SELECT 1"))).scalar_one()}


@router.get("/boom")
async def boom():
    raise RuntimeError("secret internals")


def make_app(database_url: str, tmp_path):
    settings = DemoSettings(
        database_url=database_url, data_dir=tmp_path, grpc_enabled=False, log_json=True
    )
    return build_service_app(settings, ServiceParts(routers=[router]))


@pytest.fixture
async def client(database_url, tmp_path):
    app = make_app(database_url, tmp_path)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as c:
            yield c


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": "demo"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok"}


async def test_request_id_is_echoed_or_generated(client):
    given = await client.get("/healthz", headers={"X-Request-ID": "req-123"})
    assert given.headers["x-request-id"] == "req-123"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32


async def test_validation_errors_name_the_field(client):
    response = await client.post("/items", json=[{"sku": "AB", "quantity": 0}])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {e["field"] for e in body["errors"]} == {"[0].sku", "[0].quantity"}
    assert body["request_id"] == response.headers["x-request-id"]


async def test_malformed_json_is_a_4xx_problem(client):
    response = await client.post(
        "/items", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["reason"] == "VALIDATION_FAILED"


async def test_service_errors_become_problems_with_their_reason(client):
    response = await client.get("/conflict")
    assert response.status_code == 409
    assert response.json()["reason"] == "DUPLICATE_THING"
    assert response.json()["detail"] == "Already there."


async def test_unexpected_errors_are_500_without_internals(client):
    response = await client.get("/boom", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert "secret internals" not in response.text
    assert response.json()["reason"] == "INTERNAL"
    # the request id survives the crash, so support can find the log line
    assert response.json()["request_id"] == "crash-1"
    assert response.headers["x-request-id"] == "crash-1"


async def test_unknown_route_is_a_problem(client):
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_metrics_expose_http_and_pool(client):
    await client.post("/items", json=[{"sku": "ABC", "quantity": 1}])
    text = (await client.get("/metrics")).text
    assert (
        'vanity_http_requests_total{method="POST",route="/items",service="demo",status="200"}'
        in text
    )
    assert "vanity_http_request_duration_seconds_bucket" in text
    assert "vanity_db_pool_checked_out" in text


async def test_readiness_fails_while_the_database_is_unreachable(mariadb_url, tmp_path):
    """Inject the outage: the service reaches MariaDB through a proxy the test cuts."""
    url = make_url(mariadb_url)
    proxy = await TcpProxy(url.host, url.port or 3306).start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = make_app(proxied, tmp_path)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            assert (await client.get("/readyz")).status_code == 200
            await proxy.cut()
            down = await client.get("/readyz")
            assert down.status_code == 503
            assert down.json()["checks"]["database"].startswith("failed")
            assert (await client.get("/healthz")).status_code == 200  # alive, just not ready
            await proxy.restore()
            # pool_pre_ping replaces the dead pooled connection on the next checkout
            assert (await client.get("/readyz")).status_code == 200
    await proxy.cut()


async def test_a_lost_database_is_a_503_problem_not_a_500(mariadb_url, tmp_path):
    """The connection to MariaDB is cut under a request's feet: the client gets a retryable 503
    problem, and the same route answers again once the database is back."""
    url = make_url(mariadb_url)
    proxy = await TcpProxy(url.host, url.port or 3306).start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = make_app(proxied, tmp_path)
    try:
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
                assert (await client.get("/count")).json() == {"one": 1}
                await proxy.cut()
                down = await client.get("/count")
                assert down.status_code == 503
                assert down.headers["content-type"].startswith("application/problem+json")
                assert down.headers["retry-after"] == "1"
                assert down.json()["reason"] == "DATABASE_UNAVAILABLE"
                await proxy.restore()
                assert (await client.get("/count")).json() == {"one": 1}
    finally:
        await proxy.cut()
