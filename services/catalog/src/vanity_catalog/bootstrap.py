"""Catalog's composition root: everything its entry points use, built without FastAPI.

The web app (app.py), the gRPC servicer and the CLI call `build_container`; tests pass
overrides (a cache, a database).
"""

from __future__ import annotations

from dataclasses import dataclass

from vanity_common.bootstrap import Clock, ReadinessCheck, ServiceContainer, utcnow
from vanity_common.db import Database
from vanity_common.outbox import OutboxRelay

from vanity_catalog.cache import ReadCache, cache_from_settings
from vanity_catalog.images.rules import UploadLimits
from vanity_catalog.images.store import ImageStore, store_from_settings
from vanity_catalog.service import AdminWriter, BrowseService, ProductAdmin, TaxonomyAdmin
from vanity_catalog.service.images import ImageAdmin, ImageLibrary
from vanity_catalog.settings import CatalogSettings, load_settings


@dataclass(kw_only=True, eq=False)
class CatalogContainer(ServiceContainer):
    settings: CatalogSettings
    cache: ReadCache
    browse: BrowseService  # public reads and the internal price look-up
    products: ProductAdmin  # admin: products and variants
    taxonomy: TaxonomyAdmin  # admin: brands and categories
    writer: AdminWriter  # admin writes' unit of work, audit trail and cache invalidation
    images: ImageLibrary  # product images: served variants, placeholders (the ImageStore port)
    image_admin: ImageAdmin  # admin: image uploads
    # Cache-Control of the public reads (CATALOG_HTTP_MAX_AGE_SECONDS).
    cache_control: str

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        return {**super().readiness_checks(), "cache": self.cache.ping}

    def outbox_relays(self) -> list[OutboxRelay]:
        return [self.writer.outbox]  # cache invalidations (catalog runs no worker)


def build_container(
    settings: CatalogSettings | None = None,
    *,
    cache: ReadCache | None = None,
    clock: Clock = utcnow,
    db: Database | None = None,
    pool_size: int | None = None,
    image_store: ImageStore | None = None,
) -> CatalogContainer:
    settings = settings or load_settings()
    core = CatalogContainer.core(settings, db=db, pool_size=pool_size)
    cache = cache or cache_from_settings(settings)
    writer = AdminWriter(core["db"], cache, clock=clock)
    # Not a readiness check: without its image store the catalog still sells (pictures fail).
    image_store = image_store or store_from_settings(settings)
    images = ImageLibrary(image_store, slots=settings.image_processing_slots)
    limits = UploadLimits(settings.image_max_bytes, settings.image_max_pixels)
    container = CatalogContainer(
        **core,
        clock=clock,
        cache=cache,
        browse=BrowseService(core["db"], cache),
        products=ProductAdmin(writer, settings.currency),
        taxonomy=TaxonomyAdmin(writer),
        writer=writer,
        images=images,
        image_admin=ImageAdmin(images, writer, limits),
        cache_control=(
            f"public, max-age={settings.http_max_age_seconds}"
            if settings.http_max_age_seconds > 0
            else "public, no-cache"
        ),
    )
    container.on_close(cache.close)
    container.on_close(image_store.close)
    return container
