"""Accounts: sign-up, profile, password change, and the account check behind every request."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from vanity_common.auth import Principal
from vanity_common.errors import Conflict, FieldError, InvalidArgument, NotFound, Unauthenticated
from vanity_common.uow import UnitOfWork

from vanity_identity import repository as repo
from vanity_identity.domain import (
    CUSTOMER,
    MAX_PASSWORD_LENGTH,
    EmailInvalid,
    User,
    normalise_email,
)
from vanity_identity.service.base import IdentityParts, too_many
from vanity_identity.throttle import Throttle
from vanity_identity.tokens import new_id


class Accounts(IdentityParts):
    async def register(
        self,
        email: str,
        name: str,
        password: str,
        *,
        ip: str | None = None,
        roles: frozenset[str] = frozenset({CUSTOMER}),
        permissions: frozenset[str] = frozenset(),
    ) -> User:
        if ip is not None:
            verdict = await self.throttle.hit(("register_ip", ip))
            if not verdict.allowed:
                raise too_many(verdict.retry_after, "sign-ups from this address")
        try:
            normalised = normalise_email(email)
        except EmailInvalid as exc:
            raise InvalidArgument(
                "A valid e-mail address is required.", errors=[FieldError("email", str(exc))]
            ) from exc
        clean_name = self._clean_name(name)
        self._check_password(password, normalised, clean_name, "password")
        password_hash = await self.passwords.hash(password)
        user_id = new_id()
        now = self.now()
        taken = Conflict(
            "An account with this e-mail address already exists.",
            reason="EMAIL_TAKEN",
            errors=[FieldError("email", "already registered")],
        )

        async def insert(uow: UnitOfWork) -> None:
            if await repo.user_id_by_email(uow.conn, normalised):
                raise taken
            await repo.insert_user(
                uow.conn,
                user_id=user_id,
                email=normalised,
                name=clean_name,
                password_hash=password_hash,
                roles=roles,
                permissions=permissions,
                now=now,
            )

        try:
            await self.db.write(insert)
        except IntegrityError as exc:  # a concurrent sign-up with the same address won
            raise taken from exc
        return await self.get_user(user_id)

    async def get_user(self, user_id: str) -> User:
        async with self.db.connect() as conn:
            user = await repo.user_by_id(conn, user_id)
        if user is None:
            raise NotFound("No such user.", reason="USER_NOT_FOUND")
        return user

    async def authorise(self, principal: Principal) -> User:
        """Identity's own check beyond the token: the account still exists and is enabled and
        the session was not revoked, so logout, password changes and disabling act at once here
        (other services accept a token until it expires, at most 15 minutes)."""
        now = self.now()
        async with self.db.connect() as conn:
            user = await repo.user_by_id(conn, principal.user_id)
            active = bool(principal.session_id) and await repo.session_is_active(
                conn, principal.session_id, now
            )
        if user is None or user.disabled or not active:
            raise Unauthenticated(
                "This session has ended; sign in again.",
                reason="SESSION_ENDED",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return user

    async def update_profile(self, user_id: str, *, name: str | None) -> User:
        if name is not None:
            clean = self._clean_name(name)
            now = self.now()

            async def rename(uow: UnitOfWork) -> None:
                if not await repo.update_user(uow.conn, user_id, now, name=clean):
                    raise NotFound("No such user.", reason="USER_NOT_FOUND")

            await self.db.write(rename)
        return await self.get_user(user_id)

    async def change_password(
        self, user_id: str, session_id: str, current_password: str, new_password: str
    ) -> None:
        user = await self.get_user(user_id)
        account = ("login_account", Throttle.subject(user.email))
        verdict = await self.throttle.check(account)
        if not verdict.allowed:
            raise too_many(verdict.retry_after)
        async with self.db.connect() as conn:
            stored = await repo.password_hash(conn, user_id)
        if not await self.passwords.verify(stored, current_password[:MAX_PASSWORD_LENGTH]):
            await self.throttle.fail(account)
            raise InvalidArgument(
                "The current password is not correct.",
                reason="WRONG_PASSWORD",
                errors=[FieldError("current_password", "incorrect")],
            )
        if new_password == current_password:
            raise InvalidArgument(
                "The new password must differ from the current one.",
                reason="WEAK_PASSWORD",
                errors=[FieldError("new_password", "same as the current password")],
            )
        self._check_password(new_password, user.email, user.name, "new_password")
        new_hash = await self.passwords.hash(new_password)
        now = self.now()

        async def replace_password(uow: UnitOfWork) -> None:
            await repo.update_user(
                uow.conn, user_id, now, password_hash=new_hash, password_changed_at=now
            )
            await repo.revoke_sessions(
                uow.conn,
                now=now,
                reason="password_changed",
                user_id=user_id,
                except_session=session_id,
            )
            await repo.invalidate_reset_tokens(uow.conn, user_id, now)

        await self.db.write(replace_password)
