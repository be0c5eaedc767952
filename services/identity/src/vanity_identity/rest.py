"""Identity's public REST API (thin: parse, call a use case, serialise)."""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response
from vanity_common.app import json_response, service_container
from vanity_common.auth import CurrentUser, Principal, optional_principal, require_admin
from vanity_common.errors import FieldError as ProblemField
from vanity_common.errors import InvalidArgument, PermissionDenied, ServiceError
from vanity_common.mapping import json_fields
from vanity_common.types import SafeText

from vanity_identity.domain import Address, User
from vanity_identity.service import USERS_PERMISSION, IdentityService, TokenPair
from vanity_identity.throttle import client_ip

auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
me_router = APIRouter(prefix="/api/v1/me", tags=["me"])
admin_router = APIRouter(prefix="/api/v1/admin/users", tags=["admin: users"])
keys_router = APIRouter(tags=["keys"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterBody(Body):
    email: str = Field(max_length=320)
    name: SafeText = Field(max_length=400)
    password: str = Field(max_length=1024)


class LoginBody(Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class RefreshBody(Body):
    # Absent: the browser's httpOnly cookie carries it (see "Refresh token cookie" below).
    refresh_token: str | None = Field(default=None, min_length=1, max_length=200)


class LogoutBody(Body):
    refresh_token: str | None = Field(default=None, max_length=200)


class ResetRequestBody(Body):
    email: str = Field(max_length=320)


class ResetConfirmBody(Body):
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(max_length=1024)


class ProfilePatch(Body):
    name: SafeText | None = Field(default=None, max_length=400)


class PasswordChangeBody(Body):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class AddressBody(Body):
    label: SafeText | None = Field(default=None, max_length=400)
    full_name: SafeText | None = Field(default=None, max_length=400)
    line1: SafeText | None = Field(default=None, max_length=400)
    line2: SafeText | None = Field(default=None, max_length=400)
    city: SafeText | None = Field(default=None, max_length=400)
    region: SafeText | None = Field(default=None, max_length=400)
    postal_code: SafeText | None = Field(default=None, max_length=100)
    country: SafeText | None = Field(default=None, max_length=100)
    phone: SafeText | None = Field(default=None, max_length=100)
    is_default_shipping: bool | None = None
    is_default_billing: bool | None = None


class RolesBody(Body):
    roles: list[str] = Field(min_length=1, max_length=5)
    permissions: list[str] = Field(default_factory=list, max_length=10)


def user_json(user: User) -> dict:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "roles": sorted(user.roles),
        "permissions": sorted(user.permissions),
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(),
        "updated_at": user.updated_at.isoformat(),
    }


def address_json(address: Address) -> dict:
    return json_fields(address, exclude=("user_id",))


def tokens_json(pair: TokenPair, service: IdentityService) -> dict:
    now = service.now()
    return {
        "token_type": "Bearer",
        "access_token": pair.access_token,
        "expires_in": max(0, pair.access_expires_at - int(now.timestamp())),
        "refresh_token": pair.refresh_token,
        "refresh_expires_in": max(0, int((pair.refresh_expires_at - now).total_seconds())),
        "session_id": pair.session_id,
        "user": user_json(pair.user),
    }


# ---- Refresh token cookie (browsers)
#
# A browser asks for it with `X-Refresh-Cookie: 1` on login/refresh: the refresh token then
# travels only in an httpOnly, SameSite=Strict cookie scoped to /api/v1/auth (script on the page
# cannot read it) and is left out of the JSON body. Mobile clients keep the body flow.
# A cookie is sent by the browser on its own, so /refresh and /logout accept it only with the
# custom header (a cross-site form or <img> cannot set one, and a cross-site fetch that does is
# preflighted and refused by CORS) and, when the browser names its Origin, only from this site.

REFRESH_COOKIE = "vanity_refresh"
REFRESH_COOKIE_PATH = "/api/v1/auth"
COOKIE_MODE_HEADER = "x-refresh-cookie"
CSRF_HEADERS = (COOKIE_MODE_HEADER, "x-requested-with")
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def wants_cookie(request: Request) -> bool:
    return request.headers.get(COOKIE_MODE_HEADER, "").strip() == "1"


def _from_trusted_proxy(request: Request) -> bool:
    try:
        peer = ipaddress.ip_address(request.client.host) if request.client else None
    except ValueError:
        return False
    return peer is not None and any(
        peer in net for net in service_container(request).trusted_proxies
    )


def _addressed(request: Request) -> tuple[str, str]:
    """(scheme, host name) the client addressed: the gateway's X-Forwarded-* when it is trusted."""
    scheme, host = request.url.scheme, request.headers.get("host", "")
    if _from_trusted_proxy(request):
        # a chain of proxies lists the client's own value first
        scheme = request.headers.get("x-forwarded-proto", scheme).split(",")[0].strip()
        host = request.headers.get("x-forwarded-host", host).split(",")[0].strip()
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:  # a malformed Host: matches no Origin
        name = ""
    return scheme.lower(), name.lower()


def check_cookie_request(request: Request) -> None:
    """CSRF defence for a request the cookie authenticates: custom header, same-site Origin."""
    if not any(request.headers.get(h) for h in CSRF_HEADERS):
        raise PermissionDenied(
            "A cookie-authenticated request needs the X-Refresh-Cookie header.", reason="CSRF"
        )
    origin = request.headers.get("origin")
    if origin is None:
        return  # non-browser clients send none; a cross-site form cannot add the header above
    try:
        origin_host = urlsplit(origin).hostname
    except ValueError:
        origin_host = None
    if not origin_host or origin_host.lower() != _addressed(request)[1]:
        raise PermissionDenied("Cross-origin request refused.", reason="CSRF")


def set_refresh_cookie(request: Request, response: Response, token: str) -> None:
    scheme, host = _addressed(request)
    settings = service_container(request).settings
    # Browsers refuse Secure cookies over plain http: spare only local development.
    local_http = not settings.is_production and scheme == "http" and host in LOOPBACK_HOSTS
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=settings.refresh_token_ttl_seconds,
        path=REFRESH_COOKIE_PATH,
        secure=not local_http,
        httponly=True,
        samesite="strict",
    )


def clear_refresh_cookie(request: Request, response: Response) -> None:
    scheme, host = _addressed(request)
    local_http = scheme == "http" and host in LOOPBACK_HOSTS
    response.delete_cookie(
        REFRESH_COOKIE,
        path=REFRESH_COOKIE_PATH,
        secure=not local_http,
        httponly=True,
        samesite="strict",
    )


def token_response(request: Request, pair: TokenPair, service: IdentityService) -> Response:
    body = tokens_json(pair, service)
    if not wants_cookie(request):
        return json_response(body, headers=NO_STORE)
    del body["refresh_token"]
    response = json_response(body, headers=NO_STORE)
    set_refresh_cookie(request, response, pair.refresh_token)
    return response


def cookie_refresh_token(request: Request) -> str | None:
    """The cookie's refresh token, CSRF-checked; None when the browser sent none."""
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        return None
    check_cookie_request(request)
    return token[:200]  # bounded like the body's field: a longer one is no token of ours anyway


def _service(request: Request) -> IdentityService:
    return service_container(request).identity


def _ip(request: Request) -> str:
    return client_ip(request, service_container(request).trusted_proxies)


async def current_account(request: Request, principal: CurrentUser) -> User:
    return await _service(request).authorise(principal)


Account = Annotated[User, Depends(current_account)]


# The token must say admin; the use cases check the account says so too (service/admin.py).
Admin = Annotated[Principal, Depends(require_admin(USERS_PERMISSION))]


# ---- /api/v1/auth


@auth_router.post("/register", status_code=201)
async def register(request: Request, body: RegisterBody):
    user = await _service(request).register(body.email, body.name, body.password, ip=_ip(request))
    return json_response(
        {"user": user_json(user)}, status_code=201, headers={"Location": "/api/v1/me"}
    )


@auth_router.post("/login")
async def login(request: Request, body: LoginBody):
    if wants_cookie(request):
        check_cookie_request(request)
    service = _service(request)
    pair = await service.login(
        body.email,
        body.password,
        ip=_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return token_response(request, pair, service)


@auth_router.post("/refresh")
async def refresh(request: Request, body: RefreshBody | None = None):
    """The refresh token from the body (mobile) or, when the body has none, the cookie."""
    token = body.refresh_token if body else None
    if token is None:
        token = cookie_refresh_token(request)
    if token is None:
        raise InvalidArgument(
            "refresh_token is required.",
            errors=[ProblemField("body.refresh_token", "Field required")],
        )
    service = _service(request)
    pair = await service.refresh(token)
    return token_response(request, pair, service)


@auth_router.post("/logout", status_code=204)
async def logout(request: Request, body: LogoutBody | None = None):
    token = body.refresh_token if body else None
    if token is None:
        token = cookie_refresh_token(request)
    try:
        principal = await optional_principal(request)
    except ServiceError:  # an expired access token must not stop a logout
        principal = None
    await _service(request).logout(refresh_token=token, principal=principal)
    response = Response(status_code=204)
    if REFRESH_COOKIE in request.cookies:
        clear_refresh_cookie(request, response)
    return response


@auth_router.post("/password-reset", status_code=202)
async def password_reset(request: Request, body: ResetRequestBody):
    await _service(request).request_password_reset(body.email, ip=_ip(request))
    # One answer for known, unknown and throttled addresses: nothing to enumerate.
    return json_response(
        {"status": "accepted", "detail": "If an account exists, a reset link is on its way."},
        status_code=202,
    )


@auth_router.post("/password-reset/confirm", status_code=204)
async def password_reset_confirm(request: Request, body: ResetConfirmBody):
    await _service(request).confirm_password_reset(body.token, body.new_password)
    return Response(status_code=204)


# ---- /api/v1/me


@me_router.get("")
async def get_me(user: Account):
    return json_response(user_json(user), headers=NO_STORE)


@me_router.patch("")
async def patch_me(request: Request, user: Account, body: ProfilePatch):
    updated = await _service(request).update_profile(user.id, name=body.name)
    return json_response(user_json(updated), headers=NO_STORE)


@me_router.post("/password", status_code=204)
async def change_password(
    request: Request, user: Account, principal: CurrentUser, body: PasswordChangeBody
):
    await _service(request).change_password(
        user.id, principal.session_id, body.current_password, body.new_password
    )
    return Response(status_code=204)


@me_router.get("/addresses")
async def list_addresses(request: Request, user: Account):
    items = await _service(request).list_addresses(user.id)
    return json_response({"items": [address_json(a) for a in items]}, headers=NO_STORE)


@me_router.post("/addresses", status_code=201)
async def create_address(request: Request, user: Account, body: AddressBody):
    address = await _service(request).create_address(user.id, body.model_dump(exclude_unset=True))
    return json_response(
        address_json(address),
        status_code=201,
        headers={"Location": f"/api/v1/me/addresses/{address.id}"},
    )


@me_router.get("/addresses/{address_id}")
async def get_address(request: Request, user: Account, address_id: str):
    address = await _service(request).get_address(user.id, address_id)
    return json_response(address_json(address), headers=NO_STORE)


@me_router.patch("/addresses/{address_id}")
async def patch_address(request: Request, user: Account, address_id: str, body: AddressBody):
    address = await _service(request).update_address(
        user.id, address_id, body.model_dump(exclude_unset=True)
    )
    return json_response(address_json(address))


@me_router.delete("/addresses/{address_id}", status_code=204)
async def delete_address(request: Request, user: Account, address_id: str):
    await _service(request).delete_address(user.id, address_id)
    return Response(status_code=204)


# ---- /api/v1/admin/users


@admin_router.get("")
async def admin_list_users(
    request: Request,
    admin: Admin,
    q: Annotated[str | None, Query(max_length=200)] = None,
    role: Annotated[str | None, Query(pattern="^(customer|admin)$")] = None,
    disabled: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=320)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    users = await _service(request).list_users(
        admin, query=q, role=role, disabled=disabled, after=cursor, limit=limit + 1
    )
    page, more = users[:limit], len(users) > limit
    return json_response(
        {
            "items": [user_json(u) for u in page],
            "next_cursor": page[-1].email if more and page else None,
        },
        headers=NO_STORE,
    )


@admin_router.get("/{user_id}")
async def admin_get_user(request: Request, admin: Admin, user_id: str):
    user, addresses = await _service(request).user_details(admin, user_id)
    return json_response(
        {**user_json(user), "addresses": [address_json(a) for a in addresses]}, headers=NO_STORE
    )


@admin_router.put("/{user_id}/roles")
async def admin_set_roles(request: Request, admin: Admin, user_id: str, body: RolesBody):
    user = await _service(request).set_roles(admin, user_id, body.roles, body.permissions)
    return json_response(user_json(user))


@admin_router.post("/{user_id}/disable")
async def admin_disable(request: Request, admin: Admin, user_id: str):
    return json_response(user_json(await _service(request).set_disabled(admin, user_id, True)))


@admin_router.post("/{user_id}/enable")
async def admin_enable(request: Request, admin: Admin, user_id: str):
    return json_response(user_json(await _service(request).set_disabled(admin, user_id, False)))


# ---- internal: verification keys for services and the gateway renderer


@keys_router.get("/.well-known/jwks.json")
async def jwks(request: Request):
    return json_response(
        service_container(request).keys.jwks(), headers={"Cache-Control": "public, max-age=60"}
    )


routers = [auth_router, me_router, admin_router, keys_router]
