from __future__ import annotations

import subprocess
import sys

import yaml
from vanity_gateway.schema import check
from vanity_testkit.gateway import KONG_YML


def test_committed_config_is_valid_and_has_no_keys():
    doc = yaml.safe_load(KONG_YML.read_text())
    _, errors = check(doc)
    assert errors == []
    assert all(not c.get("jwt_secrets") for c in doc["consumers"])


def test_checker_names_every_problem():
    doc = {
        "_format_version": "2.1",
        "services": [
            {"name": "a", "url": "http://a:8080", "retries": 99999,
             "routes": [{"name": "r", "paths": ["/x"], "stripPath": False,
                         "plugins": [{"name": "acl", "config": {"allow": ["x"], "deny": ["y"]}},
                                     {"name": "rate-limiting", "config": {"minute": 10, "second": 20}},
                                     {"name": "cors", "config": {"origins": ["(bad"]}}]}]},
        ],
        "plugins": [{"name": "jwt", "route": "nope", "config": {"maximum_expiration": 60}}],
    }  # fmt: skip
    _, errors = check(doc)
    text = "\n".join(errors)
    for needle in [
        "_format_version: expected one of: 3.0",
        "retries: value should be between 0 and 32767",
        "routes[r].stripPath: unknown field",
        "only one of these fields must be non-empty: 'allow', 'deny'",
        "The limit for minute(10) cannot be lower than the limit for second(20)",
        "'(bad' is not a valid regex",
        "plugins[0].route: references unknown route 'nope'",
        "must contain 'exp' when maximum_expiration > 0",
    ]:
        assert needle in text, (needle, text)


def test_validate_cli_exit_codes(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text('_format_version: "3.0"\nplugins: [{name: cors, config: {origin: ["*"]}}]\n')
    run = lambda f: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "vanity_gateway.validate", str(f)], capture_output=True, text=True
    )
    assert run(KONG_YML).returncode == 0
    proc = run(bad)
    assert proc.returncode == 1 and "config.origin: unknown field" in proc.stderr


def test_kong_fields_the_stand_in_does_not_implement_are_refused():
    doc = {
        "_format_version": "3.0",
        "services": [
            {"name": "a", "url": "http://a:8080", "tls_verify": True,
             "routes": [{"name": "r", "paths": ["/x"], "hosts": ["a.example"],
                         "plugins": [{"name": "response-transformer",
                                      "config": {"add": {"json": ["k:v"]}}},
                                     {"name": "rate-limiting",
                                      "config": {"minute": 5, "sync_rate": 10}}]}]},
        ],
        "consumers": [{"username": "u", "jwt_secrets": [{"key": "k", "algorithm": "PS256"}]}],
        "upstreams": [{"name": "a"}],
    }  # fmt: skip
    _, errors = check(doc)
    text = "\n".join(errors)
    for needle in [
        "services[a].tls_verify: unknown field",
        "routes[r].hosts: unknown field",
        "config.add.json: unknown field",
        "config.sync_rate: unknown field",
        "jwt_secrets[k].algorithm: expected one of",
        ".upstreams: unknown field",
    ]:
        assert needle in text, (needle, text)
