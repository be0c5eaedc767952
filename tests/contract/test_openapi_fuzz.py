"""Schemathesis over every service's OpenAPI document (issue 16): generated requests, valid and
invalid, never get a 500. A new endpoint that crashes on some input fails `make test`.

Each service runs for real (its migrations on a throwaway SQLite file, its uvicorn server as
`serve()` configures it, on a free port, in a thread) with gRPC off: a call to another service
is a 503, which is an answer, not a crash. Requests carry a valid token (an admin's on admin
routes, a customer's elsewhere) so they reach the handlers instead of stopping at a 401.

Bounded: MAX_EXAMPLES per operation, no shrinking, no example database (nothing is written to
the repository: no .hypothesis/ or .schemathesis/ folder).
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from vanity_common.app import uvicorn_config
from vanity_common.migrations import migrate
from vanity_testkit import TokenMinter

MAX_EXAMPLES = 10
PASSWORD = "correct horse battery staple"
SERVICES = ("identity", "catalog", "inventory", "cart", "checkout", "payments")


@dataclass
class RunningService:
    name: str
    base_url: str
    customer: dict[str, str]
    admin: dict[str, str]


def _settings(name: str, tmp: Path, keys_dir: Path):
    module = importlib.import_module(f"vanity_{name}.settings")
    settings_class = getattr(module, f"{name.capitalize()}Settings")
    options = {
        "env": "test",
        "database_url": f"sqlite+aiosqlite:///{tmp / name}.db",
        "data_dir": tmp,
        "keys_dir": keys_dir,
        "http_port": 0,
        "grpc_enabled": False,
        "access_log": False,
        "log_level": "WARNING",
        "ended_sessions_refresh_seconds": 0,
    }
    if name == "identity":
        options.update(
            argon2_time_cost=1,
            argon2_memory_cost_kib=8192,
            argon2_parallelism=1,
            register_ip_limits="",
            login_ip_limits="",
            login_account_limits="",
            reset_ip_limits="",
        )
    return settings_class(**options)


def _serve_in_thread(app, settings) -> tuple[uvicorn.Server, threading.Thread, int]:
    config = uvicorn_config(app, settings)
    config.loop = "asyncio"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"{settings.service_name}-http")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{settings.service_name} did not start")
        time.sleep(0.02)
    return server, thread, server.servers[0].sockets[0].getsockname()[1]


def _identity_tokens(base_url: str, settings) -> tuple[dict[str, str], dict[str, str]]:
    """Identity checks its own sessions: a customer and an admin who really signed in."""
    from vanity_identity.bootstrap import build_container

    async def create_admin() -> None:
        container = build_container(settings)
        try:
            await container.identity.create_admin("root@vanity.shop", "Root", PASSWORD)
        finally:
            await container.aclose()

    asyncio.run(create_admin())
    with httpx.Client(base_url=base_url) as http:
        http.post(
            "/api/v1/auth/register",
            json={"email": "ada@example.com", "name": "Ada", "password": PASSWORD},
        ).raise_for_status()

        def bearer(email: str) -> dict[str, str]:
            login = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
            login.raise_for_status()
            return {"Authorization": f"Bearer {login.json()['access_token']}"}

        return bearer("ada@example.com"), bearer("root@vanity.shop")


@pytest.fixture(scope="module", params=SERVICES)
def service(request, tmp_path_factory) -> Iterator[RunningService]:
    name = request.param
    tmp = tmp_path_factory.mktemp(name)
    minter = TokenMinter(tmp / "keys")
    keys_dir = tmp / "identity-keys" if name == "identity" else minter.keys_dir
    settings = _settings(name, tmp, keys_dir)
    asyncio.run(migrate(f"vanity_{name}", settings.database_url))
    app = importlib.import_module(f"vanity_{name}.app").create_app(settings)
    server, thread, port = _serve_in_thread(app, settings)
    base_url = f"http://127.0.0.1:{port}"
    try:
        if name == "identity":
            customer, admin = _identity_tokens(base_url, settings)
        else:
            customer = minter.headers(minter.token("fuzz-customer"))
            admin = minter.headers(minter.admin("fuzz-admin"))
        yield RunningService(name, base_url, customer, admin)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _headers_for(path: str, running: RunningService) -> dict[str, str]:
    if "/auth/" in path:  # logout would end the session the other operations use
        return {}
    return running.admin if "/admin/" in path else running.customer


def _dependency_unavailable(response) -> bool:
    """The one 5xx that is an answer here: the service needed another one, which does not run
    in this test (gRPC is off), and said so."""
    if response.status_code != 503:
        return False
    try:
        return response.json().get("reason") == "DEPENDENCY_UNAVAILABLE"
    except ValueError:
        return False


def _check(case, base_url: str, headers: dict[str, str]) -> None:
    response = case.call(base_url=base_url, headers=headers, timeout=10)
    if not _dependency_unavailable(response):
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])


def _coverage(schema, operation, base_url: str, headers: dict[str, str]) -> None:
    """Schemathesis' coverage phase: each parameter and field at and just past its bounds
    (e.g. 2**63 - 1 and 2**63 for a bounded id), of the wrong type, missing, empty."""
    generation = schema.config.generation_for(operation=operation, phase="coverage")
    for case in schema.iter_coverage_cases(
        operation, generation_modes=list(GenerationMode), generation_config=generation
    ):
        _check(case, base_url, headers)


def _fuzz(operation, base_url: str, headers: dict[str, str]):
    """Schemathesis' fuzzing phase: random valid requests and requests breaking the schema."""

    @given(
        case=st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )
    )
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def property_(case) -> None:
        _check(case, base_url, headers)

    return property_


def test_no_generated_request_gets_a_server_error(service: RunningService):
    schema = schemathesis.openapi.from_url(f"{service.base_url}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        headers = _headers_for(operation.path, service)
        try:
            _coverage(schema, operation, service.base_url, headers)
            _fuzz(operation, service.base_url, headers)()
        except (Exception, BaseExceptionGroup) as failure:  # report every operation's failure
            failures.append(f"{operation.label}: {failure}")
    assert not failures, "\n\n".join(failures)
