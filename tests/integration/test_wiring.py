"""Two real services wired together: checkout's ports call inventory over gRPC.

Proves the plumbing every saga step relies on: the gRPC round trip through a port, the W3C
trace context and the request id crossing the hop, gRPC health, the mapping of status + reason
to checkout's outcomes, a dependency that is down, and a Celery task in a worker process
calling another service through its container's ports.
"""

from __future__ import annotations

import asyncio
import json
import threading

import grpc
import pytest
from asgi_lifespan import LifespanManager
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from vanity.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from vanity_checkout import tasks as checkout_tasks
from vanity_checkout.bootstrap import build_container as build_checkout
from vanity_checkout.ports import InsufficientStock, ReservationStatus, SkuAvailability
from vanity_checkout.settings import CheckoutSettings
from vanity_common.context import request_id_var
from vanity_common.errors import REASON_METADATA_KEY
from vanity_common.grpc_client import DependencyUnavailable
from vanity_common.migrations import migrate
from vanity_common.tasks import AsyncBridge, make_celery
from vanity_inventory.app import create_app as create_inventory
from vanity_inventory.settings import InventorySettings


async def start_inventory(tmp_path):
    """Inventory's app with its gRPC server on a free port: 12 LIP-001 on hand, 2 held."""
    inventory_db = f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}"
    await migrate("vanity_inventory", inventory_db)
    app = create_inventory(
        InventorySettings(
            database_url=inventory_db,
            data_dir=tmp_path,
            grpc_port=0,
            low_stock_notifications=False,
        )
    )
    manager = LifespanManager(app)
    await manager.__aenter__()
    stock = app.state.container.inventory
    await stock.set_stock("LIP-001", 12, "test stock", actor="test")
    await stock.reserve("order-1", [("LIP-001", 2)], ttl_seconds=600)
    return manager, app.state.grpc_port


@pytest.fixture
async def inventory_port(tmp_path):
    manager, port = await start_inventory(tmp_path)
    try:
        yield port
    finally:
        await manager.__aexit__(None, None, None)


@pytest.fixture
async def checkout(tmp_path, inventory_port):
    checkout_db = f"sqlite+aiosqlite:///{tmp_path / 'checkout.db'}"
    await migrate("vanity_checkout", checkout_db)
    settings = CheckoutSettings(
        database_url=checkout_db,
        data_dir=tmp_path,
        grpc_enabled=False,
        inventory_grpc_target=f"127.0.0.1:{inventory_port}",
    )
    async with build_checkout(settings) as services:
        yield services


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.clear()


async def test_port_round_trip_carries_trace_and_request_id(capsys, checkout, spans):
    # capsys first: the services bind their log handler to the captured stdout.
    tracer = trace.get_tracer("test")
    token = request_id_var.set("wiring-test-1")
    try:
        with tracer.start_as_current_span("checkout step", kind=SpanKind.SERVER) as step:
            items = await checkout.ports.inventory.availability(["LIP-001", "NOPE"])
    finally:
        request_id_var.reset(token)
    assert items == [
        SkuAvailability("LIP-001", known=True, available=10),
        SkuAvailability("NOPE", known=False, available=0),
    ]

    finished = spans.get_finished_spans()
    grpc_server = next(
        s for s in finished if s.kind == SpanKind.SERVER and "GetAvailability" in s.name
    )
    grpc_client = next(
        s for s in finished if s.kind == SpanKind.CLIENT and "GetAvailability" in s.name
    )
    trace_id = step.get_span_context().trace_id
    assert grpc_client.context.trace_id == trace_id
    assert grpc_server.context.trace_id == trace_id
    assert grpc_server.parent.span_id == grpc_client.context.span_id

    # Inventory's gRPC server logs with checkout's request id (found by its logger: both
    # services share this process).
    token = request_id_var.set("wiring-test-2")
    try:
        assert await checkout.ports.inventory.reservation("never-reserved") is None
    finally:
        request_id_var.reset(token)
    logs = [json.loads(ln) for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")]
    grpc_lines = [
        e
        for e in logs
        if e.get("request_id") == "wiring-test-2" and e["logger"] == "vanity_common.grpc_server"
    ]
    assert grpc_lines, "the gRPC server logged nothing with the propagated request id"


async def test_ports_map_status_and_reason_to_outcomes(checkout):
    inventory = checkout.ports.inventory
    with pytest.raises(InsufficientStock) as short:
        await inventory.reserve("order-2", [("LIP-001", 11)], ttl_seconds=60)
    assert short.value.reason == "INSUFFICIENT_STOCK"
    assert short.value.failure.code == grpc.StatusCode.FAILED_PRECONDITION
    assert await inventory.reservation("order-2") is None
    held = await inventory.reservation("order-1")
    assert held.status == ReservationStatus.ACTIVE and held.lines == {"LIP-001": 2}
    committed = await inventory.commit("order-1")
    assert committed.status == ReservationStatus.COMMITTED


async def test_grpc_health_and_error_trailer(inventory_port):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{inventory_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "vanity.inventory.v1.InventoryService"):
            answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await stub.GetAvailability(inventory_pb2.GetAvailabilityRequest(skus=[]))
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (REASON_METADATA_KEY, "INVALID") in tuple(failure.value.trailing_metadata())


async def test_a_dependency_down_is_unavailable_not_a_hang(tmp_path):
    """A port to an unreachable inventory fails within its deadline as a 503 outcome."""
    settings = CheckoutSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'checkout.db'}",
        data_dir=tmp_path,
        inventory_grpc_target="127.0.0.1:9",
        grpc_default_timeout_s=1.0,
    )
    async with build_checkout(settings) as services:
        with pytest.raises(DependencyUnavailable) as down:
            await asyncio.wait_for(services.ports.inventory.availability(["X"]), 10)
    assert down.value.http_status == 503 and down.value.reason == "DEPENDENCY_UNAVAILABLE"
    assert down.value.failure.code in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    )


def test_a_celery_task_calls_another_service_through_the_worker_container(tmp_path, monkeypatch):
    """A task runs as in a worker process: synchronously, its coroutines on the bridge's loop,
    its dependencies from `vanity_checkout.tasks.container()` (built from the environment)."""
    ready = threading.Event()
    box: dict = {}

    def serve_inventory() -> None:
        async def main() -> None:
            manager, box["port"] = await start_inventory(tmp_path)
            box["stop"] = asyncio.Event()
            box["loop"] = asyncio.get_running_loop()
            ready.set()
            await box["stop"].wait()
            await manager.__aexit__(None, None, None)

        asyncio.run(main())

    server = threading.Thread(target=serve_inventory, daemon=True)
    server.start()
    assert ready.wait(30), "inventory did not start"
    worker_bridge = AsyncBridge()  # this test's worker process: a container of its own
    monkeypatch.setattr(checkout_tasks, "bridge", worker_bridge)
    monkeypatch.setenv("CHECKOUT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHECKOUT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'co.db'}")
    monkeypatch.setenv("CHECKOUT_INVENTORY_GRPC_TARGET", f"127.0.0.1:{box['port']}")
    celery_app = make_celery(CheckoutSettings(data_dir=tmp_path), include=[])

    @celery_app.task(name="checkout.test_available_units")
    def available_units(skus: list[str]) -> dict[str, int]:
        services = checkout_tasks.container()
        items = checkout_tasks.bridge.run(services.ports.inventory.availability(skus))
        return {i.sku: i.available for i in items}

    try:
        result = available_units.apply(args=[["LIP-001", "NOPE"]])
        assert result.get() == {"LIP-001": 10, "NOPE": 0}
        again = available_units.apply(args=[["LIP-001"]])
        assert again.get() == {"LIP-001": 10}
        # One container per worker process, reused by every task it runs.
        assert list(worker_bridge._resources) == ["checkout.container"]
        worker_bridge.run(checkout_tasks.container().aclose())
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        server.join(30)
