"""Access tokens: the contract of docs/auth.md, verified by the chassis verifier (PEM files and
JWKS), and every forged or stale token refused."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from vanity_common.auth import JwksKeys, PemDirectoryKeys, TokenVerifier, key_id_for
from vanity_common.errors import Unauthenticated
from vanity_identity import keys as keyfiles
from vanity_identity.app import create_app
from vanity_identity.keys import KeysUnavailableError


def _segments(token: str):
    header, payload, signature = token.split(".")

    def dec(s):
        return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))

    return dec(header), dec(payload), signature


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_customer_token_follows_the_contract(identity):
    tokens = await identity.signed_in("ada@example.com")
    header, claims, _ = _segments(tokens["access_token"])
    active = keyfiles.active_key_id(identity.settings.keys_dir)
    assert header == {"alg": "ES256", "typ": "JWT", "kid": f"customer.{active}"}
    assert set(claims) == {
        "iss",
        "sub",
        "roles",
        "perms",
        "email",
        "iat",
        "nbf",
        "exp",
        "jti",
        "sid",
    }
    assert claims["iss"] == "vanity-identity"
    assert claims["roles"] == ["customer"] and claims["perms"] == []
    assert claims["exp"] - claims["iat"] == 900 and claims["nbf"] == claims["iat"]
    assert claims["sid"] == tokens["session_id"]
    assert tokens["expires_in"] in (899, 900)

    principal = await TokenVerifier(PemDirectoryKeys(identity.settings.keys_dir)).verify(
        tokens["access_token"]
    )
    assert principal.user_id == tokens["user"]["id"]
    assert principal.roles == {"customer"} and not principal.is_admin
    assert principal.session_id == tokens["session_id"]
    assert principal.email == "ada@example.com"


async def test_admin_token_has_admin_class_and_permissions(identity):
    tokens = await identity.admin(perms=["users", "orders"])
    header, claims, _ = _segments(tokens["access_token"])
    assert header["kid"].startswith("admin.")
    assert claims["roles"] == ["admin"] and claims["perms"] == ["orders", "users"]
    principal = await TokenVerifier(PemDirectoryKeys(identity.settings.keys_dir)).verify(
        tokens["access_token"]
    )
    assert principal.is_admin and principal.can("users") and not principal.can("catalog")


async def test_jwks_publishes_every_key_and_verifies_tokens(identity, token_minter):
    r = await identity.client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    document = r.json()
    kids = {k["kid"] for k in document["keys"]}
    active = keyfiles.active_key_id(identity.settings.keys_dir)
    # identity's own key and the minter's public key sharing the folder
    assert kids == {active, token_minter.key_id}
    for jwk in document["keys"]:
        assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}  # no private "d"
        assert jwk["alg"] == "ES256" and jwk["crv"] == "P-256"

    body = json.dumps(document).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
        verifier = TokenVerifier(JwksKeys(url, min_refresh=0))
        tokens = await identity.signed_in("jwks@example.com")
        principal = await verifier.verify(tokens["access_token"])
        assert principal.user_id == tokens["user"]["id"]
    finally:
        server.shutdown()
        server.server_close()


def _forgeries(token: str, keys_dir) -> dict[str, str]:
    header, claims, signature = _segments(token)
    active = keyfiles.active_key_id(keys_dir)
    public_pem = (keys_dir / f"{active}.public.pem").read_bytes()
    forged = {}
    forged["alg_none"] = (
        f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': header['kid']})}.{_b64(claims)}."
    )
    # HS256 keyed with the public key PEM: the classic algorithm-confusion attack.
    import hashlib
    import hmac

    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': header['kid']})}.{_b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged["hs256_public_key"] = (
        f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    )
    wrong = ec.generate_private_key(ec.SECP256R1())
    forged["wrong_kid"] = jwt.encode(
        claims,
        wrong,
        algorithm="ES256",
        headers={"kid": f"customer.{key_id_for(wrong.public_key())}"},
    )
    forged["kid_of_other_key"] = jwt.encode(
        claims, wrong, algorithm="ES256", headers={"kid": header["kid"]}
    )
    forged["tampered_payload"] = (
        f"{token.split('.')[0]}.{_b64({**claims, 'roles': ['admin'], 'perms': ['users']})}.{signature}"
    )
    forged["class_mismatch"] = (
        f"{_b64({**header, 'kid': header['kid'].replace('customer.', 'admin.')})}."
        f"{token.split('.')[1]}.{signature}"
    )
    return forged


async def test_forged_tokens_are_refused_by_identity_and_the_chassis(identity):
    tokens = await identity.signed_in("victim@example.com")
    keys_dir = identity.settings.keys_dir
    ok = await identity.client.get("/api/v1/me", headers=identity.bearer(tokens))
    assert ok.status_code == 200
    verifier = TokenVerifier(PemDirectoryKeys(keys_dir))
    for name, forged in _forgeries(tokens["access_token"], keys_dir).items():
        r = await identity.client.get("/api/v1/me", headers=identity.bearer(forged))
        assert r.status_code == 401, name
        assert r.headers["content-type"].startswith("application/problem+json")
        with pytest.raises(Unauthenticated):
            await verifier.verify(forged)


async def test_expired_token_is_refused(identity):
    from datetime import UTC, datetime, timedelta

    await identity.register("old@example.com")
    past = datetime.now(UTC) - timedelta(minutes=20)
    identity.service.clock = lambda: past
    tokens = await identity.login("old@example.com")
    identity.service.clock = lambda: datetime.now(UTC)
    r = await identity.client.get("/api/v1/me", headers=identity.bearer(tokens))
    assert r.status_code == 401
    assert r.json()["detail"] == "Access token expired."


async def test_rotation_keeps_old_tokens_valid_until_retired(identity):
    keys_dir = identity.settings.keys_dir
    before = keyfiles.active_key_id(keys_dir)
    old = await identity.signed_in("rot@example.com")
    new_id = keyfiles.rotate(keys_dir)
    identity.app.state.container.keys.refresh(force=True)
    fresh = await identity.login("rot@example.com")
    assert (
        _segments(fresh["access_token"])[0]["kid"] == f"customer.{new_id}" != f"customer.{before}"
    )
    jwks = (await identity.client.get("/.well-known/jwks.json")).json()
    assert {before, new_id} <= {k["kid"] for k in jwks["keys"]}
    for tokens in (old, fresh):  # side by side
        assert (
            await identity.client.get("/api/v1/me", headers=identity.bearer(tokens))
        ).status_code == 200

    plan = keyfiles.plan_retire(keys_dir, identity.settings.max_token_lifetime_seconds)
    assert before in plan.removable and plan.wait_seconds > 900  # just activated: too early
    later = keyfiles.plan_retire(keys_dir, 900, now=time.time() + 961)
    assert later.wait_seconds == 0
    keyfiles.retire(keys_dir, later.removable)
    identity.app.state.container.keys.refresh(force=True)
    assert (
        await identity.client.get("/api/v1/me", headers=identity.bearer(old))
    ).status_code == 401
    assert (
        await identity.client.get("/api/v1/me", headers=identity.bearer(fresh))
    ).status_code == 200
    assert not (keys_dir / f"{before}.private.pem").exists()


def test_development_generates_keys_and_production_refuses(tmp_path):
    from vanity_identity.settings import IdentitySettings

    dev = tmp_path / "dev-keys"
    create_app(IdentitySettings(env="development", keys_dir=dev, data_dir=tmp_path, grpc_port=0))
    active = keyfiles.active_key_id(dev)
    private = dev / f"{active}.private.pem"
    assert private.is_file() and (dev / f"{active}.public.pem").is_file()
    assert private.stat().st_mode & 0o077 == 0  # owner-only
    loaded = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert key_id_for(loaded.public_key()) == active

    prod = IdentitySettings(
        env="production",
        keys_dir=tmp_path / "prod-keys",
        data_dir=tmp_path,
        database_url="mysql+asyncmy://u:p@db/identity",
        redis_url="redis://127.0.0.1:6379/0",
        mail_backend="smtp",
    )
    with pytest.raises(KeysUnavailableError):
        create_app(prod)
    assert not list((tmp_path / "prod-keys").glob("*.pem"))  # never generated
    # with keys mounted, production starts
    keyfiles.rotate(tmp_path / "prod-keys")
    create_app(prod)
