"""The jwt plugin's signature checks (PyJWT's algorithms) for every family Kong's parser accepts."""

from __future__ import annotations

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from vanity_gateway.config import Consumer, Credential
from vanity_gateway.context import RequestContext
from vanity_gateway.kong import KongExit
from vanity_gateway.plugins.jwt import Jwt

NOW = 1_900_000_000
CONF = {
    "uri_param_names": [], "cookie_names": [], "key_claim_name": "iss", "secret_is_base64": False,
    "claims_to_verify": ["exp"], "run_on_preflight": True, "maximum_expiration": 0,
    "header_names": ["authorization"],
}  # fmt: skip
CONSUMER = Consumer(id="c-1", username="someone", custom_id=None, groups=[])


def _pem(private) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _keys(alg: str):
    """(signing key, credential) for `alg`."""
    if alg.startswith("HS"):
        secret = "s3cret-" + alg * 16  # long enough for PyJWT not to warn (RFC 7518 3.2)
        return secret, Credential("id", "k", alg, secret, None, CONSUMER)
    if alg.startswith("RS"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        curve = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}[alg]
        private = ec.generate_private_key(curve())
    return private, Credential("id", "k", alg, None, _pem(private), CONSUMER)


def _authenticate(cred: Credential, token: str) -> RequestContext:
    plugin = Jwt(CONF, None, None, credentials_ref={"k": cred}, consumers_ref={},
                 clock=lambda: NOW)  # fmt: skip
    ctx = RequestContext(
        method="GET", path="/", query="", client_ip="127.0.0.1", scheme="http", host="h",
        port=80, headers={"authorization": [f"Bearer {token}"]}, kong_request_id="r",
    )  # fmt: skip
    plugin.access(ctx)
    return ctx


@pytest.mark.parametrize(
    "alg", ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
)
def test_each_algorithm_verifies_and_refuses_a_tampered_token(alg):
    key, cred = _keys(alg)
    token = pyjwt.encode({"iss": "k", "exp": NOW + 60}, key, algorithm=alg)
    ctx = _authenticate(cred, token)
    assert ctx.consumer is CONSUMER
    assert ctx.upstream_set["x-credential-identifier"] == ("X-Credential-Identifier", "k")
    head, _, sig = token.split(".")
    forged = pyjwt.encode({"iss": "k", "exp": NOW + 61}, key, algorithm=alg).split(".")[1]
    with pytest.raises(KongExit) as refused:
        _authenticate(cred, f"{head}.{forged}.{sig}")
    assert (refused.value.status, refused.value.body) == (401, b'{"message":"Invalid signature"}')


def test_other_key_same_algorithm_is_an_invalid_signature():
    key, _ = _keys("ES256")
    _, cred = _keys("ES256")
    token = pyjwt.encode({"iss": "k", "exp": NOW + 60}, key, algorithm="ES256")
    with pytest.raises(KongExit) as refused:
        _authenticate(cred, token)
    assert refused.value.body == b'{"message":"Invalid signature"}'
