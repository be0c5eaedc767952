"""Two real services wired together: checkout's HTTP handler calls inventory over gRPC.

Proves the plumbing every saga step relies on: the gRPC round trip, the W3C trace context and the
request id crossing the HTTP→gRPC hop, gRPC health, and error mapping to status + reason.
"""

import json

import grpc
import httpx
import pytest
from asgi_lifespan import LifespanManager
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from vanity.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from vanity_checkout.app import create_app as create_checkout
from vanity_checkout.settings import CheckoutSettings
from vanity_common.errors import REASON_METADATA_KEY
from vanity_common.migrations import migrate
from vanity_inventory.app import create_app as create_inventory
from vanity_inventory.settings import InventorySettings


@pytest.fixture
async def inventory_and_checkout(tmp_path):
    inventory_db = f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}"
    checkout_db = f"sqlite+aiosqlite:///{tmp_path / 'checkout.db'}"
    await migrate("vanity_inventory", inventory_db)
    await migrate("vanity_checkout", checkout_db)
    inventory = create_inventory(
        InventorySettings(database_url=inventory_db, data_dir=tmp_path, grpc_port=0)
    )
    async with LifespanManager(inventory):
        # Stock through inventory's own use cases: 12 on hand, 2 held by an order.
        await inventory.state.inventory.set_stock("LIP-001", 12, "test stock", actor="test")
        await inventory.state.inventory.reserve("order-1", [("LIP-001", 2)], ttl_seconds=600)
        port = inventory.state.grpc_port
        checkout = create_checkout(
            CheckoutSettings(
                database_url=checkout_db,
                data_dir=tmp_path,
                grpc_enabled=False,
                inventory_grpc_target=f"127.0.0.1:{port}",
            )
        )
        async with LifespanManager(checkout):
            transport = httpx.ASGITransport(app=checkout)
            async with httpx.AsyncClient(transport=transport, base_url="http://checkout") as c:
                yield c, port


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.clear()


async def test_http_to_grpc_round_trip_carries_trace_and_request_id(
    capsys, inventory_and_checkout, spans
):
    # capsys first: the services bind their log handler to the captured stdout.
    client, _ = inventory_and_checkout
    response = await client.get(
        "/internal/v1/probe/availability",
        params={"sku": ["LIP-001", "NOPE"]},
        headers={"X-Request-ID": "wiring-test-1"},
    )
    assert response.status_code == 200
    assert response.json()["items"] == [
        {"sku": "LIP-001", "known": True, "available": 10},
        {"sku": "NOPE", "known": False, "available": 0},
    ]

    finished = spans.get_finished_spans()
    http_server = next(s for s in finished if s.kind == SpanKind.SERVER and "probe" in s.name)
    grpc_server = next(
        s for s in finished if s.kind == SpanKind.SERVER and "GetAvailability" in s.name
    )
    grpc_client = next(
        s for s in finished if s.kind == SpanKind.CLIENT and "GetAvailability" in s.name
    )
    trace_id = http_server.context.trace_id
    assert grpc_client.context.trace_id == trace_id
    assert grpc_server.context.trace_id == trace_id
    assert grpc_server.parent.span_id == grpc_client.context.span_id

    # The gRPC server's log line carries checkout's request id and the same trace id as the
    # HTTP request's. (Both apps share this process, so the line is found by its logger.)
    await client.get(
        "/internal/v1/probe/availability",
        params={"sku": [""]},
        headers={"X-Request-ID": "wiring-test-2"},
    )
    logs = [json.loads(ln) for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")]
    mine = [entry for entry in logs if entry.get("request_id") == "wiring-test-2"]
    grpc_lines = [e for e in mine if e["logger"] == "vanity_common.grpc_server"]
    access_lines = [e for e in mine if e["logger"] == "vanity.access"]
    assert grpc_lines, "the gRPC server logged nothing with the propagated request id"
    assert grpc_lines[0]["trace_id"] == access_lines[0]["trace_id"]
    assert len(grpc_lines[0]["trace_id"]) == 32


async def test_grpc_health_and_error_mapping(inventory_and_checkout):
    _, port = inventory_and_checkout
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "vanity.inventory.v1.InventoryService"):
            answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await stub.GetAvailability(inventory_pb2.GetAvailabilityRequest(skus=[]))
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (REASON_METADATA_KEY, "INVALID") in tuple(failure.value.trailing_metadata())


async def test_grpc_dependency_down_is_a_problem_not_a_hang(tmp_path):
    """Checkout with inventory unreachable answers 503 quickly, within its deadline."""
    checkout_db = f"sqlite+aiosqlite:///{tmp_path / 'checkout.db'}"
    await migrate("vanity_checkout", checkout_db)
    checkout = create_checkout(
        CheckoutSettings(
            database_url=checkout_db,
            data_dir=tmp_path,
            grpc_enabled=False,
            inventory_grpc_target="127.0.0.1:9",
            grpc_default_timeout_s=1.0,
        )
    )
    async with LifespanManager(checkout):
        transport = httpx.ASGITransport(app=checkout, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://checkout") as client:
            response = await client.get("/internal/v1/probe/availability", params={"sku": "X"})
    assert response.status_code == 503
    assert response.json()["reason"] == "DEPENDENCY_UNAVAILABLE"
