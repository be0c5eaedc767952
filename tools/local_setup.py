"""Local-only set-up for `make run` and the e2e suite: identity's development signing keys (the
first time), the gateway's Kong config rendered with their public keys (every time, so a
rotated key is picked up), and the development CA and certificates for gRPC mutual TLS (the
first time). Production mounts keys and certificates from Secrets and never runs this."""

from __future__ import annotations

import os
from pathlib import Path

from vanity_common.tls import ensure_development_certificates
from vanity_gateway import render
from vanity_identity import keys


def prepare_keys_and_gateway(data_dir: Path) -> None:
    keys_dir = data_dir / "keys"
    if keys.active_key_id(keys_dir) is None:
        keys.rotate(keys_dir)  # generate a pair and make it the signing key
    config = data_dir / "gateway" / "kong.yml"
    args = ["--keys-dir", str(keys_dir), "--out", str(config)]
    if os.environ.get("REDIS_URL"):
        args += ["--redis-url", os.environ["REDIS_URL"]]
    if render.main(args) != 0:
        raise SystemExit("rendering the gateway config failed")
    os.environ["GATEWAY_CONFIG"] = str(config)
    os.environ["KEYS_DIR"] = str(keys_dir)


def prepare_grpc_certificates(tls_dir: Path, identities: list[str]) -> None:
    """A development CA ("Vanity Development CA", refused in production) and a certificate per
    service, made on the first run; later runs reuse them."""
    ensure_development_certificates(tls_dir, identities)
