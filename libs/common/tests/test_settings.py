import pytest
from vanity_common.app import ServiceParts, build_service_app
from vanity_common.settings import InsecureConfigurationError, ServiceSettings
from vanity_payments.settings import PaymentsSettings


class DemoSettings(ServiceSettings):
    service_name = "demo"


def test_per_service_variable_wins_over_plain(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql+asyncmy://db/plain")
    monkeypatch.setenv("DEMO_DATABASE_URL", "mysql+asyncmy://db/demo")
    monkeypatch.setenv("OTHER_DATABASE_URL", "mysql+asyncmy://db/other")
    assert DemoSettings().database_url == "mysql+asyncmy://db/demo"


def test_plain_variable_used_without_a_per_service_one(monkeypatch):
    monkeypatch.delenv("DEMO_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "mysql+asyncmy://db/plain")
    assert DemoSettings().database_url == "mysql+asyncmy://db/plain"


def test_default_database_is_a_sqlite_file_per_service(tmp_path):
    settings = DemoSettings(data_dir=tmp_path)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    assert settings.broker_url == "filesystem://"


def test_production_refuses_development_secrets_and_sqlite():
    settings = PaymentsSettings(env="production", jwks_url="http://identity/jwks")
    problems = settings.production_problems()
    assert any("STRIPE_SECRET_KEY" in p for p in problems)
    assert any("STRIPE_WEBHOOK_SECRET" in p for p in problems)
    assert any("SQLite" in p for p in problems)
    assert any("mock" in p for p in problems)
    with pytest.raises(InsecureConfigurationError, match="refuses to start in production"):
        settings.check_production()


def test_production_refuses_to_build_the_app_with_development_secrets():
    settings = PaymentsSettings(env="production", database_url="mysql+asyncmy://db/payments")
    with pytest.raises(InsecureConfigurationError):
        build_service_app(settings, ServiceParts())


def test_production_starts_with_real_secrets():
    settings = PaymentsSettings(
        env="production",
        database_url="mysql+asyncmy://db/payments",
        jwks_url="http://identity:8080/.well-known/jwks.json",
        payment_provider="stripe",
        stripe_secret_key="sk_live_not-a-real-key",
        stripe_webhook_secret="whsec_realistic_value",
    )
    assert settings.production_problems() == []
    settings.check_production()


def test_development_mode_accepts_development_secrets():
    PaymentsSettings(env="development").check_production()


async def test_migrate_creates_a_missing_sqlite_folder(tmp_path):
    from vanity_common.migrations import migrate

    database = tmp_path / "not" / "yet" / "there" / "inventory.db"
    await migrate("vanity_inventory", f"sqlite+aiosqlite:///{database}")
    assert database.exists()
