from __future__ import annotations

from typing import ClassVar

from vanity_catalog.images.settings import ImageSettings


class CatalogSettings(ImageSettings):  # ImageSettings: product image storage and upload limits
    service_name: ClassVar[str] = "catalog"
    default_http_port: ClassVar[int] = 8002
    default_grpc_port: ClassVar[int] = 50052

    # The shop's currency: every variant price is in it, so price filters and sorts compare like
    # with like.
    currency: str = "EUR"
    # Read cache: Redis when REDIS_URL is set, else in-process. 0 disables it (benchmarks, cold).
    cache_ttl_seconds: int = 300
    cache_enabled: bool = True
    cache_prefix: str = "vanity:catalog"
    cache_local_max_entries: int = 5000
    # Cache-Control max-age for public reads. 0 (default): "public, no-cache" so clients and the
    # gateway revalidate with the ETag on every use and never show a stale price.
    http_max_age_seconds: int = 0


def load_settings(**overrides) -> CatalogSettings:
    return CatalogSettings(**overrides)
