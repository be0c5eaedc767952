"""The client factory: retries only what the caller declared idempotent; default deadlines."""

import asyncio

import grpc
import pytest
from vanity_common.errors import REASON_METADATA_KEY
from vanity_common.grpc_client import ChannelPool, DependencyFailed, DependencyUnavailable, Port


class FlakyService:
    """Fails each method's first call with UNAVAILABLE; `Slow` never answers."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def handler(self, method: str):
        async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            self.calls[method] = self.calls.get(method, 0) + 1
            if method == "Slow":
                await asyncio.Event().wait()  # nothing sets it
            if self.calls[method] == 1:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "injected outage")
            return b"ok:" + request

        return grpc.unary_unary_rpc_method_handler(unary)


@pytest.fixture
async def flaky():
    service = FlakyService()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "test.Flaky", {m: service.handler(m) for m in ("Idem", "NonIdem", "Slow")}
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield service, f"127.0.0.1:{port}"
    await server.stop(0)


async def test_idempotent_method_is_retried_on_unavailable(flaky):
    service, target = flaky
    pool = ChannelPool("test")
    channel = pool.channel(target, "test.Flaky", idempotent_methods=["Idem"], timeout_s=10)
    await asyncio.wait_for(channel.channel_ready(), 10)  # the deadline then covers only the call
    assert await channel.unary_unary("/test.Flaky/Idem")(b"x") == b"ok:x"
    assert service.calls["Idem"] == 2
    await pool.close()


async def test_non_idempotent_method_is_not_retried(flaky):
    service, target = flaky
    pool = ChannelPool("test")
    channel = pool.channel(target, "test.Flaky", idempotent_methods=["Idem"], timeout_s=10)
    await asyncio.wait_for(channel.channel_ready(), 10)
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await channel.unary_unary("/test.Flaky/NonIdem")(b"x")
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    assert service.calls["NonIdem"] == 1
    await pool.close()


async def test_default_deadline_applies_to_every_method(flaky):
    _, target = flaky
    pool = ChannelPool("test")
    channel = pool.channel(target, "test.Flaky", timeout_s=0.3)
    await asyncio.wait_for(channel.channel_ready(), 10)  # the deadline then covers only the call
    # `Slow` never answers: only the default deadline can end the call.
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await channel.unary_unary("/test.Flaky/Slow")(b"x")
    assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await pool.close()


async def test_channels_are_reused_per_target():
    pool = ChannelPool("test")
    a = pool.channel("127.0.0.1:1", "test.Flaky")
    assert pool.channel("127.0.0.1:1", "test.Flaky") is a
    assert pool.channel("127.0.0.1:2", "test.Flaky") is not a
    await pool.close()


class Refusal(Exception):
    def __init__(self, failure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


class RefuserStub:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        for method in ("OutOfStock", "Down", "Broken", "Echo"):
            setattr(self, method, channel.unary_unary(f"/test.Refuser/{method}"))


class RefuserPort(Port):
    grpc_service = "test.refuser.v1.Refuser"
    stub_type = RefuserStub

    async def run(self, method: str) -> bytes:
        return await self.call(method, b"x", reasons={"OUT_OF_STOCK": Refusal})


@pytest.fixture
async def refuser():
    answers = {
        "OutOfStock": (grpc.StatusCode.FAILED_PRECONDITION, "OUT_OF_STOCK"),
        "Down": (grpc.StatusCode.UNAVAILABLE, None),
        "Broken": (grpc.StatusCode.INVALID_ARGUMENT, "INVALID"),
    }

    def handler(method: str):
        async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            if method == "Echo":
                return request
            code, reason = answers[method]
            if reason:
                context.set_trailing_metadata(((REASON_METADATA_KEY, reason),))
            await context.abort(code, f"{method} refused")

        return grpc.unary_unary_rpc_method_handler(unary)

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "test.Refuser", {m: handler(m) for m in (*answers, "Echo")}
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


async def test_a_port_maps_status_and_reason_to_outcomes(refuser):
    pool = ChannelPool("test")
    port = RefuserPort(pool, refuser, timeout_s=5)
    assert await port.run("Echo") == b"x"
    with pytest.raises(Refusal) as named:
        await port.run("OutOfStock")
    assert named.value.failure.code == grpc.StatusCode.FAILED_PRECONDITION
    assert named.value.failure.service == "refuser" and named.value.failure.method == "OutOfStock"
    with pytest.raises(DependencyUnavailable) as down:
        await port.run("Down")
    assert down.value.http_status == 503 and down.value.failure.transient
    with pytest.raises(DependencyFailed) as broken:
        await port.run("Broken")
    assert broken.value.http_status == 502 and broken.value.failure.reason == "INVALID"
    await pool.close()
    # After the pool closed (a container's aclose), the port gets a fresh channel on next use.
    assert await port.run("Echo") == b"x"
    await pool.close()


async def test_find_answers_none_only_for_the_named_not_found_reason(refuser):
    pool = ChannelPool("test")
    port = RefuserPort(pool, refuser, timeout_s=5)
    assert await port.find("Echo", b"x", not_found="OUT_OF_STOCK") == b"x"
    assert await port.find("OutOfStock", b"x", not_found="OUT_OF_STOCK") is None
    with pytest.raises(DependencyFailed):  # another refusal is still an error
        await port.find("Broken", b"x", not_found="OUT_OF_STOCK")
    with pytest.raises(DependencyUnavailable):
        await port.find("Down", b"x", not_found="OUT_OF_STOCK")
    await pool.close()
