"""Cache invalidation goes through catalog's outbox: a cache that cannot be invalidated right
after an admin write does not fail the write, and is invalidated once it can be."""

from __future__ import annotations

from sqlalchemy import select, update
from vanity_common.outbox import outbox_table, utcnow

from .conftest import small_catalog


async def test_a_failed_invalidation_is_retried_until_the_cache_is_fresh(sqlite_catalog):
    catalog = sqlite_catalog
    await catalog.load(small_catalog())
    container = catalog.app.state.container
    cache = container.cache
    working_invalidate = cache.invalidate

    async def unreachable() -> None:
        raise ConnectionError("cache unreachable")

    detail = (await catalog.client.get("/api/v1/products/ruby-matte")).json()
    cache.invalidate = unreachable
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{detail['id']}", json={"name": "Ruby Woo"}, headers=catalog.admin
    )
    assert resp.status_code == 200  # the change committed: the failure is the outbox's to retry
    stale = (await catalog.client.get("/api/v1/products/ruby-matte")).json()
    assert stale["name"] == detail["name"]  # served from the cache nobody could invalidate
    async with container.db.connect() as conn:
        [row] = (await conn.execute(select(outbox_table))).all()
    assert row.status == "pending" and row.attempts >= 1
    assert "cache unreachable" in row.last_error

    cache.invalidate = working_invalidate  # the cache is back, and the retry is due
    async with container.db.connect(write=True) as conn:
        await conn.execute(update(outbox_table).values(due_at=utcnow()))
    await container.writer.outbox.deliver([row.id])
    fresh = (await catalog.client.get("/api/v1/products/ruby-matte")).json()
    assert fresh["name"] == "Ruby Woo"
    async with container.db.connect() as conn:
        assert (await conn.execute(select(outbox_table.c.status))).scalars().all() == ["sent"]
