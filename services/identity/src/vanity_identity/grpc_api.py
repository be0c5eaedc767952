"""Identity's gRPC servicer (thin: translate and delegate). Internal callers only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vanity.identity.v1 import identity_pb2 as pb
from vanity.identity.v1 import identity_pb2_grpc as pb_grpc
from vanity_common.errors import InvalidArgument, NotFound
from vanity_common.mapping import message_from

from vanity_identity.bootstrap import IdentityContainer
from vanity_identity.service import MAX_ENDED_PAGE, IdentityService

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_MICROS = (datetime.max.replace(tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)


class IdentityServicer(pb_grpc.IdentityServiceServicer):
    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity

    async def GetUser(self, request, context):
        if not request.user_id:
            raise InvalidArgument("user_id is required.")
        user = await self.identity.get_user(request.user_id)
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
        address = await self.identity.get_address(request.user_id, request.address_id)
        return message_from(pb.Address, address, address_id=address.id)

    async def ListEndedSessions(self, request, context):
        if not 0 <= request.ended_after_us <= MAX_MICROS:
            raise InvalidArgument("ended_after_us must be a time in microseconds since 1970.")
        if not 0 <= request.page_size <= MAX_ENDED_PAGE:
            raise InvalidArgument(f"page_size must be within 0..{MAX_ENDED_PAGE}.")
        page = await self.identity.ended_sessions(
            after=from_micros(request.ended_after_us),
            after_id=request.after_session_id,
            page_size=request.page_size,
        )
        return pb.ListEndedSessionsResponse(
            sessions=[
                pb.EndedSession(
                    session_id=s.session_id,
                    user_id=s.user_id,
                    ended_at_us=to_micros(s.ended_at),
                    reason=s.reason,
                )
                for s in page.sessions
            ],
            has_more=page.has_more,
            server_time_us=to_micros(page.server_time),
        )


def to_micros(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def register(server, container: IdentityContainer) -> list[str]:
    pb_grpc.add_IdentityServiceServicer_to_server(IdentityServicer(container.identity), server)
    return [pb.DESCRIPTOR.services_by_name["IdentityService"].full_name]
