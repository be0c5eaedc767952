"""The chassis token verifier (docs/auth.md): what every service relies on for defence in depth."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI
from httpx import ASGITransport, AsyncClient
from vanity_common.auth import (
    CurrentUser,
    PemDirectoryKeys,
    Principal,
    TokenVerifier,
    jwk_thumbprint,
    key_id_for,
    public_jwk,
    require_admin,
)
from vanity_common.errors import Unauthenticated, install_problem_handlers
from vanity_testkit import TokenMinter


def _b64(data: bytes | dict) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict, dict, str]:
    h, p, s = token.split(".")
    pad = lambda x: x + "=" * (-len(x) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(h))),
        json.loads(base64.urlsafe_b64decode(pad(p))),
        s,
    )


@pytest.fixture
def verifier(token_minter: TokenMinter) -> TokenVerifier:
    return TokenVerifier(PemDirectoryKeys(token_minter.keys_dir))


async def test_valid_tokens_give_the_principal(token_minter, verifier):
    principal = await verifier.verify(token_minter.token("u-1", email="a@example.com"))
    assert principal.user_id == "u-1" and principal.roles == {"customer"}
    assert principal.email == "a@example.com" and principal.session_id
    admin = await verifier.verify(token_minter.admin("a-1", perms=("users",)))
    assert admin.is_admin and admin.can("users") and not admin.can("orders")


def _public_pem(token_minter: TokenMinter) -> bytes:
    return (token_minter.keys_dir / f"{token_minter.key_id}.public.pem").read_bytes()


async def test_alg_none_is_refused(token_minter, verifier):
    header, claims, _ = _parts(token_minter.token())
    for alg in ("none", "None", "NONE"):
        forged = f"{_b64({**header, 'alg': alg})}.{_b64(claims)}."
        with pytest.raises(Unauthenticated):
            await verifier.verify(forged)


async def test_hs256_signed_with_the_public_key_is_refused(token_minter, verifier):
    header, claims, _ = _parts(token_minter.token())
    signing_input = f"{_b64({**header, 'alg': 'HS256'})}.{_b64(claims)}"
    for secret in (_public_pem(token_minter), _public_pem(token_minter).strip()):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(Unauthenticated, match="algorithm"):
            await verifier.verify(f"{signing_input}.{_b64(mac)}")


async def test_other_algorithms_are_refused(token_minter, verifier):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(
        {"sub": "x", "iss": "vanity-identity", "iat": 1, "exp": 9999999999, "jti": "j"},
        rsa_key,
        algorithm="RS256",
        headers={"kid": f"customer.{token_minter.key_id}"},
    )
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)


async def test_wrong_or_unknown_kid_is_refused(token_minter, verifier):
    other = ec.generate_private_key(ec.SECP256R1())
    claims = _parts(token_minter.token())[1]
    cases = [
        # a key nobody published
        jwt.encode(
            claims, other, "ES256", headers={"kid": f"customer.{key_id_for(other.public_key())}"}
        ),
        # signed by another key but naming the published one
        jwt.encode(claims, other, "ES256", headers={"kid": f"customer.{token_minter.key_id}"}),
        # no class, unknown class, no kid
        jwt.encode(claims, token_minter.private_key, "ES256", headers={"kid": token_minter.key_id}),
        jwt.encode(
            claims,
            token_minter.private_key,
            "ES256",
            headers={"kid": f"root.{token_minter.key_id}"},
        ),
        jwt.encode(claims, token_minter.private_key, "ES256"),
    ]
    for token in cases:
        with pytest.raises(Unauthenticated):
            await verifier.verify(token)


async def test_tampered_payload_is_refused(token_minter, verifier):
    token = token_minter.token("u-1")
    header, claims, signature = token.split(".")
    decoded = _parts(token)[1]
    for change in ({"sub": "u-2"}, {"roles": ["admin"]}, {"exp": decoded["exp"] + 3600}):
        forged = f"{header}.{_b64({**decoded, **change})}.{signature}"
        with pytest.raises(Unauthenticated):
            await verifier.verify(forged)
    with pytest.raises(Unauthenticated):
        await verifier.verify(f"{header}.{claims}.{signature[:-4]}AAAA")


async def test_expired_and_foreign_tokens_are_refused(token_minter, verifier):
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.verify(token_minter.token(ttl=-60))
    with pytest.raises(Unauthenticated):
        await verifier.verify(TokenMinter(token_minter.keys_dir, issuer="someone-else").token())
    with pytest.raises(Unauthenticated):
        await verifier.verify("not.a.token")


async def test_token_class_must_match_roles(token_minter, verifier):
    with pytest.raises(Unauthenticated, match="class"):
        await verifier.verify(token_minter.token(roles=("admin",), token_class="customer"))
    with pytest.raises(Unauthenticated, match="class"):
        await verifier.verify(token_minter.token(roles=("customer",), token_class="admin"))


def test_key_id_is_the_rfc7638_thumbprint_prefix():
    # RFC 7638 section 3.1 defines the member order; check against an independent computation.
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    jwk = public_jwk(key, "kid")
    canonical = f'{{"crv":"P-256","kty":"EC","x":"{jwk["x"]}","y":"{jwk["y"]}"}}'
    expected = _b64(hashlib.sha256(canonical.encode()).digest())
    assert jwk_thumbprint(key) == expected and key_id_for(key) == expected[:16]
    assert "d" not in jwk
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key_id_for(serialization.load_pem_public_key(pem)) == expected[:16]


async def test_dependencies_expose_the_caller_and_guard_admin_routes(token_minter, verifier):
    app = FastAPI()
    app.state.token_verifier = verifier
    install_problem_handlers(app)

    @app.get("/me")
    async def me(user: CurrentUser):
        return {"id": user.user_id, "roles": sorted(user.roles)}

    @app.get("/admin")
    async def admin(user: Principal = Depends(require_admin("users"))):
        return {"id": user.user_id}

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        h = token_minter.headers
        r = await client.get("/me", headers=h(token_minter.token("u-9")))
        assert r.json() == {"id": "u-9", "roles": ["customer"]}
        assert (await client.get("/me")).status_code == 401
        assert (await client.get("/admin", headers=h(token_minter.token("u-9")))).status_code == 403
        r = await client.get("/admin", headers=h(token_minter.admin(perms=("catalog",))))
        assert r.status_code == 403
        assert (await client.get("/admin", headers=h(token_minter.admin()))).status_code == 200
