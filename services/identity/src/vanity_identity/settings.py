from __future__ import annotations

from typing import ClassVar

from vanity_common.mail import MailSettings


class IdentitySettings(MailSettings):
    service_name: ClassVar[str] = "identity"
    default_http_port: ClassVar[int] = 8001
    default_grpc_port: ClassVar[int] = 50051

    # Tokens (docs/auth.md).
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # Key files are re-checked (one stat) at most this often, so a rotation needs no restart.
    keys_reload_seconds: float = 5.0

    # Passwords: argon2id (RFC 9106 "low memory" profile by default).
    password_min_length: int = 10
    argon2_time_cost: int = 3
    argon2_memory_cost_kib: int = 65536
    argon2_parallelism: int = 4
    password_hash_concurrency: int = 4

    # Brute force (limits syntax, moving windows; counters in Redis when REDIS_URL is set).
    login_account_limits: str = "5/minute;20/hour"
    login_ip_limits: str = "20/minute;200/hour"
    register_ip_limits: str = "10/hour"
    reset_ip_limits: str = "10/hour"
    reset_email_limits: str = "3/hour"
    # Namespace of the counters in Redis (shared by every identity replica of one shop).
    rate_limit_prefix: str = "identity"

    # Password reset by e-mail.
    reset_token_ttl_seconds: int = 1800
    password_reset_url: str = "http://127.0.0.1:8000/reset-password?token={token}"
    # The e-mail itself: MAIL_BACKEND, MAIL_FROM, MAIL_DIR, SMTP_* (vanity_common.mail).

    @property
    def allow_key_generation(self) -> bool:
        return self.env in ("development", "test")

    @property
    def max_token_lifetime_seconds(self) -> int:
        return self.access_token_ttl_seconds

    def production_problems(self) -> list[str]:
        # Identity verifies its own tokens with the keys it holds: no JWKS_URL needed here.
        problems = [p for p in super().production_problems() if not p.startswith("JWKS_URL")]
        if not self.redis_url:
            problems.append("REDIS_URL is not set; login back-off counters must be shared")
        if self.access_token_ttl_seconds > 900:
            problems.append("ACCESS_TOKEN_TTL_SECONDS is above 900 (docs/auth.md)")
        return problems


def load_settings(**overrides) -> IdentitySettings:
    return IdentitySettings(**overrides)
