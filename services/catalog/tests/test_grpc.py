"""gRPC GetVariants: the price source for cart and checkout."""

from __future__ import annotations

import grpc
import pytest
from vanity.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from vanity_common.errors import grpc_reason

from .conftest import small_catalog


async def _stub(catalog):
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{catalog.app.state.grpc_port}")
    return channel, catalog_pb2_grpc.CatalogServiceStub(channel)


async def test_get_variants_reports_unknown_skus(catalog):
    await catalog.load(small_catalog())
    channel, stub = await _stub(catalog)
    async with channel:
        resp = await stub.GetVariants(
            catalog_pb2.GetVariantsRequest(
                skus=[
                    "VITAMIN-C-1",
                    "NOPE-1",
                    "RUBY-MATTE-0",
                    "VITAMIN-C-1",
                    "RUBY-MATTE-OFF",
                    "SECRET-0",
                    "x" * 300,
                ]
            )
        )
    by_sku = {v.sku: v for v in resp.variants}
    assert list(by_sku) == ["VITAMIN-C-1", "RUBY-MATTE-0", "RUBY-MATTE-OFF", "SECRET-0"]
    assert list(resp.unknown_skus) == ["NOPE-1", "x" * 300]
    vit = by_sku["VITAMIN-C-1"]
    assert (vit.price.amount_minor, vit.price.currency) == (6900, "EUR")
    assert vit.product_slug == "vitamin-c" and vit.product_name == "Vitamin C Serum"
    assert vit.brand_name == "Nordic Bloom" and vit.variant_name == "VITAMIN-C-1"
    assert vit.active is True and vit.image_url == "https://cdn.example/vitamin-c.jpg"
    assert vit.product_id.isdigit()
    assert by_sku["RUBY-MATTE-OFF"].active is False  # inactive variant
    assert by_sku["SECRET-0"].active is False  # draft product: known, not on sale


async def test_get_variants_sees_admin_price_changes_at_once(catalog):
    await catalog.load(small_catalog())
    resp = await catalog.client.get(
        "/api/v1/admin/products", params={"limit": 100}, headers=catalog.admin
    )
    pid = next(i["id"] for i in resp.json()["items"] if i["slug"] == "retinol")
    channel, stub = await _stub(catalog)
    async with channel:
        req = catalog_pb2.GetVariantsRequest(skus=["RETINOL-0"])
        assert (await stub.GetVariants(req)).variants[0].price.amount_minor == 5200
        await catalog.client.patch(
            f"/api/v1/admin/products/{pid}/variants/RETINOL-0",
            json={"price_minor": 4999},
            headers=catalog.admin,
        )
        v = (await stub.GetVariants(req)).variants[0]
        assert (v.price.amount_minor, v.active) == (4999, True)
        # RETINOL-0 is the product's only variant on sale: it stops selling with the product.
        await catalog.client.delete(f"/api/v1/admin/products/{pid}", headers=catalog.admin)
        v = (await stub.GetVariants(req)).variants[0]
        assert (v.price.amount_minor, v.active) == (4999, False)


@pytest.mark.parametrize("skus", [[], ["  "], [f"SKU-{i}" for i in range(501)]])
async def test_get_variants_rejects_empty_and_oversized_requests(catalog, skus):
    channel, stub = await _stub(catalog)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetVariants(catalog_pb2.GetVariantsRequest(skus=skus))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_reason(err.value) == "INVALID"


async def test_500_skus_is_allowed(catalog):
    await catalog.load(small_catalog())
    channel, stub = await _stub(catalog)
    async with channel:
        skus = ["RUBY-MATTE-0", *[f"MISSING-{i}" for i in range(499)]]
        resp = await stub.GetVariants(catalog_pb2.GetVariantsRequest(skus=skus))
    assert len(resp.variants) == 1 and len(resp.unknown_skus) == 499
