"""Mutual TLS on internal gRPC: only a caller holding a certificate from the suite's CA gets in;
the callee knows who called; production refuses plaintext and the development CA. Real sockets
on free ports."""

from pathlib import Path

import grpc
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health_pb2, health_pb2_grpc
from vanity_common.app import ServiceParts, build_service_app
from vanity_common.grpc_client import ChannelPool
from vanity_common.grpc_server import GrpcServer, current_caller
from vanity_common.settings import InsecureConfigurationError, ServiceSettings
from vanity_common.tls import (
    GrpcTls,
    create_ca,
    ensure_development_certificates,
    grpc_tls_from_settings,
    is_development_ca,
    issue_certificate,
)

ECHO_SERVICE = "test.Echo"
WHO_AM_I = f"/{ECHO_SERVICE}/WhoAmI"
CALL_TIMEOUT_S = 10.0


class InventorySettings(ServiceSettings):
    service_name = "inventory"


def tls_for(directory: Path, service: str) -> GrpcTls:
    return GrpcTls(
        ca_pem=(directory / "ca.pem").read_bytes(),
        cert_pem=(directory / f"{service}.pem").read_bytes(),
        key_pem=(directory / f"{service}-key.pem").read_bytes(),
    )


def register_echo(server: grpc.aio.Server) -> list[str]:
    async def who_am_i(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return (current_caller() or "anonymous").encode()

    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                ECHO_SERVICE, {"WhoAmI": grpc.unary_unary_rpc_method_handler(who_am_i)}
            )
        ]
    )
    return [ECHO_SERVICE]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tls")
    ensure_development_certificates(directory, ["inventory", "checkout", "cart"])
    return directory


@pytest.fixture(scope="module")
def foreign_certificates(tmp_path_factory) -> Path:
    """Another CA's certificate for a service of the same name: not ours, so not trusted."""
    directory = tmp_path_factory.mktemp("foreign-tls")
    ensure_development_certificates(directory, ["checkout"])
    return directory


async def start_inventory(certificates: Path, **options) -> GrpcServer:
    server = GrpcServer(
        "inventory",
        "127.0.0.1:0",
        register_echo,
        tls=tls_for(certificates, "inventory"),
        health_address="127.0.0.1:0",
        **options,
    )
    await server.start()
    return server


@pytest.fixture
async def inventory(certificates):
    server = await start_inventory(certificates)
    yield server
    await server.stop(0)


async def who_am_i(channel: grpc.aio.Channel) -> str:
    answer = await channel.unary_unary(WHO_AM_I)(b"", timeout=CALL_TIMEOUT_S)
    return answer.decode()


async def test_a_caller_with_a_certificate_from_the_ca_gets_in_and_is_named(
    inventory, certificates
):
    pool = ChannelPool("checkout", tls_for(certificates, "checkout"))
    try:
        channel = pool.channel(f"127.0.0.1:{inventory.port}", ECHO_SERVICE)
        assert await who_am_i(channel) == "checkout"
        # the development certificates also name localhost (one machine, `make run`)
        channel = pool.channel(f"localhost:{inventory.port}", ECHO_SERVICE)
        assert await who_am_i(channel) == "checkout"
    finally:
        await pool.close()


async def test_a_plaintext_caller_is_refused(inventory):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{inventory.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await who_am_i(channel)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_a_tls_caller_without_a_client_certificate_is_refused(inventory, certificates):
    anonymous = grpc.ssl_channel_credentials(
        root_certificates=(certificates / "ca.pem").read_bytes()
    )
    async with grpc.aio.secure_channel(f"127.0.0.1:{inventory.port}", anonymous) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await who_am_i(channel)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_a_client_certificate_from_another_ca_is_refused(
    inventory, certificates, foreign_certificates
):
    # It trusts our CA (so it would accept the server), but its own certificate is foreign.
    impostor = GrpcTls(
        ca_pem=(certificates / "ca.pem").read_bytes(),
        cert_pem=(foreign_certificates / "checkout.pem").read_bytes(),
        key_pem=(foreign_certificates / "checkout-key.pem").read_bytes(),
    )
    pool = ChannelPool("checkout", impostor)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await who_am_i(pool.channel(f"127.0.0.1:{inventory.port}", ECHO_SERVICE))
    finally:
        await pool.close()
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_a_server_with_a_certificate_from_another_ca_is_not_trusted(
    certificates, foreign_certificates
):
    impostor = GrpcServer(
        "inventory",
        "127.0.0.1:0",
        register_echo,
        tls=GrpcTls(
            ca_pem=(foreign_certificates / "ca.pem").read_bytes(),
            cert_pem=(foreign_certificates / "checkout.pem").read_bytes(),
            key_pem=(foreign_certificates / "checkout-key.pem").read_bytes(),
        ),
    )
    await impostor.start()
    pool = ChannelPool("checkout", tls_for(certificates, "checkout"))
    try:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await who_am_i(pool.channel(f"127.0.0.1:{impostor.port}", ECHO_SERVICE))
    finally:
        await pool.close()
        await impostor.stop(0)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_health_answers_over_tls_and_on_the_plaintext_health_only_port(
    inventory, certificates
):
    pool = ChannelPool("checkout", tls_for(certificates, "checkout"))
    try:
        channel = pool.channel(f"127.0.0.1:{inventory.port}", "grpc.health.v1.Health")
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=ECHO_SERVICE), timeout=CALL_TIMEOUT_S
        )
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await pool.close()
    # What a kubelet's native gRPC probe does: plaintext, no certificate, health only.
    async with grpc.aio.insecure_channel(f"127.0.0.1:{inventory.health_port}") as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT_S
        )
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await who_am_i(channel)  # the API itself is not there
    assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_the_allow_list_refuses_other_services_but_not_their_health_checks(certificates):
    server = await start_inventory(certificates, allowed_callers=["checkout"])
    pool = ChannelPool("cart", tls_for(certificates, "cart"))
    try:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await who_am_i(pool.channel(f"127.0.0.1:{server.port}", ECHO_SERVICE))
        assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
        health = pool.channel(f"127.0.0.1:{server.port}", "grpc.health.v1.Health")
        answer = await health_pb2_grpc.HealthStub(health).Check(
            health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT_S
        )
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        allowed = ChannelPool("checkout", tls_for(certificates, "checkout"))
        try:
            assert await who_am_i(allowed.channel(f"127.0.0.1:{server.port}", ECHO_SERVICE)) == (
                "checkout"
            )
        finally:
            await allowed.close()
    finally:
        await pool.close()
        await server.stop(0)


async def test_a_service_app_serves_grpc_over_mutual_tls_from_its_settings(certificates, tmp_path):
    settings = InventorySettings(
        data_dir=tmp_path,
        grpc_port=0,
        grpc_health_port=0,
        ended_sessions_refresh_seconds=0,  # no identity to poll here
        grpc_tls_ca_file=certificates / "ca.pem",
        grpc_tls_cert_file=certificates / "inventory.pem",
        grpc_tls_key_file=certificates / "inventory-key.pem",
    )
    app = build_service_app(
        settings, ServiceParts(register_grpc=lambda server, _services: register_echo(server))
    )
    async with LifespanManager(app):
        port = app.state.grpc_port
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as plaintext:
            with pytest.raises(grpc.aio.AioRpcError):
                await who_am_i(plaintext)
        pool = ChannelPool("checkout", tls_for(certificates, "checkout"))
        try:
            assert await who_am_i(pool.channel(f"127.0.0.1:{port}", ECHO_SERVICE)) == "checkout"
        finally:
            await pool.close()
        # the container's own pool is mutual TLS too, as inventory
        assert app.state.container.channels.tls is not None
        assert app.state.container.channels.tls.identity == "inventory"


def test_development_certificates_are_made_once_and_kept_private(tmp_path):
    first = ensure_development_certificates(tmp_path, ["inventory"])
    ca = (tmp_path / "ca.pem").read_bytes()
    cert = first["inventory"].cert.read_bytes()
    assert first["inventory"].key.stat().st_mode & 0o077 == 0
    assert (tmp_path / "ca-key.pem").stat().st_mode & 0o077 == 0
    again = ensure_development_certificates(tmp_path, ["inventory", "cart"])
    assert (tmp_path / "ca.pem").read_bytes() == ca
    assert again["inventory"].cert.read_bytes() == cert
    assert tls_for(tmp_path, "cart").identity == "cart"  # a new service, from the same CA
    assert is_development_ca(ca)


def production(**overrides) -> InventorySettings:
    return InventorySettings(env="production", database_url="mysql+asyncmy://db/i", **overrides)


def test_production_refuses_plaintext_grpc():
    with pytest.raises(InsecureConfigurationError, match="without mutual TLS"):
        grpc_tls_from_settings(production())
    with pytest.raises(InsecureConfigurationError, match="without mutual TLS"):
        ChannelPool.from_settings(production())


def test_development_without_tls_settings_is_plaintext(tmp_path):
    assert grpc_tls_from_settings(InventorySettings(data_dir=tmp_path)) is None


def test_half_configured_tls_is_refused(certificates, tmp_path):
    settings = InventorySettings(data_dir=tmp_path, grpc_tls_ca_file=certificates / "ca.pem")
    with pytest.raises(InsecureConfigurationError, match="GRPC_TLS_CERT_FILE"):
        grpc_tls_from_settings(settings)


def test_production_refuses_the_development_ca(certificates):
    settings = production(
        grpc_tls_ca_file=certificates / "ca.pem",
        grpc_tls_cert_file=certificates / "inventory.pem",
        grpc_tls_key_file=certificates / "inventory-key.pem",
    )
    with pytest.raises(InsecureConfigurationError, match="development CA"):
        grpc_tls_from_settings(settings)


def test_production_accepts_an_operators_ca(tmp_path):
    ca, ca_key = create_ca("Acme Internal Services CA")
    certificate, key = issue_certificate(ca, ca_key, "inventory")
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.crt").write_bytes(ca.public_bytes(pem))
    (tmp_path / "tls.crt").write_bytes(certificate.public_bytes(pem))
    (tmp_path / "tls.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    settings = production(
        grpc_tls_ca_file=tmp_path / "ca.crt",
        grpc_tls_cert_file=tmp_path / "tls.crt",
        grpc_tls_key_file=tmp_path / "tls.key",
    )
    tls = grpc_tls_from_settings(settings)
    assert tls is not None and tls.identity == "inventory"
