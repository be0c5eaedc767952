"""REST (public + admin auth) and gRPC through the real app and a real grpc.aio server; tasks."""

from __future__ import annotations

import asyncio
import json

import grpc
import httpx
import pytest
from asgi_lifespan import LifespanManager
from vanity.inventory.v1 import inventory_pb2 as pb
from vanity.inventory.v1 import inventory_pb2_grpc as pb_grpc
from vanity_common.errors import grpc_reason
from vanity_common.migrations import migrate
from vanity_inventory.app import create_app
from vanity_inventory.settings import InventorySettings


@pytest.fixture
async def running(database_url, token_minter, tmp_path, clock, notifications):
    await migrate("vanity_inventory", database_url)
    settings = InventorySettings(
        database_url=database_url,
        keys_dir=token_minter.keys_dir,
        grpc_port=0,
        data_dir=tmp_path,
        log_json=False,
    )
    app = create_app(settings, clock=clock, notifier=notifications)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inventory") as client:
            admin = token_minter.headers(token_minter.admin())
            yield app, client, admin


async def test_admin_api_requires_the_inventory_admin(running, token_minter):
    _, client, admin = running
    customer = token_minter.headers(token_minter.token())
    catalog_admin = token_minter.headers(token_minter.admin(perms=("catalog",)))
    for method, path, body in [
        ("GET", "/api/v1/admin/stock", None),
        ("GET", "/api/v1/admin/stock/X", None),
        ("PUT", "/api/v1/admin/stock/X", {"on_hand": 1, "reason": "r"}),
        ("POST", "/api/v1/admin/stock/X", {"delta": 1, "reason": "r"}),
        ("GET", "/api/v1/admin/stock/X/ledger", None),
    ]:
        assert (await client.request(method, path, json=body)).status_code == 401
        assert (await client.request(method, path, json=body, headers=customer)).status_code == 403
        denied = await client.request(method, path, json=body, headers=catalog_admin)
        assert denied.status_code == 403
    assert (await client.get("/api/v1/admin/stock", headers=admin)).status_code == 200


async def test_admin_stock_flow(running):
    _, client, admin = running
    created = await client.put(
        "/api/v1/admin/stock/LIP-RED", json={"on_hand": 12, "reason": "delivery"}, headers=admin
    )
    assert created.status_code == 200, created.text
    assert created.json()["on_hand"] == 12 and created.json()["level"] == "in_stock"
    await client.put(
        "/api/v1/admin/stock/LIP-PINK", json={"on_hand": 2, "reason": "delivery"}, headers=admin
    )
    adjusted = await client.post(
        "/api/v1/admin/stock/LIP-RED", json={"delta": -9, "reason": "damaged"}, headers=admin
    )
    assert adjusted.json()["available"] == 3

    low = (await client.get("/api/v1/admin/stock?low=true", headers=admin)).json()
    assert [i["sku"] for i in low["items"]] == ["LIP-PINK", "LIP-RED"]
    page = (await client.get("/api/v1/admin/stock?limit=1", headers=admin)).json()
    assert page["next_cursor"] == "LIP-PINK"
    page2 = await client.get(
        f"/api/v1/admin/stock?limit=1&cursor={page['next_cursor']}", headers=admin
    )
    assert [i["sku"] for i in page2.json()["items"]] == ["LIP-RED"]

    ledger = (await client.get("/api/v1/admin/stock/LIP-RED/ledger?limit=1", headers=admin)).json()
    assert ledger["items"][0]["reason"] == "damaged"
    assert ledger["items"][0]["actor"] == "admin:admin-1"
    older = await client.get(
        f"/api/v1/admin/stock/LIP-RED/ledger?cursor={ledger['next_cursor']}", headers=admin
    )
    assert [i["kind"] for i in older.json()["items"]] == ["restock"]

    missing_reason = await client.post(
        "/api/v1/admin/stock/LIP-RED", json={"delta": 1}, headers=admin
    )
    assert missing_reason.status_code == 422
    assert missing_reason.json()["errors"][0]["field"] == "reason"
    blank = await client.put(
        "/api/v1/admin/stock/LIP-RED", json={"on_hand": 1, "reason": "  "}, headers=admin
    )
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "reason"
    negative = await client.put(
        "/api/v1/admin/stock/LIP-RED", json={"on_hand": -1, "reason": "x"}, headers=admin
    )
    assert negative.status_code == 422
    unknown = await client.post(
        "/api/v1/admin/stock/GHOST", json={"delta": 1, "reason": "x"}, headers=admin
    )
    assert unknown.status_code == 404 and unknown.json()["reason"] == "UNKNOWN_SKU"
    assert (await client.get("/api/v1/admin/stock/GHOST", headers=admin)).status_code == 404


async def test_public_availability(running):
    _, client, admin = running
    await client.put("/api/v1/admin/stock/A", json={"on_hand": 40, "reason": "r"}, headers=admin)
    await client.put("/api/v1/admin/stock/B", json={"on_hand": 1, "reason": "r"}, headers=admin)
    response = await client.get("/api/v1/availability?sku=A&sku=B&sku=C")
    assert response.status_code == 200
    assert response.json()["items"] == [
        {"sku": "A", "known": True, "level": "in_stock"},
        {"sku": "B", "known": True, "level": "low"},
        {"sku": "C", "known": False, "level": "out_of_stock"},
    ]
    assert (await client.get("/api/v1/availability")).status_code == 422


async def test_grpc_reserve_commit_release(running, clock):
    app, client, admin = running
    await client.put("/api/v1/admin/stock/G", json={"on_hand": 5, "reason": "r"}, headers=admin)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.state.grpc_port}") as channel:
        stub = pb_grpc.InventoryServiceStub(channel)
        request = pb.ReserveRequest(
            order_id="ord-1", lines=[pb.ReservationLine(sku="G", quantity=2)], ttl_seconds=60
        )
        reserved = await stub.Reserve(request)
        assert reserved.status == pb.RESERVATION_STATUS_ACTIVE
        assert reserved.expires_at.ToDatetime().isoformat() == "2026-01-01T12:01:00"
        assert (await stub.Reserve(request)).reservation_id == reserved.reservation_id

        with pytest.raises(grpc.aio.AioRpcError) as short:
            await stub.Reserve(
                pb.ReserveRequest(
                    order_id="ord-2",
                    lines=[pb.ReservationLine(sku="G", quantity=4)],
                    ttl_seconds=60,
                )
            )
        assert short.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert grpc_reason(short.value) == "INSUFFICIENT_STOCK"
        with pytest.raises(grpc.aio.AioRpcError) as mismatch:
            await stub.Reserve(
                pb.ReserveRequest(
                    order_id="ord-1",
                    lines=[pb.ReservationLine(sku="G", quantity=1)],
                    ttl_seconds=60,
                )
            )
        assert mismatch.value.code() == grpc.StatusCode.ALREADY_EXISTS
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await stub.Reserve(pb.ReserveRequest(order_id="ord-3", ttl_seconds=60))
        assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        committed = await stub.Commit(pb.CommitRequest(order_id="ord-1"))
        assert committed.status == pb.RESERVATION_STATUS_COMMITTED
        assert (await stub.Commit(pb.CommitRequest(order_id="ord-1"))).status == (
            pb.RESERVATION_STATUS_COMMITTED
        )
        with pytest.raises(grpc.aio.AioRpcError) as not_found:
            await stub.Commit(pb.CommitRequest(order_id="nope"))
        assert not_found.value.code() == grpc.StatusCode.NOT_FOUND
        assert grpc_reason(not_found.value) == "RESERVATION_NOT_FOUND"

        await stub.Reserve(
            pb.ReserveRequest(
                order_id="ord-4", lines=[pb.ReservationLine(sku="G", quantity=1)], ttl_seconds=5
            )
        )
        released = await stub.Release(pb.ReleaseRequest(order_id="ord-4", reason="declined"))
        assert released.status == pb.RESERVATION_STATUS_RELEASED
        noop = await stub.Release(pb.ReleaseRequest(order_id="never"))
        assert noop.status == pb.RESERVATION_STATUS_RELEASED and not noop.lines

        await stub.Reserve(
            pb.ReserveRequest(
                order_id="ord-5", lines=[pb.ReservationLine(sku="G", quantity=1)], ttl_seconds=5
            )
        )
        clock.advance(5)
        with pytest.raises(grpc.aio.AioRpcError) as expired:
            await stub.Commit(pb.CommitRequest(order_id="ord-5"))
        assert expired.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert grpc_reason(expired.value) == "RESERVATION_EXPIRED"
        got = await stub.GetReservation(pb.GetReservationRequest(order_id="ord-5"))
        assert got.status == pb.RESERVATION_STATUS_EXPIRED

        availability = await stub.GetAvailability(pb.GetAvailabilityRequest(skus=["G", "Z"]))
        assert [(i.sku, i.known, i.available) for i in availability.items] == [
            ("G", True, 3),
            ("Z", False, 0),
        ]


def test_tasks_are_registered_and_notify_writes_a_notification_once(tmp_path, monkeypatch):
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INVENTORY_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'inv.db'}")
    asyncio.run(migrate("vanity_inventory", f"sqlite+aiosqlite:///{tmp_path / 'inv.db'}"))
    from vanity_common.tasks import bridge
    from vanity_inventory import tasks, worker

    bridge._resources.pop("inventory.container", None)

    names = {entry["task"] for entry in worker.BEAT_SCHEDULE.values()}
    assert names == {
        "inventory.expire_reservations",
        "inventory.audit_ledger",
        "inventory.sweep_low_stock",
    }
    assert worker.BEAT_SCHEDULE["inventory-expire-reservations"]["schedule"] <= 60
    registered = set(worker.celery_app.tasks.keys())
    assert names | {"inventory.notify_low_stock"} <= registered
    try:
        assert tasks.notify_low_stock.apply(args=["LIP-1", 2, 5], task_id="m-1").get() is True
        # The relay delivers at least once: the same message id again writes nothing.
        assert tasks.notify_low_stock.apply(args=["LIP-1", 2, 5], task_id="m-1").get() is False
    finally:
        container = bridge._resources.pop("inventory.container", None)
        if container is not None:
            bridge.run(container.db.dispose())
    [line] = (tmp_path / "notifications" / "low-stock.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["sku"] == "LIP-1" and record["available"] == 2


async def test_oversized_ledger_cursor_is_422(running):
    _, client, admin = running
    response = await client.get(
        "/api/v1/admin/stock/ANY-SKU/ledger", params={"cursor": 2**63}, headers=admin
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"
