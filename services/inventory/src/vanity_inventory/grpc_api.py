"""Inventory's gRPC servicer (thin: translate and delegate)."""

from __future__ import annotations

from fastapi import FastAPI
from vanity.inventory.v1 import inventory_pb2 as pb
from vanity.inventory.v1 import inventory_pb2_grpc as pb_grpc

from vanity_inventory.domain import StockLevel

_LEVELS = {
    StockLevel.IN_STOCK: pb.STOCK_LEVEL_IN_STOCK,
    StockLevel.LOW: pb.STOCK_LEVEL_LOW,
    StockLevel.OUT_OF_STOCK: pb.STOCK_LEVEL_OUT_OF_STOCK,
}


class InventoryServicer(pb_grpc.InventoryServiceServicer):
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def GetAvailability(self, request, context):
        items = await self.app.state.inventory.availability(list(request.skus))
        return pb.GetAvailabilityResponse(
            items=[
                pb.SkuAvailability(
                    sku=a.sku, known=a.known, available=a.available, level=_LEVELS[a.level]
                )
                for a in items
            ]
        )


def register(server, app: FastAPI) -> list[str]:
    pb_grpc.add_InventoryServiceServicer_to_server(InventoryServicer(app), server)
    return [pb.DESCRIPTOR.services_by_name["InventoryService"].full_name]
