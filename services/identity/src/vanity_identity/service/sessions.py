"""Sessions and tokens: sign-in, refresh-token rotation, sign-out, the ended-sessions feed
other services deny-list, and the purge of expired rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection
from vanity_common.auth import Principal
from vanity_common.errors import PermissionDenied, Unauthenticated
from vanity_common.uow import UnitOfWork

from vanity_identity import repository as repo
from vanity_identity.domain import (
    MAX_PASSWORD_LENGTH,
    EndedSession,
    RefreshOutcome,
    User,
    expiry,
    judge_refresh,
    lookup_email,
)
from vanity_identity.service.base import IdentityParts, too_many
from vanity_identity.throttle import Throttle
from vanity_identity.tokens import hash_token, new_id, new_opaque_token

log = logging.getLogger(__name__)

INVALID_CREDENTIALS = "Invalid e-mail or password."

# Expired/revoked rows are kept this long, so a late replay is still recognised as reuse.
PURGE_GRACE = timedelta(days=7)
# Ended sessions are listed for as long as one of their access tokens can live, plus this.
ENDED_SESSION_MARGIN_SECONDS = 60
DEFAULT_ENDED_PAGE = 500
MAX_ENDED_PAGE = 1000


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expires_at: int
    refresh_token: str
    refresh_expires_at: datetime
    session_id: str
    user: User


@dataclass(frozen=True)
class EndedSessionsPage:
    sessions: list[EndedSession]
    has_more: bool
    server_time: datetime


class Sessions(IdentityParts):
    async def login(
        self, email: str, password: str, *, ip: str, user_agent: str | None = None
    ) -> TokenPair:
        address = lookup_email(email)
        account = ("login_account", Throttle.subject(address))
        client = ("login_ip", ip)
        verdict = await self.throttle.check(account, client)
        if not verdict.allowed:
            # The same answer whether or not the account exists.
            raise too_many(verdict.retry_after, "failed sign-in attempts")
        async with self.db.connect() as conn:
            found = await repo.user_with_hash_by_email(conn, address)
        user, stored = found if found else (None, None)
        if not await self.passwords.verify(stored, password[:MAX_PASSWORD_LENGTH]) or user is None:
            await self.throttle.fail(account, client)
            raise Unauthenticated(INVALID_CREDENTIALS, reason="INVALID_CREDENTIALS")
        if user.disabled:
            # Only someone who knows the password learns that the account is disabled.
            raise PermissionDenied("This account is disabled.", reason="ACCOUNT_DISABLED")
        await self.throttle.clear("login_account", account[1])
        if stored and self.passwords.needs_rehash(stored):
            new_hash = await self.passwords.hash(password)
            now = self.now()
            await self.db.write(
                lambda uow: repo.update_user(uow.conn, user.id, now, password_hash=new_hash)
            )
        return await self._start_session(user, ip=ip, user_agent=user_agent)

    async def _start_session(self, user: User, *, ip: str | None, user_agent: str | None):
        now = self.now()
        session_id = new_id()
        refresh_expires = expiry(now, self.settings.refresh_token_ttl_seconds)

        async def start(uow: UnitOfWork) -> str:
            await repo.insert_session(
                uow.conn,
                session_id=session_id,
                user_id=user.id,
                now=now,
                expires_at=refresh_expires,
                ip=ip,
                user_agent=user_agent,
            )
            return await self._issue_refresh_token(uow.conn, session_id, now, refresh_expires)

        refresh = await self.db.write(start)
        access = self._access_token(user, session_id, now)
        return TokenPair(
            access.token, access.expires_at, refresh, refresh_expires, session_id, user
        )

    @staticmethod
    async def _issue_refresh_token(
        conn: AsyncConnection, session_id: str, now: datetime, expires_at: datetime
    ) -> str:
        """A new refresh token of the session's family; only its hash is stored."""
        token = new_opaque_token()
        await repo.insert_refresh_token(
            conn,
            token_hash=hash_token(token),
            session_id=session_id,
            now=now,
            expires_at=expires_at,
        )
        return token

    def _access_token(self, user: User, session_id: str, now: datetime):
        return self.issuer.issue(
            user_id=user.id,
            email=user.email,
            roles=user.roles,
            perms=user.permissions,
            session_id=session_id,
            now=now,
        )

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotates a refresh token. A rotated token presented again revokes its whole family; a
        disabled account's family is revoked and gets nothing."""
        token_hash = hash_token(refresh_token)
        now = self.now()

        async def rotate(uow: UnitOfWork) -> tuple[str, TokenPair | None]:
            conn = uow.conn
            found = await repo.refresh_token_state(conn, token_hash)
            state, session_id, user_id = found if found else (None, "", "")
            outcome = judge_refresh(state, now)
            if outcome is RefreshOutcome.REUSED:
                await repo.revoke_sessions(conn, now=now, reason="reuse", session_id=session_id)
                return "reused", None
            if outcome is not RefreshOutcome.OK:
                return "invalid", None
            user = await repo.user_by_id(conn, user_id)
            if user is None or user.disabled:
                await repo.revoke_sessions(conn, now=now, reason="disabled", session_id=session_id)
                return "disabled", None
            if not await repo.mark_refresh_used(conn, token_hash, now):
                await repo.revoke_sessions(conn, now=now, reason="reuse", session_id=session_id)
                return "reused", None
            new_expires = expiry(now, self.settings.refresh_token_ttl_seconds)
            new_refresh = await self._issue_refresh_token(conn, session_id, now, new_expires)
            await repo.touch_session(conn, session_id, now, new_expires)
            access = self._access_token(user, session_id, now)
            return "ok", TokenPair(
                access.token, access.expires_at, new_refresh, new_expires, session_id, user
            )

        verdict, pair = await self.db.write(rotate)
        if verdict == "reused":
            log.warning("refresh token reuse detected; session family revoked")
            raise Unauthenticated(
                "This refresh token was already used; the session has been revoked.",
                reason="REFRESH_TOKEN_REUSED",
            )
        if verdict == "disabled":
            raise Unauthenticated("This account is disabled.", reason="ACCOUNT_DISABLED")
        if pair is None:
            raise Unauthenticated(
                "The refresh token is invalid or has expired.", reason="INVALID_REFRESH_TOKEN"
            )
        return pair

    async def logout(
        self, *, refresh_token: str | None = None, principal: Principal | None = None
    ) -> None:
        """Ends a session (idempotent; unknown tokens are ignored)."""
        now = self.now()

        async def end(uow: UnitOfWork) -> None:
            if refresh_token:
                owner = await repo.session_owner(uow.conn, hash_token(refresh_token))
                if owner is not None:
                    await repo.revoke_sessions(
                        uow.conn, now=now, reason="logout", session_id=owner[0]
                    )
            if principal is not None and principal.session_id:
                await repo.revoke_sessions(
                    uow.conn,
                    now=now,
                    reason="logout",
                    session_id=principal.session_id,
                    user_id=principal.user_id,
                )

        await self.db.write(end)

    async def ended_sessions(
        self, *, after: datetime, after_id: str, page_size: int
    ) -> EndedSessionsPage:
        """Sessions ended after a keyset position, for other services' deny lists. Sessions
        ended longer ago than an access token lives (plus a margin) are left out: their tokens
        have expired anyway."""
        now = self.now()
        not_before = now - timedelta(
            seconds=self.settings.access_token_max_lifetime_seconds + ENDED_SESSION_MARGIN_SECONDS
        )
        page_size = min(max(page_size or DEFAULT_ENDED_PAGE, 1), MAX_ENDED_PAGE)
        async with self.db.connect() as conn:
            rows = await repo.ended_sessions(
                conn, after=after, after_id=after_id, not_before=not_before, limit=page_size + 1
            )
        return EndedSessionsPage(rows[:page_size], len(rows) > page_size, now)

    async def purge_expired(self) -> dict[str, int]:
        now = self.now()
        return await self.db.write(lambda uow: repo.purge_expired(uow.conn, now, now - PURGE_GRACE))
