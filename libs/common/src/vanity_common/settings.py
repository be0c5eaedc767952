"""Settings from the environment (pydantic-settings).

Every variable can be given per service (`CATALOG_DATABASE_URL`) or plainly (`DATABASE_URL`);
the per-service name wins. One environment file can so configure the whole suite on one machine,
while a Kubernetes pod sets the plain names for its one service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import SecretStr
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

REPO_ROOT = Path(__file__).resolve().parents[4]
DEV_SECRET_MARKER = "dev-insecure"


class InsecureConfigurationError(RuntimeError):
    """Production was asked to start with development secrets or development-only choices."""


def default_data_dir() -> Path:
    """`.data/` at the repository root in a checkout; the working directory when installed."""
    root = REPO_ROOT if (REPO_ROOT / "pyproject.toml").exists() else Path.cwd()
    return root / ".data"


class ServiceSettings(BaseSettings):
    """Base settings for one service. Subclasses set `service_name` and add their own fields."""

    service_name: ClassVar[str] = "service"
    default_http_port: ClassVar[int] = 8080
    default_grpc_port: ClassVar[int] = 50051

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    env: Literal["development", "test", "production"] = "development"
    http_host: str = "127.0.0.1"
    http_port: int | None = None  # None: the service's default; 0: any free port
    grpc_host: str = "127.0.0.1"
    grpc_port: int | None = None
    grpc_enabled: bool = True
    access_log: bool = True
    data_dir: Path = default_data_dir()
    database_url: str = ""
    db_pool_size: int = 10
    db_echo: bool = False
    redis_url: str | None = None
    celery_broker_url: str | None = None
    # A Celery worker serves Prometheus /metrics on this port (on HTTP_HOST) when > 0; with the
    # prefork pool set PROMETHEUS_MULTIPROC_DIR too (vanity_common.tasks.serve_worker_metrics).
    worker_metrics_port: int = 0
    log_level: str = "INFO"
    log_json: bool = True
    otel_exporter_otlp_endpoint: str | None = None
    otel_sample_ratio: float = 1.0
    otel_operation_spans: bool = False  # spans per dependency/endpoint/serialisation
    # Token verification (see docs/auth.md): JWKS from identity, or PEM files in keys_dir.
    jwks_url: str | None = None
    keys_dir: Path | None = None
    token_issuer: str = "vanity-identity"
    # The longest access token any service accepts (exp - iat); identity issues shorter ones.
    access_token_max_lifetime_seconds: int = 900
    # Sessions identity has ended (logout, disabled account, refresh-token reuse) are fetched
    # from identity this often and their tokens refused; 0 turns the deny list off.
    ended_sessions_refresh_seconds: float = 1.0
    # Peers whose X-Forwarded-For is believed (IPs or CIDRs, comma separated): the gateway's
    # addresses. Empty: the socket peer is the client, whatever the headers say.
    trusted_proxies: str = ""
    # gRPC targets of the other services (host:port).
    identity_grpc_target: str = "127.0.0.1:50051"
    catalog_grpc_target: str = "127.0.0.1:50052"
    inventory_grpc_target: str = "127.0.0.1:50053"
    cart_grpc_target: str = "127.0.0.1:50054"
    checkout_grpc_target: str = "127.0.0.1:50055"
    payments_grpc_target: str = "127.0.0.1:50056"
    grpc_default_timeout_s: float = 3.0
    # Mutual TLS for gRPC (vanity_common.tls, docs/grpc.md): PEM files of the CA every peer's
    # certificate is issued by, and of this service's certificate and key. Unset: plaintext,
    # which production refuses.
    grpc_tls_ca_file: Path | None = None
    grpc_tls_cert_file: Path | None = None
    grpc_tls_key_file: Path | None = None
    # The services allowed to call this one (their certificates' names, comma separated);
    # empty: any holder of a certificate from the CA. Refused callers get PERMISSION_DENIED.
    grpc_allowed_callers: str = ""
    # A plaintext port serving only grpc.health.v1 (Kubernetes' native gRPC probes cannot
    # speak TLS); None: no such port, the health service answers on the main gRPC port only.
    grpc_health_port: int | None = None

    def model_post_init(self, context: Any, /) -> None:
        if self.http_port is None:
            self.http_port = self.default_http_port
        if self.grpc_port is None:
            self.grpc_port = self.default_grpc_port
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / self.service_name}.db"
        if self.keys_dir is None:
            self.keys_dir = self.data_dir / "keys"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        per_service = EnvSettingsSource(settings_cls, env_prefix=f"{cls.service_name.upper()}_")
        return init_settings, per_service, env_settings, file_secret_settings

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def broker_url(self) -> str:
        """Celery broker: explicit URL, else Redis when configured, else a folder (no server)."""
        if self.celery_broker_url:
            return self.celery_broker_url
        if self.redis_url:
            return self.redis_url
        return "filesystem://"

    def production_problems(self) -> list[str]:
        """What would make this configuration unsafe in production (empty when fine)."""
        problems = []
        for name, value in self:
            if isinstance(value, SecretStr):
                secret = value.get_secret_value()
                if not secret or DEV_SECRET_MARKER in secret:
                    problems.append(f"{name.upper()} is a development secret")
        if self.is_sqlite:
            problems.append("DATABASE_URL points at SQLite; production needs MySQL/MariaDB")
        if not self.jwks_url:
            problems.append("JWKS_URL is not set; production verifies tokens with identity's JWKS")
        return problems

    def check_production(self) -> None:
        if self.is_production and (problems := self.production_problems()):
            raise InsecureConfigurationError(
                f"{self.service_name} refuses to start in production: " + "; ".join(problems)
            )
