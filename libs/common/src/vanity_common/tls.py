"""Mutual TLS between services: load a service's certificate, key and CA for gRPC, refuse
development material in production, and generate that material for a developer's machine.

Every service holds a certificate issued by one CA, with its own name as common name and DNS
SAN. A gRPC server asks each caller for such a certificate (`require_client_auth`), and a caller
checks the server's against the same CA, so nobody who merely reaches the network can call an
internal API or impersonate a service. `GRPC_TLS_CA_FILE`, `GRPC_TLS_CERT_FILE` and
`GRPC_TLS_KEY_FILE` point at PEM files (per service: `INVENTORY_GRPC_TLS_CERT_FILE`); unset,
gRPC stays plaintext, which only development and tests allow.

`make run` generates a development CA (subject "Vanity Development CA") and one certificate per
service under `DATA_DIR/tls/` on its first run, as it does identity's signing keys; production
refuses to start with a CA of that name. Real deployments mount certificates from a Secret that
an operator or cert-manager creates (docs/deploy.md).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vanity_common.settings import InsecureConfigurationError, ServiceSettings

DEV_CA_COMMON_NAME = "Vanity Development CA"
DEV_ORGANIZATION = "Vanity development (dev-insecure)"
DEV_CA_FILE = "ca.pem"
DEV_VALIDITY = datetime.timedelta(days=825)


@dataclass(frozen=True)
class GrpcTls:
    """One process' mutual-TLS material: its own certificate chain and key, and the CA that
    every peer's certificate must be issued by (PEM bytes, as gRPC takes them)."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @property
    def identity(self) -> str:
        """The service this certificate names (its common name, else its first DNS SAN)."""
        return certificate_identity(x509.load_pem_x509_certificate(self.cert_pem))

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key_pem, self.cert_pem)],
            root_certificates=self.ca_pem,
            require_client_auth=True,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_pem,
            private_key=self.key_pem,
            certificate_chain=self.cert_pem,
        )


def certificate_identity(certificate: x509.Certificate) -> str:
    common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if common_names:
        return str(common_names[0].value)
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ""
    names = san.value.get_values_for_type(x509.DNSName)
    return names[0] if names else ""


def is_development_ca(ca_pem: bytes) -> bool:
    """True when any certificate in the bundle is the generated development CA."""
    return any(
        name.value == DEV_CA_COMMON_NAME
        for certificate in x509.load_pem_x509_certificates(ca_pem)
        for name in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    )


def grpc_tls_from_settings(settings: ServiceSettings) -> GrpcTls | None:
    """The process' gRPC TLS material, or None for plaintext (never in production)."""
    files = {
        "GRPC_TLS_CA_FILE": settings.grpc_tls_ca_file,
        "GRPC_TLS_CERT_FILE": settings.grpc_tls_cert_file,
        "GRPC_TLS_KEY_FILE": settings.grpc_tls_key_file,
    }
    missing = [name for name, path in files.items() if not path]
    if len(missing) == len(files):
        if settings.is_production:
            raise InsecureConfigurationError(
                f"{settings.service_name} refuses to start in production: gRPC without mutual "
                "TLS (set GRPC_TLS_CA_FILE, GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE)"
            )
        return None
    if missing:
        raise InsecureConfigurationError(
            f"{settings.service_name}: gRPC TLS is half configured, {', '.join(missing)} unset"
        )
    contents = {}
    for name, path in files.items():
        try:
            contents[name] = Path(path).read_bytes()
        except OSError as exc:
            raise InsecureConfigurationError(
                f"{settings.service_name}: {name}={path} cannot be read ({exc.strerror})"
            ) from exc
    tls = GrpcTls(
        ca_pem=contents["GRPC_TLS_CA_FILE"],
        cert_pem=contents["GRPC_TLS_CERT_FILE"],
        key_pem=contents["GRPC_TLS_KEY_FILE"],
    )
    if settings.is_production and is_development_ca(tls.ca_pem):
        raise InsecureConfigurationError(
            f"{settings.service_name} refuses to start in production: GRPC_TLS_CA_FILE is the "
            f"development CA ({DEV_CA_COMMON_NAME})"
        )
    return tls


# --- development material -------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateFiles:
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def create_ca(
    common_name: str = DEV_CA_COMMON_NAME,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed CA that may only sign end-entity certificates."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + DEV_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def issue_certificate(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    service: str,
    extra_dns_names: Iterable[str] = (),
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate for `service`, good as a server's and as a client's: CN and DNS SAN = the
    service's name (its Kubernetes Service), plus localhost and 127.0.0.1 for one machine."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    dns_names = dict.fromkeys([service, *extra_dns_names, "localhost"])
    alternative_names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    alternative_names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(service))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + DEV_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return certificate, key


def ensure_development_certificates(
    directory: Path, services: Iterable[str]
) -> dict[str, CertificateFiles]:
    """The development CA and one certificate per service under `directory`, generated the
    first time (a service added later gets its certificate from the existing CA). Returns each
    service's files; the CA is `directory / ca.pem`. The CA's key stays beside it, readable only
    by its owner: it is development material, never committed (.data/ is git-ignored)."""
    ca_path, ca_key_path = directory / DEV_CA_FILE, directory / "ca-key.pem"
    if ca_path.exists() and ca_key_path.exists():
        ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    else:
        ca, ca_key = create_ca()
        _write_private(ca_key_path, _key_pem(ca_key))
        ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files = {}
    for service in services:
        paths = CertificateFiles(directory / f"{service}.pem", directory / f"{service}-key.pem")
        if not (paths.cert.exists() and paths.key.exists()):
            certificate, key = issue_certificate(ca, ca_key, service)
            _write_private(paths.key, _key_pem(key))
            paths.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        files[service] = paths
    return files
