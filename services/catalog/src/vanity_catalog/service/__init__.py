"""Catalog use cases by feature, callable from REST, gRPC and tasks alike.

- `browse`: the public reads (cached, pre-serialised) and the internal price look-up;
- `products`: admin of products and their variants;
- `taxonomy`: admin of brands and categories;
- `writer`: what every admin write shares (unit of work, audit row, cache invalidation).
"""

from vanity_catalog.service.browse import Body, BrowseService, VariantInfo, product_query
from vanity_catalog.service.products import ProductAdmin
from vanity_catalog.service.taxonomy import TaxonomyAdmin
from vanity_catalog.service.writer import CACHE_INVALIDATION, AdminWriter

__all__ = [
    "CACHE_INVALIDATION",
    "AdminWriter",
    "Body",
    "BrowseService",
    "ProductAdmin",
    "TaxonomyAdmin",
    "VariantInfo",
    "product_query",
]
