"""Identity's gRPC servicer (thin: translate and delegate). Internal callers only."""

from __future__ import annotations

from fastapi import FastAPI
from vanity.identity.v1 import identity_pb2 as pb
from vanity.identity.v1 import identity_pb2_grpc as pb_grpc
from vanity_common.errors import InvalidArgument, NotFound


class IdentityServicer(pb_grpc.IdentityServiceServicer):
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def GetUser(self, request, context):
        if not request.user_id:
            raise InvalidArgument("user_id is required.")
        user = await self.app.state.identity.get_user(request.user_id)
        return pb.User(
            user_id=user.id,
            email=user.email,
            name=user.name,
            roles=sorted(user.roles),
            disabled=user.disabled,
        )

    async def GetAddress(self, request, context):
        if not request.user_id or not request.address_id:
            raise NotFound("No such address.", reason="ADDRESS_NOT_FOUND")
        a = await self.app.state.identity.get_address(request.user_id, request.address_id)
        return pb.Address(
            address_id=a.id,
            user_id=a.user_id,
            full_name=a.full_name,
            line1=a.line1,
            line2=a.line2,
            city=a.city,
            region=a.region,
            postal_code=a.postal_code,
            country=a.country,
            phone=a.phone,
        )


def register(server, app: FastAPI) -> list[str]:
    pb_grpc.add_IdentityServiceServicer_to_server(IdentityServicer(app), server)
    return [pb.DESCRIPTOR.services_by_name["IdentityService"].full_name]
