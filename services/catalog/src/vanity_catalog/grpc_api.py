"""Catalog's gRPC servicer (thin: translate and delegate): the price source for cart/checkout."""

from __future__ import annotations

from vanity.catalog.v1 import catalog_pb2 as pb
from vanity.catalog.v1 import catalog_pb2_grpc as pb_grpc
from vanity.common.v1 import common_pb2

from vanity_catalog.bootstrap import CatalogContainer
from vanity_catalog.service import BrowseService


class CatalogServicer(pb_grpc.CatalogServiceServicer):
    def __init__(self, catalog: BrowseService) -> None:
        self.catalog = catalog

    async def GetVariants(self, request, context):
        found, unknown = await self.catalog.get_variants(list(request.skus))
        return pb.GetVariantsResponse(
            variants=[
                pb.Variant(
                    sku=v.sku,
                    product_id=str(v.product_id),
                    product_slug=v.product_slug,
                    product_name=v.product_name,
                    brand_name=v.brand_name,
                    variant_name=v.variant_name,
                    price=common_pb2.Money(amount_minor=v.price_minor, currency=v.currency),
                    active=v.active,
                    image_url=v.image_url,
                )
                for v in found
            ],
            unknown_skus=unknown,
        )


def register(server, container: CatalogContainer) -> list[str]:
    pb_grpc.add_CatalogServiceServicer_to_server(CatalogServicer(container.browse), server)
    return [pb.DESCRIPTOR.services_by_name["CatalogService"].full_name]
