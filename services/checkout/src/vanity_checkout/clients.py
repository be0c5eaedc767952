"""Checkout's gRPC clients for the services the saga drives."""

from __future__ import annotations

from fastapi import FastAPI
from vanity.inventory.v1 import inventory_pb2_grpc

# Inventory's mutations are idempotent per order id, so they may be retried on UNAVAILABLE.
INVENTORY_IDEMPOTENT = ("GetAvailability", "GetReservation", "Reserve", "Commit", "Release")


def inventory(app: FastAPI) -> inventory_pb2_grpc.InventoryServiceStub:
    settings = app.state.settings
    channel = app.state.channels.channel(
        settings.inventory_grpc_target,
        "vanity.inventory.v1.InventoryService",
        idempotent_methods=INVENTORY_IDEMPOTENT,
        timeout_s=settings.grpc_default_timeout_s,
    )
    return inventory_pb2_grpc.InventoryServiceStub(channel)
