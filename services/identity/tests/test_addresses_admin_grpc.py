"""Addresses (own only), admin user management (admins only), and the gRPC API."""

from __future__ import annotations

import grpc
import pytest
from vanity.identity.v1 import identity_pb2, identity_pb2_grpc
from vanity_common.auth import Principal
from vanity_common.errors import PermissionDenied, Unauthenticated, grpc_reason

HOME = {
    "label": "Home",
    "full_name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "gb",
    "phone": "+44 20 7946 0000",
}


async def test_address_crud_and_defaults(identity):
    h = identity.bearer(await identity.signed_in("ada@example.com"))
    r = await identity.client.post("/api/v1/me/addresses", json=HOME, headers=h)
    assert r.status_code == 201, r.text
    home = r.json()
    assert home["country"] == "GB" and home["is_default_shipping"] and home["is_default_billing"]
    r = await identity.client.post(
        "/api/v1/me/addresses",
        json={**HOME, "label": "Office", "line1": "1 Work Rd", "is_default_shipping": True},
        headers=h,
    )
    office = r.json()
    items = (await identity.client.get("/api/v1/me/addresses", headers=h)).json()["items"]
    by_id = {a["id"]: a for a in items}
    assert (
        by_id[office["id"]]["is_default_shipping"] and not by_id[home["id"]]["is_default_shipping"]
    )
    assert by_id[home["id"]]["is_default_billing"]

    r = await identity.client.patch(
        f"/api/v1/me/addresses/{home['id']}", json={"city": "Bath", "line2": "Flat 2"}, headers=h
    )
    assert r.status_code == 200 and r.json()["city"] == "Bath" and r.json()["line2"] == "Flat 2"
    r = await identity.client.patch(
        f"/api/v1/me/addresses/{home['id']}", json={"country": "GBR", "city": ""}, headers=h
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"country", "city"}
    r = await identity.client.post("/api/v1/me/addresses", json={"label": "x"}, headers=h)
    assert r.status_code == 422 and "line1" in {e["field"] for e in r.json()["errors"]}

    assert (
        await identity.client.delete(f"/api/v1/me/addresses/{home['id']}", headers=h)
    ).status_code == 204
    assert (
        await identity.client.get(f"/api/v1/me/addresses/{home['id']}", headers=h)
    ).status_code == 404


async def test_customer_cannot_reach_another_users_address(identity):
    alice = identity.bearer(await identity.signed_in("alice@example.com"))
    mallory = identity.bearer(await identity.signed_in("mallory@example.com"))
    address = (await identity.client.post("/api/v1/me/addresses", json=HOME, headers=alice)).json()
    path = f"/api/v1/me/addresses/{address['id']}"
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"city": "X"}}), ("DELETE", {})):
        r = await identity.client.request(method, path, headers=mallory, **kwargs)
        assert r.status_code == 404, method
        assert r.json()["reason"] == "ADDRESS_NOT_FOUND"
    assert (await identity.client.get("/api/v1/me/addresses", headers=mallory)).json()[
        "items"
    ] == []
    r = await identity.client.get(path, headers=alice)
    assert r.status_code == 200 and r.json()["city"] == "London"


async def test_address_limit(identity):
    h = identity.bearer(await identity.signed_in("many@example.com"))
    for _ in range(20):
        assert (
            await identity.client.post("/api/v1/me/addresses", json=HOME, headers=h)
        ).status_code == 201
    r = await identity.client.post("/api/v1/me/addresses", json=HOME, headers=h)
    assert r.status_code == 409 and r.json()["reason"] == "TOO_MANY_ADDRESSES"


async def test_customer_cannot_reach_admin_endpoints(identity, token_minter):
    customer = await identity.signed_in("cust@example.com")
    target = customer["user"]["id"]
    calls = [
        ("GET", "/api/v1/admin/users", None),
        ("GET", f"/api/v1/admin/users/{target}", None),
        (
            "PUT",
            f"/api/v1/admin/users/{target}/roles",
            {"roles": ["admin"], "permissions": ["users"]},
        ),
        ("POST", f"/api/v1/admin/users/{target}/disable", None),
        ("POST", f"/api/v1/admin/users/{target}/enable", None),
    ]
    for method, path, body in calls:
        r = await identity.client.request(
            method, path, json=body, headers=identity.bearer(customer)
        )
        assert r.status_code == 403, (method, path, r.text)
        r = await identity.client.request(method, path, json=body)
        assert r.status_code == 401, (method, path)
    # an admin without the "users" permission is refused too
    catalog_admin = await identity.admin("cat@vanity.shop", perms=["catalog"])
    r = await identity.client.get("/api/v1/admin/users", headers=identity.bearer(catalog_admin))
    assert r.status_code == 403
    # a validly signed admin token for an account that is not an admin in the database
    forged = token_minter.admin(user_id=target, sid=customer["session_id"])
    r = await identity.client.get("/api/v1/admin/users", headers=identity.bearer(forged))
    assert r.status_code == 403
    assert (await identity.service.get_user(target)).roles == {"customer"}


def _principal(tokens: dict, **claims) -> Principal:
    """The principal a verified token of this sign-in would carry (claims may overstate)."""
    user = tokens["user"]
    return Principal(
        user_id=user["id"],
        roles=frozenset(claims.get("roles", user["roles"])),
        perms=frozenset(claims.get("perms", user.get("permissions", []))),
        session_id=tokens["session_id"],
    )


async def test_admin_use_cases_refuse_a_non_admin_actor_whatever_the_entry_point(identity):
    """The checks live in the use cases: called directly (a script, a task, another entry
    point), they refuse a customer, an admin without `users`, and an actor whose token claims
    admin while its account is not one, and change nothing."""
    customer = await identity.signed_in("cust@example.com")
    target = customer["user"]["id"]
    catalog_admin = await identity.admin("cat@vanity.shop", perms=["catalog"])
    service = identity.service
    actors = [
        _principal(customer),
        _principal(catalog_admin),
        _principal(customer, roles=["admin"], perms=["users"]),  # claims more than it is
    ]
    for actor in actors:
        calls = [
            service.list_users(actor),
            service.user_details(actor, target),
            service.set_roles(actor, target, ["admin"], ["users"]),
            service.set_disabled(actor, target, True),
        ]
        for call in calls:
            with pytest.raises(PermissionDenied):
                await call
    user = await service.get_user(target)
    assert user.roles == {"customer"} and not user.disabled


async def test_admin_use_cases_refuse_an_admin_whose_session_ended(identity):
    root = await identity.admin()
    actor = _principal(root)
    assert [u.email for u in await identity.service.list_users(actor)] == ["root@vanity.shop"]
    r = await identity.client.post("/api/v1/auth/logout", headers=identity.bearer(root))
    assert r.status_code == 204, r.text
    with pytest.raises(Unauthenticated):
        await identity.service.list_users(actor)


async def test_admin_lists_searches_and_changes_roles(identity):
    admin = await identity.admin()
    h = identity.bearer(admin)
    for name in ("bella", "carla", "dora"):
        await identity.register(f"{name}@example.com", name=name.title())
    r = await identity.client.get("/api/v1/admin/users", params={"limit": 2}, headers=h)
    page = r.json()
    assert [u["email"] for u in page["items"]] == ["bella@example.com", "carla@example.com"]
    r = await identity.client.get(
        "/api/v1/admin/users", params={"limit": 2, "cursor": page["next_cursor"]}, headers=h
    )
    assert [u["email"] for u in r.json()["items"]] == ["dora@example.com", "root@vanity.shop"]
    assert r.json()["next_cursor"] is None
    r = await identity.client.get("/api/v1/admin/users", params={"q": "CAR"}, headers=h)
    assert [u["email"] for u in r.json()["items"]] == ["carla@example.com"]
    r = await identity.client.get("/api/v1/admin/users", params={"role": "admin"}, headers=h)
    assert [u["email"] for u in r.json()["items"]] == ["root@vanity.shop"]

    dora = await identity.login("dora@example.com")
    dora_id = dora["user"]["id"]
    r = await identity.client.put(
        f"/api/v1/admin/users/{dora_id}/roles",
        json={"roles": ["customer", "admin"], "permissions": ["catalog"]},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["roles"] == ["admin", "customer"]
    # the next refresh carries the new roles, under the admin token class
    r = await identity.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": dora["refresh_token"]}
    )
    import jwt

    assert jwt.get_unverified_header(r.json()["access_token"])["kid"].startswith("admin.")
    bad = [
        {"roles": ["superuser"]},
        {"roles": ["customer"], "permissions": ["catalog"]},
        {"roles": ["admin"], "permissions": ["everything"]},
    ]
    for body in bad:
        r = await identity.client.put(f"/api/v1/admin/users/{dora_id}/roles", json=body, headers=h)
        assert r.status_code == 422, body
    me = admin["user"]["id"]
    r = await identity.client.put(
        f"/api/v1/admin/users/{me}/roles", json={"roles": ["customer"]}, headers=h
    )
    assert r.status_code == 409
    r = await identity.client.post(f"/api/v1/admin/users/{me}/disable", headers=h)
    assert r.status_code == 409 and r.json()["reason"] == "CANNOT_DISABLE_SELF"
    r = await identity.client.post("/api/v1/admin/users/nope/disable", headers=h)
    assert r.status_code == 404


async def test_grpc_get_user_and_address(identity):
    alice = await identity.signed_in("alice@example.com")
    bob = await identity.signed_in("bob@example.com")
    address = (
        await identity.client.post(
            "/api/v1/me/addresses", json=HOME, headers=identity.bearer(alice)
        )
    ).json()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{identity.app.state.grpc_port}") as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        user = await stub.GetUser(identity_pb2.GetUserRequest(user_id=alice["user"]["id"]))
        assert user.email == "alice@example.com" and list(user.roles) == ["customer"]
        assert not user.disabled
        got = await stub.GetAddress(
            identity_pb2.GetAddressRequest(user_id=alice["user"]["id"], address_id=address["id"])
        )
        assert (
            got.country == "GB"
            and got.line1 == HOME["line1"]
            and got.user_id == alice["user"]["id"]
        )
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await stub.GetAddress(
                identity_pb2.GetAddressRequest(user_id=bob["user"]["id"], address_id=address["id"])
            )
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
        assert grpc_reason(exc.value) == "ADDRESS_NOT_FOUND"
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await stub.GetUser(identity_pb2.GetUserRequest(user_id="missing"))
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
        assert grpc_reason(exc.value) == "USER_NOT_FOUND"
