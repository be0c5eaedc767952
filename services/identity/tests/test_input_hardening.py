"""Identity input (issue 16, finding 8): look-alike e-mail addresses fold into one account and
control characters in names and addresses are refused with a 422 naming the field; and the
ended-sessions list other services' verifiers poll (finding 7)."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy import text
from vanity.identity.v1 import identity_pb2, identity_pb2_grpc
from vanity_common.auth import Principal
from vanity_identity.domain import EmailInvalid, is_mixed_script, normalise_email

from .conftest import PASSWORD

HOME = {
    "full_name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


async def _register(identity, email: str, name: str = "Ada Lovelace"):
    return await identity.client.post(
        "/api/v1/auth/register", json={"email": email, "name": name, "password": PASSWORD}
    )


@pytest.mark.parametrize(
    "look_alike",
    [
        "\uff22\uff21\uff32\uff33@example.com",  # fullwidth B A R S
        "BARS@EXAMPLE.COM",
        "bars@\uff45xample.com",  # fullwidth e in the domain
        "\ufb00@example.com",  # the "ff" ligature ...
    ],
)
async def test_look_alike_addresses_are_the_same_account(identity, look_alike):
    original = "ff@example.com" if "\ufb00" in look_alike else "bars@example.com"
    assert (await _register(identity, original)).status_code == 201
    second = await _register(identity, look_alike)
    assert second.status_code == 409, second.text
    assert second.json()["reason"] == "EMAIL_TAKEN"
    # and the look-alike signs in to the one account
    tokens = await identity.login(look_alike)
    assert tokens["user"]["email"] == original


async def test_a_local_part_mixing_latin_and_cyrillic_is_refused(identity):
    response = await _register(identity, "p\u0430ypal@example.com")  # Cyrillic a
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["email"]


def test_single_script_and_cjk_addresses_are_accepted():
    assert normalise_email("M\u00fcller@Example.de") == "m\u00fcller@example.de"
    assert normalise_email("\u0438\u0432\u0430\u043d@example.com")  # Cyrillic only
    assert normalise_email("\u7530\u4e2d\u305f\u306a\u304b@example.jp")  # kanji + kana
    assert not is_mixed_script("john.smith+shop2")
    with pytest.raises(EmailInvalid):
        normalise_email("\u0440ay\u0440al@example.com")  # Cyrillic r among Latin letters


@pytest.mark.parametrize("bad", ["Ada\x00", "Ada\x1b[2J", "Ada\u2028Lovelace", "Ada\x7f"])
async def test_a_name_with_control_characters_is_422(identity, bad):
    response = await _register(identity, "ada@example.com", name=bad)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["name"]
    tokens = await identity.signed_in("grace@example.com")
    patched = await identity.client.patch(
        "/api/v1/me", json={"name": bad}, headers=identity.bearer(tokens)
    )
    assert patched.status_code == 422
    assert [e["field"] for e in patched.json()["errors"]] == ["name"]


@pytest.mark.parametrize("field", ["full_name", "line1", "line2", "city", "postal_code", "phone"])
async def test_an_address_with_control_characters_is_422_and_stores_nothing(identity, field):
    h = identity.bearer(await identity.signed_in("ada@example.com"))
    response = await identity.client.post(
        "/api/v1/me/addresses", json={**HOME, field: "12\x00 Main"}, headers=h
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    listed = await identity.client.get("/api/v1/me/addresses", headers=h)
    assert listed.json()["items"] == []


# ---- the ended-sessions list (ListEndedSessions) ---------------------------------------------


async def _ended(identity, **request) -> identity_pb2.ListEndedSessionsResponse:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{identity.app.state.grpc_port}") as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        return await stub.ListEndedSessions(identity_pb2.ListEndedSessionsRequest(**request))


async def test_logout_and_disabling_end_sessions_in_the_list(identity):
    kept = await identity.signed_in("kept@example.com")
    ada = await identity.signed_in("ada@example.com")
    second_ada = await identity.login("ada@example.com")
    grace = await identity.signed_in("grace@example.com")
    admin = await identity.admin()
    assert (await _ended(identity)).sessions == []

    await identity.client.post("/api/v1/auth/logout", headers=identity.bearer(grace))
    r = await identity.client.post(
        f"/api/v1/admin/users/{ada['user']['id']}/disable", headers=identity.bearer(admin)
    )
    assert r.status_code == 200

    reply = await _ended(identity)
    by_session = {s.session_id: s.reason for s in reply.sessions}
    assert by_session == {
        grace["session_id"]: "logout",
        ada["session_id"]: "disabled",
        second_ada["session_id"]: "disabled",
    }
    assert kept["session_id"] not in by_session
    times = [s.ended_at_us for s in reply.sessions]
    assert times == sorted(times) and not reply.has_more
    assert reply.server_time_us >= times[-1]


async def test_the_list_pages_by_keyset_and_leaves_out_long_ended_sessions(identity):
    signed_in = [await identity.signed_in(f"u{i}@example.com") for i in range(5)]
    sessions = [tokens["session_id"] for tokens in signed_in]
    for tokens in signed_in:
        await identity.service.logout(principal=_principal(tokens))
    seen, after_us, after_id = [], 0, ""
    while True:
        page = await _ended(
            identity, ended_after_us=after_us, after_session_id=after_id, page_size=2
        )
        assert len(page.sessions) <= 2
        seen += [s.session_id for s in page.sessions]
        if not page.has_more:
            break
        after_us, after_id = page.sessions[-1].ended_at_us, page.sessions[-1].session_id
    assert sorted(seen) == sorted(sessions) and len(seen) == 5

    # A session that ended longer ago than any access token lives is of no use to a verifier.
    async with identity.service.db.connect(write=True) as conn:
        await conn.execute(
            text("UPDATE sessions SET revoked_at = :old WHERE id = :id"),
            {"old": "2020-01-01 00:00:00", "id": sessions[0]},
        )
    assert sessions[0] not in {s.session_id for s in (await _ended(identity)).sessions}


async def test_the_list_refuses_out_of_range_requests(identity):
    for request in ({"ended_after_us": -1}, {"ended_after_us": 2**63 - 1}, {"page_size": 1001}):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _ended(identity, **request)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def _principal(tokens: dict) -> Principal:
    return Principal(
        user_id=tokens["user"]["id"], roles=frozenset({"customer"}), session_id=tokens["session_id"]
    )
