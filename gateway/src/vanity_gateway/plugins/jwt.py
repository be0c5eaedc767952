"""jwt (priority 1450): kong/plugins/jwt/handler.lua + jwt_parser.lua, case for case."""

from __future__ import annotations

import base64
import binascii
import re
import time
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

import orjson
from jwt.algorithms import get_default_algorithms
from jwt.exceptions import InvalidKeyError

from ..config import Credential
from ..context import RequestContext
from ..kong import KongExit, exit_json
from . import Plugin

_BEARER = re.compile(r"\s*[Bb]earer\s+(.+)")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
# algorithms Kong's parser knows (others: "Bad token; invalid alg")
KNOWN_ALGS = {
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512",
    "PS256", "PS384", "PS512", "EdDSA",
}  # fmt: skip
_ALGORITHMS = get_default_algorithms()  # PyJWT's HS*/RS*/ES* signature checks
_ES_SIG_LEN = {"ES256": 64, "ES384": 96, "ES512": 132}
_VERIFIED_CACHE_MAX = 20000


class PluginError(Exception):
    """A Lua runtime error inside the plugin: Kong answers 500."""


def b64url_decode(s: str) -> bytes | None:
    """ngx.base64.decode_base64url after the parser's padding; None when invalid."""
    if not _B64URL.match(s):
        return None
    s = s.rstrip("=")
    if len(s) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    except (binascii.Error, ValueError):
        return None


def _unauthorized(message, www_auth, errors=None) -> KongExit:
    return exit_json(
        401,
        errors if errors is not None else {"message": message},
        [("WWW-Authenticate", www_auth)],
    )


class Jwt(Plugin):
    name = "jwt"
    priority = 1450

    def __init__(self, conf, route_id, service_id, **env):
        super().__init__(conf, route_id, service_id, **env)
        self.credentials: dict[str, Credential] = env.get("credentials_ref", {})
        # the schema checker guarantees the reference resolves
        self.anonymous = env["consumers_ref"][conf["anonymous"]] if conf.get("anonymous") else None
        self.clock = env.get("clock", time.time)
        self._verified: dict[tuple[str, str], bool] = {}
        realm = conf.get("realm")
        if realm:
            self.www_base = f'Bearer realm="{realm}"'
            self.www_error = self.www_base + ', error="invalid_token"'
        else:
            self.www_base = "Bearer"
            self.www_error = 'Bearer error="invalid_token"'

    # -- token retrieval ---------------------------------------------------------------------
    def retrieve_tokens(self, ctx: RequestContext) -> list[str]:
        tokens: dict[str, None] = {}
        if self.conf["uri_param_names"] and ctx.query:
            args = parse_qs(ctx.query, keep_blank_values=True)
            for name in self.conf["uri_param_names"]:
                for t in args.get(name, []):
                    if t:
                        tokens[t] = None
        if self.conf["cookie_names"] and ctx.header("cookie"):
            jar = SimpleCookie()
            try:
                jar.load(ctx.header("cookie") or "")
            except Exception:
                jar = SimpleCookie()
            for name in self.conf["cookie_names"]:
                if name in jar and jar[name].value:
                    tokens[jar[name].value] = None
        for name in self.conf["header_names"]:
            value = ctx.header(name)
            if value is None:
                continue
            m = _BEARER.search(value)
            if m and m.group(1):
                tokens[m.group(1)] = None
        return list(tokens)

    # -- signature ---------------------------------------------------------------------------
    def _public_key(self, cred: Credential):
        if cred.public_key is None:
            try:
                cred.public_key = _ALGORITHMS[cred.algorithm].prepare_key(cred.rsa_public_key)
            except (InvalidKeyError, ValueError, TypeError, AttributeError) as exc:
                raise PluginError("Consumer Public Key is Invalid") from exc
        return cred.public_key

    def verify_signature(self, alg: str, signing_input: bytes, sig: bytes, cred: Credential):
        algorithm = _ALGORITHMS[alg]
        if alg.startswith("HS"):
            # the raw bytes, as Kong: PyJWT's prepare_key would refuse a PEM-looking secret
            secret = cred.secret or ""
            key = (
                (b64url_decode(secret) or b"") if self.conf["secret_is_base64"] else secret.encode()
            )
            return algorithm.verify(signing_input, key, sig)
        if alg.startswith("ES") and len(sig) != _ES_SIG_LEN[alg]:
            # jwt_parser.lua asserts the length (a Lua error: 500); PyJWT would say "invalid"
            raise PluginError(f"Signature must be {_ES_SIG_LEN[alg]} bytes.")
        cache_key = (cred.key, signing_input.decode() + "." + sig.hex())
        if cache_key in self._verified:
            return True
        try:
            if not algorithm.verify(signing_input, self._public_key(cred), sig):
                return False
        except (TypeError, AttributeError, ValueError) as exc:
            raise PluginError(str(exc)) from exc
        if len(self._verified) >= _VERIFIED_CACHE_MAX:
            self._verified.clear()
        self._verified[cache_key] = True
        return True

    # -- access ------------------------------------------------------------------------------
    def access(self, ctx: RequestContext) -> None:
        if not self.conf["run_on_preflight"] and ctx.method == "OPTIONS":
            return
        try:
            if self.anonymous is None:  # Kong's "logical AND": a failure is the answer
                self._authenticate(ctx)
            elif ctx.credential is None:  # "logical OR": any failure proceeds as anonymous
                try:
                    self._authenticate(ctx)
                except KongExit:
                    self._set_consumer(ctx, self.anonymous, None)
        except PluginError as exc:
            raise exit_json(500, {"message": "An unexpected error occurred"}) from exc

    @staticmethod
    def _set_consumer(ctx: RequestContext, consumer, cred: Credential | None) -> None:
        """handler.lua set_consumer: every consumer header is set or cleared, never kept."""
        ctx.consumer, ctx.credential = consumer, cred
        ctx.set_upstream_header("X-Consumer-ID", consumer.id)
        if consumer.custom_id:
            ctx.set_upstream_header("X-Consumer-Custom-ID", consumer.custom_id)
        else:
            ctx.clear_upstream_header("X-Consumer-Custom-ID")
        if consumer.username:
            ctx.set_upstream_header("X-Consumer-Username", consumer.username)
        else:
            ctx.clear_upstream_header("X-Consumer-Username")
        if cred is not None:
            ctx.set_upstream_header("X-Credential-Identifier", cred.key)
            ctx.clear_upstream_header("X-Anonymous-Consumer")
        else:
            ctx.clear_upstream_header("X-Credential-Identifier")
            ctx.set_upstream_header("X-Anonymous-Consumer", "true")

    def _authenticate(self, ctx: RequestContext) -> None:
        tokens = self.retrieve_tokens(ctx)
        if not tokens:
            raise _unauthorized("Unauthorized", self.www_base)
        if len(tokens) > 1:
            raise _unauthorized("Multiple tokens provided", self.www_error)
        token = tokens[0]

        parts = token.split(".", 2)
        if len(parts) < 3:
            raise _unauthorized("Bad token; invalid JSON", self.www_error)
        h64, c64, s64 = parts
        hb, cb = b64url_decode(h64), b64url_decode(c64)
        try:
            if hb is None or cb is None:
                raise ValueError
            header = orjson.loads(hb)
            claims = orjson.loads(cb)
        except (ValueError, orjson.JSONDecodeError):
            raise _unauthorized("Bad token; invalid JSON", self.www_error) from None
        signature = b64url_decode(s64)
        alg = header.get("alg") if isinstance(header, dict) else None
        if not isinstance(alg, str) or alg not in KNOWN_ALGS:
            raise _unauthorized("Bad token; invalid alg", self.www_error)
        if claims is None:
            raise _unauthorized("Bad token; invalid claims", self.www_error)
        if signature is None:
            raise _unauthorized("Bad token; invalid signature", self.www_error)
        if not isinstance(claims, dict):
            claims = {}

        kcn = self.conf["key_claim_name"]
        key = claims.get(kcn)
        if key is None or key is False:
            key = header.get(kcn)
        if key is None or key is False:
            raise _unauthorized(f"No mandatory '{kcn}' in claims", self.www_error)
        if key == "":
            raise _unauthorized(f"Invalid '{kcn}' in claims", self.www_error)
        cred = self.credentials.get(key) if isinstance(key, str) else None
        if cred is None:
            raise _unauthorized(f"No credentials found for given '{kcn}'", self.www_error)
        if alg != (cred.algorithm or "HS256"):
            raise _unauthorized("Invalid algorithm", self.www_error)
        if cred.algorithm.startswith("HS"):
            if cred.secret is None:
                raise _unauthorized("Invalid key/secret", self.www_error)
        elif not cred.rsa_public_key:
            raise _unauthorized("Invalid key/secret", self.www_error)
        signing_input = f"{h64}.{c64}".encode()
        if not self.verify_signature(alg, signing_input, signature, cred):
            raise _unauthorized("Invalid signature", self.www_error)

        now = int(self.clock())
        errors: dict[str, str] = {}
        for claim in self.conf.get("claims_to_verify") or []:
            value = claims.get(claim)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errors[claim] = "must be a number"
            elif claim == "exp" and value <= now:
                errors[claim] = "token expired"
            elif claim == "nbf" and value > now:
                errors[claim] = "token not valid yet"
        if errors:
            raise _unauthorized(None, self.www_error, errors)
        max_exp = self.conf["maximum_expiration"]
        if max_exp and max_exp > 0:
            exp = claims.get("exp")
            if exp is None or exp - now > max_exp:
                raise _unauthorized(
                    None, self.www_error, {"exp": "exceeds maximum allowed expiration"}
                )

        self._set_consumer(ctx, cred.consumer, cred)
