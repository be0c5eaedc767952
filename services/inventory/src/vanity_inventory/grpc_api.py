"""Inventory's gRPC servicer (thin: translate and delegate). Errors are `ServiceError`s that the
chassis interceptor turns into status codes plus the `vanity-error-reason` metadata."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from vanity.inventory.v1 import inventory_pb2 as pb
from vanity.inventory.v1 import inventory_pb2_grpc as pb_grpc

from vanity_inventory.bootstrap import InventoryContainer
from vanity_inventory.domain import ReservationStatus, StockLevel
from vanity_inventory.service import InventoryService, ReservationView

_LEVELS = {
    StockLevel.IN_STOCK: pb.STOCK_LEVEL_IN_STOCK,
    StockLevel.LOW: pb.STOCK_LEVEL_LOW,
    StockLevel.OUT_OF_STOCK: pb.STOCK_LEVEL_OUT_OF_STOCK,
}
_STATUSES = {
    ReservationStatus.ACTIVE: pb.RESERVATION_STATUS_ACTIVE,
    ReservationStatus.COMMITTED: pb.RESERVATION_STATUS_COMMITTED,
    ReservationStatus.RELEASED: pb.RESERVATION_STATUS_RELEASED,
    ReservationStatus.EXPIRED: pb.RESERVATION_STATUS_EXPIRED,
}


def _reservation(view: ReservationView) -> pb.Reservation:
    message = pb.Reservation(
        reservation_id=view.reservation_id,
        order_id=view.order_id,
        status=_STATUSES[view.status],
        lines=[pb.ReservationLine(sku=s, quantity=q) for s, q in view.lines.items()],
    )
    if view.expires_at is not None:
        stamp = Timestamp()
        stamp.FromDatetime(view.expires_at)
        message.expires_at.CopyFrom(stamp)
    return message


class InventoryServicer(pb_grpc.InventoryServiceServicer):
    def __init__(self, inventory: InventoryService) -> None:
        self.inventory = inventory

    async def GetAvailability(self, request, context):
        items = await self.inventory.availability(list(request.skus))
        return pb.GetAvailabilityResponse(
            items=[
                pb.SkuAvailability(
                    sku=a.sku, known=a.known, available=a.available, level=_LEVELS[a.level]
                )
                for a in items
            ]
        )

    async def Reserve(self, request, context):
        view = await self.inventory.reserve(
            request.order_id,
            [(line.sku, line.quantity) for line in request.lines],
            request.ttl_seconds,
        )
        return _reservation(view)

    async def Commit(self, request, context):
        return _reservation(await self.inventory.commit(request.order_id))

    async def Release(self, request, context):
        return _reservation(await self.inventory.release(request.order_id, request.reason))

    async def Restock(self, request, context):
        return _reservation(await self.inventory.restock(request.order_id, request.reason))

    async def GetReservation(self, request, context):
        return _reservation(await self.inventory.get_reservation(request.order_id))


def register(server, container: InventoryContainer) -> list[str]:
    pb_grpc.add_InventoryServiceServicer_to_server(InventoryServicer(container.inventory), server)
    return [pb.DESCRIPTOR.services_by_name["InventoryService"].full_name]
