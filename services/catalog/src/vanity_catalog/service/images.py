"""Product image use cases: anyone reads a variant (made from the master or the placeholder
recipe on first request, then stored); admins upload an image (checked, re-encoded, stored
with its variants, attached to the product or to one of its variants)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import grpc
import orjson
from vanity_common.auth import Principal
from vanity_common.errors import Conflict, FieldError, InvalidArgument, NotFound, ServiceError

from vanity_catalog import repository as repo
from vanity_catalog.images import codec
from vanity_catalog.images.placeholder import Placeholder
from vanity_catalog.images.placeholder import render as draw_placeholder
from vanity_catalog.images.rules import (
    PLACEHOLDERS,
    SIZES,
    UPLOAD_FIELD,
    ImageKey,
    UploadLimits,
    byte_size_problem,
    master_name,
    variant_name,
)
from vanity_catalog.images.store import ImageStore
from vanity_catalog.service.products import admin_product_view
from vanity_catalog.service.writer import AdminWriter
from vanity_catalog.tables import products, variants

WEBP = "image/webp"
_RELOAD_PLACEHOLDERS_S = 5.0  # an unknown key re-reads the recipes at most this often
MAX_IMAGES_PER_PRODUCT = 12  # as many as an admin may list in a product's `images`


@dataclass(frozen=True)
class ServedImage:
    content: bytes
    etag: str  # strong: a hash of the bytes

    @staticmethod
    def of(content: bytes) -> ServedImage:
        return ServedImage(
            content, '"' + hashlib.blake2b(content, digest_size=16).hexdigest() + '"'
        )


def _not_found(key: str, size: int | str) -> NotFound:
    return NotFound(f"No image {key[:80]} at size {str(size)[:8]}.", reason="IMAGE_NOT_FOUND")


class ImageLibrary:
    """Reads and writes images through the store; the CPU work (decoding, drawing, encoding)
    runs in worker threads, at most `slots` at a time (memory is bounded by them)."""

    def __init__(self, store: ImageStore, *, slots: int = 2) -> None:
        self.store = store
        self.slots = asyncio.Semaphore(slots)
        self._making: dict[str, asyncio.Future[bytes]] = {}
        self._placeholders: dict[str, dict[str, Any]] | None = None  # the recipes, by key
        self._placeholders_read = float("-inf")
        self._placeholders_lock = asyncio.Lock()

    async def cpu(self, work: Callable[[], Any]) -> Any:
        async with self.slots:
            return await asyncio.to_thread(work)

    async def variant(self, key_text: str, size_text: str) -> ServedImage:
        key = ImageKey.parse(key_text)
        size = next((s for s in SIZES if str(s) == size_text), None)  # one spelling per size
        if key is None or size is None:
            raise _not_found(key_text, size_text)
        content = await self.store.get(variant_name(key, size))
        if content is None:
            content = await self._make_once(key, size)
        return ServedImage.of(content)

    async def _make_once(self, key: ImageKey, size: int) -> bytes:
        """One making per variant however many ask at once: the first listing page after a seed
        asks for every card's picture together."""
        name = variant_name(key, size)
        task = self._making.get(name)
        if task is None:
            task = asyncio.ensure_future(self._make(key, size))
            self._making[name] = task
            task.add_done_callback(lambda _: self._making.pop(name, None))
        return await asyncio.shield(task)  # a client that goes away does not stop the others

    async def _make(self, key: ImageKey, size: int) -> bytes:
        placeholder = await self._placeholder(key)
        if placeholder is not None:

            def work() -> bytes:
                return codec.encode_webp(draw_placeholder(placeholder, size))

        else:
            master = await self.store.get(master_name(key))
            if master is None:
                raise _not_found(str(key), size)
            work = partial(codec.variant_from_master, master, key, size)

        content = await self.cpu(work)
        await self.store.put(variant_name(key, size), content, WEBP)
        return content

    async def save_upload(self, encoded: codec.Encoded) -> None:
        """The master and every variant. Content-addressed: an image already stored (the same
        picture uploaded again) is not written twice."""
        if await self.store.exists(master_name(encoded.key)):
            return
        await asyncio.gather(
            *(
                self.store.put(variant_name(encoded.key, size), content, WEBP)
                for size, content in encoded.variants.items()
            )
        )
        # the master last: its presence says the whole set is there
        await self.store.put(master_name(encoded.key), encoded.master, WEBP)

    async def _recipes(self, *, fresh: bool = False) -> dict[str, dict[str, Any]]:
        async with self._placeholders_lock:
            stale = time.monotonic() - self._placeholders_read > _RELOAD_PLACEHOLDERS_S
            if self._placeholders is None or (fresh and stale):
                raw = await self.store.get(PLACEHOLDERS)
                self._placeholders = orjson.loads(raw) if raw else {}
                self._placeholders_read = time.monotonic()
            return self._placeholders

    async def _placeholder(self, key: ImageKey) -> Placeholder | None:
        recipe = (await self._recipes()).get(str(key))
        if recipe is None:  # perhaps seeded since (by another process): read them again
            recipe = (await self._recipes(fresh=True)).get(str(key))
        return Placeholder.from_dict(recipe) if recipe is not None else None

    async def save_placeholders(self, placeholders: list[Placeholder]) -> int:
        """Adds recipes to the store's one recipe object (written only when something is new);
        returns how many were new. Their pictures are drawn when first asked for."""
        async with self._placeholders_lock:
            raw = await self.store.get(PLACEHOLDERS)  # always the stored one: no lost update
            recipes = orjson.loads(raw) if raw else {}
            new = {str(p.key): p.as_dict() for p in placeholders if str(p.key) not in recipes}
            if new:
                recipes.update(new)
                body = orjson.dumps(recipes, option=orjson.OPT_SORT_KEYS)
                await self.store.put(PLACEHOLDERS, body, "application/json")
            self._placeholders = recipes
            self._placeholders_read = time.monotonic()
        return len(new)


def too_large(limits: UploadLimits, size: int) -> ServiceError | None:
    """413 Content Too Large, naming the field."""
    problem = byte_size_problem(limits, size)
    if problem is None:
        return None
    return ServiceError(
        "The image is too large.",
        reason="IMAGE_TOO_LARGE",
        errors=[problem],
        http_status=413,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
    )


class ImageAdmin:
    def __init__(self, library: ImageLibrary, writer: AdminWriter, limits: UploadLimits) -> None:
        self.library = library
        self.writer = writer
        self.db = writer.db
        self.limits = limits

    async def upload(
        self,
        actor: Principal,
        product_id: int,
        content: bytes,
        content_type: str | None,
        sku: str | None = None,
    ) -> tuple[dict[str, Any], ImageKey]:
        """Checks, re-encodes and stores the image, then attaches it: to the product's images
        (appended), or as the image of its variant `sku`. Returns the admin view and the key."""
        if error := too_large(self.limits, len(content)):
            raise error
        if not content:
            raise InvalidArgument(
                "No image was sent.",
                reason="IMAGE_REQUIRED",
                errors=[FieldError(UPLOAD_FIELD, "required: send the image as the request body")],
            )
        await self._check_target(product_id, sku)  # before any decoding
        encoded = await self.library.cpu(
            partial(codec.process_upload, content, self.limits, content_type)
        )
        await self.library.save_upload(encoded)
        ref = str(encoded.key)

        async def work(conn):
            if not await repo.lock_product(conn, product_id):
                raise _no_product(product_id)
            now = self.writer.clock()
            if sku is None:
                before = list((await repo.product_by_id(conn, product_id)).images or [])
                if ref not in before:
                    if len(before) >= MAX_IMAGES_PER_PRODUCT:
                        raise Conflict(
                            f"A product has at most {MAX_IMAGES_PER_PRODUCT} images.",
                            reason="TOO_MANY_IMAGES",
                            errors=[FieldError("images", "remove an image first")],
                        )
                    after = [*before, ref]
                    await repo.update_row(
                        conn, products, product_id, {"images": after, "updated_at": now}
                    )
                    await self.writer.audit(
                        conn, actor, "product.image_add", "product", product_id,
                        {"images": [before, after]},
                    )  # fmt: skip
            else:
                variant = await repo.variant_by_sku(conn, product_id, sku)
                if variant is None:
                    raise _no_variant(product_id, sku)
                if variant.image != ref:
                    await repo.update_row(
                        conn, variants, variant.id, {"image": ref, "updated_at": now}
                    )
                    await self.writer.audit(
                        conn, actor, "variant.image_set", "variant", sku, {"image": [variant.image, ref]}
                    )  # fmt: skip
            return await admin_product_view(conn, product_id)

        return await self.writer.write(work), encoded.key

    async def _check_target(self, product_id: int, sku: str | None) -> None:
        async with self.db.connect() as conn:
            if await repo.product_by_id(conn, product_id) is None:
                raise _no_product(product_id)
            if sku is not None and sku not in {
                v.sku for v in await repo.variants_of(conn, product_id)
            }:
                raise _no_variant(product_id, sku)


def _no_product(product_id: int) -> NotFound:
    return NotFound(f"No product {product_id}.", reason="PRODUCT_NOT_FOUND")


def _no_variant(product_id: int, sku: str) -> NotFound:
    return NotFound(
        f"No variant {sku[:64]} on product {product_id}.",
        reason="SKU_NOT_FOUND",
        errors=[FieldError("sku", "not a variant of this product")],
    )
