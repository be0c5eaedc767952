"""Chassis hardening (issue 16): token lifetime and ended sessions, bounded numbers, text
without control characters, no trailing-slash redirects, forwarding headers only from trusted
proxies."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from vanity_common.app import ServiceParts, build_service_app, uvicorn_config
from vanity_common.auth import (
    CurrentUser,
    EndedSessions,
    EndedSessionsFeed,
    PemDirectoryKeys,
    TokenVerifier,
)
from vanity_common.errors import Unauthenticated
from vanity_common.settings import ServiceSettings
from vanity_common.types import MAX_DB_INT, DbInt, NonNegativeDbIntQuery, SafeText
from vanity_testkit import TokenMinter


class DemoSettings(ServiceSettings):
    service_name = "demo"


class Note(BaseModel):
    title: Annotated[SafeText, Field(max_length=50)]
    count: DbInt


router = APIRouter()


@router.get("/items")
async def list_items(min_price: NonNegativeDbIntQuery = None):
    return {"min_price": min_price}


@router.post("/notes")
async def create_note(note: Note):
    return note.model_dump()


@router.get("/whoami")
async def whoami(user: CurrentUser):
    return {"id": user.user_id}


@router.get("/peer")
async def peer(request: Request):
    return {"client": request.client.host if request.client else None}


@pytest.fixture
async def client(tmp_path, token_minter: TokenMinter):
    settings = DemoSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        data_dir=tmp_path,
        keys_dir=token_minter.keys_dir,
        grpc_enabled=False,
        ended_sessions_refresh_seconds=0,
    )
    app = build_service_app(settings, ServiceParts(routers=[router]))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as c:
            yield c


# ---- finding 7: tokens outliving their session ----------------------------------------------


@pytest.fixture
def verifier(token_minter: TokenMinter) -> TokenVerifier:
    return TokenVerifier(
        PemDirectoryKeys(token_minter.keys_dir),
        max_lifetime_seconds=900,
        ended_sessions=EndedSessions(retention_seconds=965),
    )


async def test_a_token_of_normal_lifetime_is_accepted(token_minter, verifier):
    assert (await verifier.verify(token_minter.token("u-1", ttl=900))).user_id == "u-1"


async def test_a_long_lived_token_is_refused_even_when_validly_signed(token_minter, verifier):
    with pytest.raises(Unauthenticated, match="lifetime"):
        await verifier.verify(token_minter.token("u-1", ttl=365 * 24 * 3600))
    with pytest.raises(Unauthenticated, match="lifetime"):
        await verifier.verify(token_minter.token("u-1", ttl=901))


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": str(int(time.time()) + 300)},
        {"iat": str(int(time.time()))},
        {"nbf": str(int(time.time()))},
        {"exp": True},
    ],
    ids=["string-exp", "string-iat", "string-nbf", "boolean-exp"],
)
async def test_time_claims_must_be_numbers(token_minter, verifier, claims):
    with pytest.raises(Unauthenticated):
        await verifier.verify(token_minter.token("u-1", **claims))


async def test_a_token_issued_in_the_future_is_refused(token_minter, verifier):
    later = int(time.time()) + 3600
    with pytest.raises(Unauthenticated):
        await verifier.verify(
            token_minter.token("u-1", iat=later, nbf=later - 3600, exp=later + 60)
        )


async def test_a_token_of_an_ended_session_is_refused(token_minter, verifier):
    token = token_minter.token("u-1", sid="session-1")
    assert (await verifier.verify(token)).session_id == "session-1"
    verifier.ended_sessions.add("session-1", time.time())
    with pytest.raises(Unauthenticated) as refused:
        await verifier.verify(token)
    assert refused.value.reason == "SESSION_ENDED"
    # other sessions of the same user are unaffected
    assert await verifier.verify(token_minter.token("u-1", sid="session-2"))


def test_ended_sessions_are_forgotten_once_their_tokens_cannot_be_valid():
    now = [1_000_000.0]
    ended = EndedSessions(retention_seconds=965, clock=lambda: now[0])
    assert ended.add("s-1", now[0])
    assert not ended.add("s-1", now[0])  # already known
    assert not ended.add("s-old", now[0] - 966)  # ended too long ago to matter
    now[0] += 964
    ended.prune()
    assert "s-1" in ended
    now[0] += 2
    ended.prune()
    assert "s-1" not in ended and len(ended) == 0


async def test_the_service_app_refuses_long_lived_tokens(client, token_minter):
    ok = await client.get("/whoami", headers=token_minter.headers(token_minter.token("u-1")))
    assert ok.status_code == 200
    year = token_minter.token("u-1", ttl=365 * 24 * 3600)
    refused = await client.get("/whoami", headers=token_minter.headers(year))
    assert refused.status_code == 401


# ---- finding 3: numbers out of range ----------------------------------------------------------


async def test_out_of_range_numbers_are_422_naming_the_field(client):
    r = await client.get("/items", params={"min_price": str(MAX_DB_INT + 1)})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["min_price"]
    r = await client.get("/items", params={"min_price": "1" + "0" * 30})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "min_price"
    assert (await client.get("/items", params={"min_price": str(MAX_DB_INT)})).status_code == 200
    r = await client.post("/notes", json={"title": "ok", "count": 2**70})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["count"]


# ---- finding 8: control characters ------------------------------------------------------------


@pytest.mark.parametrize("bad", ["a\x00b", "line\nbreak", "bell\x07", "esc\x1b[31m", "c1\x85"])
async def test_text_with_control_characters_is_422_naming_the_field(client, bad):
    r = await client.post("/notes", json={"title": bad, "count": 1})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["title"]
    assert "control characters" in r.json()["errors"][0]["message"]


async def test_ordinary_unicode_text_is_accepted(client):
    r = await client.post("/notes", json={"title": "Crème brûlée, 東京 ✓", "count": 1})
    assert r.status_code == 200


# ---- finding 4: no redirect to the service's own address -------------------------------------


async def test_a_trailing_slash_is_not_redirected_to_the_services_address(client):
    r = await client.get("/items/", follow_redirects=False)
    assert r.status_code == 404
    assert "location" not in r.headers
    assert r.headers["content-type"] == "application/problem+json"


# ---- finding 5: forwarding headers only from trusted proxies --------------------------------


async def _peer_seen_through_uvicorn(tmp_path, trusted_proxies: str) -> str:
    """The service's real HTTP server (serve()'s configuration) on a free port; a request
    claiming another address in X-Forwarded-For; what the app sees as the client."""
    settings = DemoSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        data_dir=tmp_path,
        grpc_enabled=False,
        http_port=0,
        ended_sessions_refresh_seconds=0,
        trusted_proxies=trusted_proxies,
    )
    app = build_service_app(settings, ServiceParts(routers=[router]))
    config = uvicorn_config(app, settings)
    config.loop = "asyncio"  # inside pytest's running loop
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient() as http:
            r = await http.get(
                f"http://127.0.0.1:{port}/peer", headers={"X-Forwarded-For": "203.0.113.50"}
            )
        return r.json()["client"]
    finally:
        server.should_exit = True
        await task


async def test_a_direct_client_cannot_choose_its_address_by_default(tmp_path):
    assert await _peer_seen_through_uvicorn(tmp_path, "") == "127.0.0.1"


async def test_the_configured_proxys_forwarded_address_is_believed(tmp_path):
    assert await _peer_seen_through_uvicorn(tmp_path, "127.0.0.1") == "203.0.113.50"


# ---- the ended-sessions feed's catching up ----------------------------------------------------


class IdentityStandIn:
    """Identity's ListEndedSessions semantics over a list (keyset on (ended_at_us, id), pages,
    its clock): the feed's collaborator, so the feed's own logic is what is tested."""

    def __init__(self, page_size: int = 2) -> None:
        self.committed: list[tuple[int, str]] = []
        self.now_us = 1_000_000_000_000_000
        self.page_size = page_size

    async def __call__(self, request):
        from vanity.identity.v1 import identity_pb2 as pb

        after = (request.ended_after_us, request.after_session_id)
        rows = sorted(r for r in self.committed if r > after)
        page = rows[: self.page_size]
        return pb.ListEndedSessionsResponse(
            sessions=[pb.EndedSession(session_id=s, ended_at_us=at) for at, s in page],
            has_more=len(rows) > len(page),
            server_time_us=self.now_us,
        )


async def test_the_feed_reads_every_page_and_a_session_committed_late():
    identity = IdentityStandIn(page_size=2)
    now = identity.now_us / 1_000_000
    ended = EndedSessions(retention_seconds=965, clock=lambda: now)
    feed = EndedSessionsFeed(ended, identity, interval_seconds=1)
    identity.committed = [(identity.now_us - i * 1000, f"s-{i}") for i in range(5)]
    assert await feed.refresh() == 5 and all(f"s-{i}" in ended for i in range(5))

    # A transaction that stamped its session 3 s before identity's last answer commits only
    # now: the next poll still sees it (each poll re-reads a margin before the last answer).
    identity.committed.append((identity.now_us - 3_000_000, "late"))
    identity.now_us += 1_000_000
    assert await feed.refresh() == 1 and "late" in ended
    assert await feed.refresh() == 0  # nothing new: re-read entries are not counted twice
