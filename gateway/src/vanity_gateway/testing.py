"""Helpers for tests (here and in tests/e2e): dev keys in identity's layout, and token minting.

keys_dir = tmp_path / "keys"; kid = generate_key(keys_dir)
token = mint_token(keys_dir, sub="42", admin=False)
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import socket
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

KONG_YML = Path(__file__).resolve().parents[2] / "kong.yml"
SERVICES = ["identity", "catalog", "inventory", "cart", "checkout", "payments"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) of an EC P-256 public key."""
    nums = public_key.public_numbers()
    members = {
        "crv": "P-256",
        "kty": "EC",
        "x": b64url(nums.x.to_bytes(32, "big")),
        "y": b64url(nums.y.to_bytes(32, "big")),
    }
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canonical).digest())


def generate_key(keys_dir: str | Path, activate: bool = True) -> str:
    """Create `<key-id>.private.pem` / `.public.pem` (key id = 16 chars of the thumbprint)."""
    keys_dir = Path(keys_dir)
    keys_dir.mkdir(parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    key_id = jwk_thumbprint(private.public_key())[:16]
    (keys_dir / f"{key_id}.private.pem").write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (keys_dir / f"{key_id}.public.pem").write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    if activate:
        (keys_dir / "active").write_text(key_id + "\n")
    return key_id


def load_private_key(keys_dir: str | Path, key_id: str | None = None):
    keys_dir = Path(keys_dir)
    key_id = key_id or (keys_dir / "active").read_text().strip()
    pem = (keys_dir / f"{key_id}.private.pem").read_bytes()
    return key_id, serialization.load_pem_private_key(pem, password=None)


def sign_es256(private_key, header: dict, claims: dict) -> str:
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    der = private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def mint_token(
    keys_dir: str | Path,
    *,
    sub: str = "1",
    admin: bool = False,
    key_id: str | None = None,
    ttl: int = 900,
    now: int | None = None,
    header: dict[str, Any] | None = None,
    **extra_claims: Any,
) -> str:
    """An access token shaped like identity's (docs/auth.md), signed with a key from keys_dir."""
    key_id, private = load_private_key(keys_dir, key_id)
    now = int(time.time()) if now is None else now
    cls = "admin" if admin else "customer"
    claims: dict[str, Any] = {
        "iss": "vanity-identity",
        "sub": sub,
        "roles": ["admin"] if admin else ["customer"],
        "perms": ["catalog", "inventory", "orders", "users", "payments"] if admin else [],
        "email": f"user{sub}@example.test",
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "sid": uuid.uuid4().hex,
    }
    claims.update(extra_claims)
    claims = {k: v for k, v in claims.items() if v is not None}
    hdr = {"alg": "ES256", "typ": "JWT", "kid": f"{cls}.{key_id}"}
    if header is not None:
        hdr.update(header)
        hdr = {k: v for k, v in hdr.items() if v is not None}
    return sign_es256(private, hdr, claims)


class FixedClock:
    """Mid-minute of the current hour: rate-limit windows cannot roll over during a test."""

    def __init__(self) -> None:
        self.now = float(int(time.time()) // 3600 * 3600 + 1830)

    def __call__(self) -> float:
        return self.now


def route_of(doc: dict, name: str) -> dict:
    for s in doc["services"]:
        for r in s["routes"]:
            if r["name"] == name:
                return r
    raise KeyError(name)


def plugin_of(entity: dict, name: str) -> dict:
    for p in entity["plugins"]:
        if p["name"] == name:
            return p
    raise KeyError(name)


def service_of(doc: dict, name: str) -> dict:
    return next(s for s in doc["services"] if s["name"] == name)


@asynccontextmanager
async def running_gateway(
    tmp_path, doc, upstream_url, clock=None, upstreams=None, limits=None, realip=None
):
    """Serve `doc` with the stand-in on a random loopback port; yields its base URL.

    The server is the one `python -m vanity_gateway` runs (server.make_server); `limits`
    (server.ClientLimits) and `realip` (realip.RealIp) default to the production defaults."""
    import yaml

    from .app import create_app
    from .render import dump
    from .server import ClientLimits, make_server

    doc = copy.deepcopy(doc)
    cfg = tmp_path / f"kong-{id(doc)}.yml"
    cfg.write_text(dump(doc))
    ups = tmp_path / f"upstreams-{id(doc)}.yml"
    ups.write_text(
        yaml.safe_dump({"upstreams": upstreams or dict.fromkeys(SERVICES, upstream_url)})
    )
    env = {"clock": clock} if clock else {}
    app = create_app(cfg, ups, watch_interval=None, realip=realip, **env)
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = make_server(app, limits or ClientLimits(), log_level="warning", loop="none",
                         lifespan="on")  # fmt: skip
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "gateway did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
