"""The demo catalog: deterministic, realistic in size, committed, and loaded idempotently."""

from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import func, select
from vanity_catalog.domain import SKU_RE, SLUG_RE
from vanity_catalog.seed import DEMO_FILE, load_catalog, load_demo
from vanity_catalog.tables import categories, products, variants
from vanity_common.settings import REPO_ROOT


def test_generator_is_deterministic_and_the_committed_file_is_current():
    from tools.catalog_demo import generate, render

    first, second = generate(), generate()
    assert first == second
    assert DEMO_FILE.exists(), "run: uv run python -m tools.catalog_demo"
    assert DEMO_FILE.read_text(encoding="utf-8") == render(first), (
        "deploy/demo/catalog.json is stale: uv run python -m tools.catalog_demo"
    )


def test_nothing_at_runtime_imports_the_generator():
    """The service's processes read the committed JSON; the generator is a tool."""
    probe = (
        "import sys, vanity_catalog.__main__, vanity_catalog.seed;"
        "print(sorted(m for m in sys.modules if m.startswith(('tools', 'vanity_catalog.demo'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert loaded.stdout.strip() == "[]"


def test_demo_catalog_shape():
    data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    assert set(data) >= {"brands", "categories", "products"}
    assert len(data["brands"]) >= 20
    assert 190 <= len(data["products"]) <= 250
    skus = [v["sku"] for p in data["products"] for v in p["variants"]]
    assert len(skus) >= 500 and len(set(skus)) == len(skus)
    assert all(SKU_RE.match(s) for s in skus)
    slugs = [p["slug"] for p in data["products"]]
    assert len(set(slugs)) == len(slugs) and all(SLUG_RE.match(s) for s in slugs)
    for p in data["products"]:
        assert any(v["active"] for v in p["variants"])
        for v in p["variants"]:
            assert v["currency"] == "EUR" and isinstance(v["price_minor"], int)
            assert v["price_minor"] > 0 and v["name"]

    def depth(nodes):
        return 1 + max((depth(n["children"]) for n in nodes), default=0) if nodes else 0

    assert depth(data["categories"]) == 3


async def test_seed_loads_the_demo_catalog_idempotently(catalog):
    data = load_demo()
    first = await load_catalog(catalog.app.state.container.db, data)
    assert first["products"] == len(data["products"])
    second = await load_catalog(catalog.app.state.container.db, data)
    assert second == {"brands": 0, "categories": 0, "products": 0, "variants": 0}
    async with catalog.app.state.container.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(products)) == 200
        assert await conn.scalar(select(func.count()).select_from(variants)) >= 500
        assert await conn.scalar(select(func.max(categories.c.depth))) == 3
    await catalog.app.state.container.cache.invalidate()
    walked = await catalog.all_pages({"sort": "price_asc"}, limit=100)
    assert len(walked) == sum(1 for p in data["products"] if p["status"] == "active")
    lips = await catalog.all_pages({"category": "lips"}, limit=100)
    assert lips and all(
        i["category"]["slug"] in {"lipstick", "lip-gloss", "lip-liner", "lip-balm"} for i in lips
    )
