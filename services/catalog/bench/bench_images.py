"""Product image figures: demo seeding (recipes only), first and repeated requests of a listing
page's pictures, and one photo upload's processing. A throwaway SQLite database and folder.

    .venv/bin/python services/catalog/bench/bench_images.py
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import select
from vanity_catalog.bootstrap import build_container
from vanity_catalog.images.codec import process_upload
from vanity_catalog.images.rules import UploadLimits
from vanity_catalog.seed import load_catalog, load_demo
from vanity_catalog.seed_images import attach_demo_images
from vanity_catalog.settings import CatalogSettings
from vanity_catalog.tables import products
from vanity_common.migrations import migrate


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f} ms"


def _photo(width: int, height: int) -> bytes:
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    ImageDraw.Draw(image).ellipse([width * 0.2, height * 0.2, width * 0.8, height * 0.8], "#b03c5a")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="vanity-images-bench-") as tmp:
        await _run(Path(tmp))


async def _run(folder: Path) -> None:
    url = f"sqlite+aiosqlite:///{folder}/catalog.db"
    await migrate("vanity_catalog", url)
    settings = CatalogSettings(data_dir=folder, database_url=url, redis_url=None, log_json=False)
    data = load_demo()
    async with build_container(settings, pool_size=2) as catalog:
        for run in ("first", "second"):
            started = time.perf_counter()
            await load_catalog(catalog.db, data)
            loaded = _ms(started)
            started = time.perf_counter()
            counts = await attach_demo_images(catalog.db, catalog.images, data)
            print(f"seed, {run} run: load_catalog {loaded}, pictures {_ms(started)} {counts}")
        async with catalog.db.connect() as conn:
            rows = await conn.execute(select(products.c.images).limit(24))
            keys = [r.images[0] for r in rows]
        for label in ("drawn on first request", "stored"):
            started = time.perf_counter()
            await asyncio.gather(*(catalog.images.variant(k, "480") for k in keys))
            print(f"24 card pictures (480 px), {label}: {_ms(started)}")
    photo = _photo(4000, 3000)
    started = time.perf_counter()
    encoded = process_upload(photo, UploadLimits(10 << 20, 40_000_000), "image/jpeg")
    sizes = {w: f"{len(b) // 1024} KB" for w, b in encoded.variants.items()}
    print(
        f"12 MP JPEG upload ({len(photo) // 1024} KB): checked and re-encoded with 3 widths in "
        f"{_ms(started)}; master {len(encoded.master) // 1024} KB, widths {sizes}"
    )


if __name__ == "__main__":
    asyncio.run(main())
