"""Identity use cases, one transaction each, callable from REST, gRPC, tasks and the CLI."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from vanity_common.auth import Principal
from vanity_common.db import Database
from vanity_common.errors import (
    Conflict,
    FailedPrecondition,
    FieldError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    Unauthenticated,
)
from vanity_common.outbox import OutboxMessage, OutboxRelay, once_per_message
from vanity_common.tasks import CelerySender
from vanity_common.types import control_characters

from vanity_identity import repository as repo
from vanity_identity.domain import (
    ADMIN,
    CUSTOMER,
    MAX_ADDRESSES_PER_USER,
    MAX_PASSWORD_LENGTH,
    PERMISSIONS,
    Address,
    EmailInvalid,
    EndedSession,
    RefreshOutcome,
    User,
    address_problems,
    expiry,
    judge_refresh,
    lookup_email,
    normalise_email,
    password_problems,
    validate_roles,
)
from vanity_identity.mail import Mailer, build_message
from vanity_identity.passwords import Passwords
from vanity_identity.settings import IdentitySettings
from vanity_identity.throttle import Throttle
from vanity_identity.tokens import AccessTokenIssuer, hash_token, new_id, new_opaque_token

log = logging.getLogger(__name__)

INVALID_CREDENTIALS = "Invalid e-mail or password."
RESET_TASK = "identity.send_password_reset_email"


class TaskSender(Protocol):
    """Sends an outbox message as the Celery task it names (`vanity_common.tasks.CelerySender`)."""

    async def deliver(self, message: OutboxMessage) -> None: ...


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


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _password_field(problems: list[str], field: str = "password") -> InvalidArgument:
    return InvalidArgument(
        f"The {field.replace('_', ' ')} {problems[0]}.",
        reason="WEAK_PASSWORD",
        errors=[FieldError(field, p) for p in problems],
    )


def _too_many(retry_after: int, what: str = "attempts") -> TooManyRequests:
    return TooManyRequests(
        f"Too many {what}. Try again in {retry_after} seconds.",
        reason="TOO_MANY_ATTEMPTS",
        headers={"Retry-After": str(retry_after)},
    )


class IdentityService:
    def __init__(
        self,
        db: Database,
        settings: IdentitySettings,
        issuer: AccessTokenIssuer,
        passwords: Passwords,
        throttle: Throttle,
        mailer: Mailer,
        clock: Callable[[], datetime] = _utcnow,
        task_sender: TaskSender | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.issuer = issuer
        self.passwords = passwords
        self.throttle = throttle
        self.mailer = mailer
        self.clock = clock
        self._task_sender = task_sender
        # The reset e-mail's way out: an outbox row, relayed to the Celery task after commit.
        self.outbox = OutboxRelay(db, {RESET_TASK: self._send_task}, service="identity")

    @property
    def task_sender(self) -> TaskSender:
        if self._task_sender is None:  # built on first use: no broker needed to start
            self._task_sender = CelerySender(self.settings)
        return self._task_sender

    @task_sender.setter
    def task_sender(self, sender: TaskSender) -> None:
        self._task_sender = sender

    async def _send_task(self, message: OutboxMessage) -> None:
        await self.task_sender.deliver(message)

    def now(self) -> datetime:
        return self.clock()

    # ---- accounts

    def _check_password(self, password: str, email: str, name: str, field: str) -> None:
        problems = password_problems(
            password, min_length=self.settings.password_min_length, email=email, name=name
        )
        if problems:
            raise _password_field(problems, field)

    @staticmethod
    def _clean_name(name: str) -> str:
        cleaned = " ".join((name or "").split())
        if control_characters(cleaned):
            raise InvalidArgument(
                "The name must not contain control characters.",
                errors=[FieldError("name", "must not contain control characters")],
            )
        if not cleaned or len(cleaned) > 200:
            raise InvalidArgument(
                "A name of 1 to 200 characters is required.",
                errors=[FieldError("name", "1 to 200 characters")],
            )
        return cleaned

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
                raise _too_many(verdict.retry_after, "sign-ups from this address")
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
        try:
            async with self.db.transaction() as session:
                if await repo.user_id_by_email(session, normalised):
                    raise taken
                await repo.insert_user(
                    session,
                    user_id=user_id,
                    email=normalised,
                    name=clean_name,
                    password_hash=password_hash,
                    roles=roles,
                    permissions=permissions,
                    now=now,
                )
        except IntegrityError as exc:  # a concurrent sign-up with the same address won
            raise taken from exc
        return await self.get_user(user_id)

    async def get_user(self, user_id: str) -> User:
        async with self.db.session() as session:
            user = await repo.user_by_id(session, user_id)
        if user is None:
            raise NotFound("No such user.", reason="USER_NOT_FOUND")
        return user

    async def authorise(self, principal: Principal) -> User:
        """Identity's own check beyond the token: the account still exists and is enabled and
        the session was not revoked, so logout, password changes and disabling act at once here
        (other services accept a token until it expires, at most 15 minutes)."""
        now = self.now()
        async with self.db.session() as session:
            user = await repo.user_by_id(session, principal.user_id)
            active = bool(principal.session_id) and await repo.session_is_active(
                session, principal.session_id, now
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
            async with self.db.transaction() as session:
                if not await repo.update_user(session, user_id, self.now(), name=clean):
                    raise NotFound("No such user.", reason="USER_NOT_FOUND")
        return await self.get_user(user_id)

    async def change_password(
        self, user_id: str, session_id: str, current_password: str, new_password: str
    ) -> None:
        user = await self.get_user(user_id)
        account = ("login_account", Throttle.subject(user.email))
        verdict = await self.throttle.check(account)
        if not verdict.allowed:
            raise _too_many(verdict.retry_after)
        async with self.db.session() as session:
            stored = await repo.password_hash(session, user_id)
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
        async with self.db.transaction() as session:
            await repo.update_user(
                session, user_id, now, password_hash=new_hash, password_changed_at=now
            )
            await repo.revoke_sessions(
                session,
                now=now,
                reason="password_changed",
                user_id=user_id,
                except_session=session_id,
            )
            await repo.invalidate_reset_tokens(session, user_id, now)

    # ---- sign-in and tokens

    async def login(
        self, email: str, password: str, *, ip: str, user_agent: str | None = None
    ) -> TokenPair:
        address = lookup_email(email)
        account = ("login_account", Throttle.subject(address))
        client = ("login_ip", ip)
        verdict = await self.throttle.check(account, client)
        if not verdict.allowed:
            # The same answer whether or not the account exists.
            raise _too_many(verdict.retry_after, "failed sign-in attempts")
        async with self.db.session() as session:
            found = await repo.user_with_hash_by_email(session, address)
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
            async with self.db.transaction() as session:
                await repo.update_user(session, user.id, self.now(), password_hash=new_hash)
        return await self._start_session(user, ip=ip, user_agent=user_agent)

    async def _start_session(self, user: User, *, ip: str | None, user_agent: str | None):
        now = self.now()
        session_id = new_id()
        refresh = new_opaque_token()
        refresh_expires = expiry(now, self.settings.refresh_token_ttl_seconds)
        async with self.db.transaction() as session:
            await repo.insert_session(
                session,
                session_id=session_id,
                user_id=user.id,
                now=now,
                expires_at=refresh_expires,
                ip=ip,
                user_agent=user_agent,
            )
            await repo.insert_refresh_token(
                session,
                token_hash=hash_token(refresh),
                session_id=session_id,
                now=now,
                expires_at=refresh_expires,
            )
        access = self._access_token(user, session_id, now)
        return TokenPair(
            access.token, access.expires_at, refresh, refresh_expires, session_id, user
        )

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

        async def work(session) -> tuple[str, TokenPair | None]:
            found = await repo.refresh_token_state(session, token_hash)
            state, session_id, user_id = found if found else (None, "", "")
            outcome = judge_refresh(state, now)
            if outcome is RefreshOutcome.REUSED:
                await repo.revoke_sessions(session, now=now, reason="reuse", session_id=session_id)
                return "reused", None
            if outcome is not RefreshOutcome.OK:
                return "invalid", None
            user = await repo.user_by_id(session, user_id)
            if user is None or user.disabled:
                await repo.revoke_sessions(
                    session, now=now, reason="disabled", session_id=session_id
                )
                return "disabled", None
            if not await repo.mark_refresh_used(session, token_hash, now):
                await repo.revoke_sessions(session, now=now, reason="reuse", session_id=session_id)
                return "reused", None
            new_refresh = new_opaque_token()
            new_expires = expiry(now, self.settings.refresh_token_ttl_seconds)
            await repo.insert_refresh_token(
                session,
                token_hash=hash_token(new_refresh),
                session_id=session_id,
                now=now,
                expires_at=new_expires,
            )
            await repo.touch_session(session, session_id, now, new_expires)
            access = self._access_token(user, session_id, now)
            return "ok", TokenPair(
                access.token, access.expires_at, new_refresh, new_expires, session_id, user
            )

        verdict, pair = await self.db.run_in_transaction(work)
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
        async with self.db.transaction() as session:
            if refresh_token:
                owner = await repo.session_owner(session, hash_token(refresh_token))
                if owner is not None:
                    await repo.revoke_sessions(
                        session, now=now, reason="logout", session_id=owner[0]
                    )
            if principal is not None and principal.session_id:
                await repo.revoke_sessions(
                    session,
                    now=now,
                    reason="logout",
                    session_id=principal.session_id,
                    user_id=principal.user_id,
                )

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
        async with self.db.session() as session:
            rows = await repo.ended_sessions(
                session, after=after, after_id=after_id, not_before=not_before, limit=page_size + 1
            )
        return EndedSessionsPage(rows[:page_size], len(rows) > page_size, now)

    # ---- password reset

    async def screen_password_reset(self, email: str, *, ip: str) -> str | None:
        """Rate limits of a reset request: per IP a 429; per address a silent drop (the answer
        stays 202 so it reveals nothing). Returns the address to e-mail, or None."""
        verdict = await self.throttle.hit(("reset_ip", ip))
        if not verdict.allowed:
            raise _too_many(verdict.retry_after, "password reset requests")
        address = lookup_email(email)
        if not (await self.throttle.hit(("reset_email", Throttle.subject(address)))).allowed:
            log.info("password reset for one address throttled")
            return None
        return address

    async def request_password_reset(self, email: str, *, ip: str) -> str | None:
        """The HTTP use case: after the rate limits, the e-mail job is written to the outbox in
        its own transaction (it survives a crash, a broker or a worker that is down) and relayed
        to the Celery task right after the commit. Returns the message id, None when throttled.
        The account is looked up by the task, so the answer's timing reveals nothing."""
        address = await self.screen_password_reset(email, ip=ip)
        if address is None:
            return None
        message_id = await self.db.write(lambda uow: uow.enqueue_task(RESET_TASK, address))
        await self.outbox.deliver([message_id])  # a failure stays in the outbox for the sweep
        return message_id

    async def send_password_reset(self, email: str, message_id: str | None = None) -> bool:
        """The task's use case: creates a single-use token and e-mails the link. Unknown and
        disabled accounts get nothing (the HTTP answer was the same 202 either way). With the
        outbox message id, a redelivered message sends nothing more."""
        if message_id is None:
            return await self._send_password_reset(email, None)
        sent = False

        async def send_once() -> None:
            nonlocal sent
            sent = await self._send_password_reset(email, message_id)

        await once_per_message(self.db, RESET_TASK, message_id, send_once)
        return sent

    async def _send_password_reset(self, email: str, message_id: str | None) -> bool:
        address = lookup_email(email)
        now = self.now()
        token = new_opaque_token()
        async with self.db.transaction() as session:
            found = await repo.user_with_hash_by_email(session, address)
            if found is None or found[0].disabled:
                return False
            user = found[0]
            await repo.insert_reset_token(
                session,
                token_hash=hash_token(token),
                user_id=user.id,
                now=now,
                expires_at=expiry(now, self.settings.reset_token_ttl_seconds),
            )
        minutes = self.settings.reset_token_ttl_seconds // 60
        link = self.settings.password_reset_url.format(token=token)
        body = (
            f"Hello {user.name},\n\n"
            "Someone (hopefully you) asked to reset the password of your Vanity account.\n"
            f"Choose a new password here within {minutes} minutes:\n\n{link}\n\n"
            "The link works once. If you did not ask for it, ignore this e-mail: your password\n"
            "stays unchanged.\n\n-- Vanity\n"
        )
        await self.mailer.send(
            build_message(
                self.settings.mail_from,
                user.email,
                "Reset your Vanity password",
                body,
                message_id=message_id,
            )
        )
        return True

    async def confirm_password_reset(self, token: str, new_password: str) -> None:
        invalid = InvalidArgument(
            "This password reset link is invalid or has expired.",
            reason="INVALID_RESET_TOKEN",
            errors=[FieldError("token", "invalid, used or expired")],
        )
        token_hash = hash_token(token)
        now = self.now()
        async with self.db.session() as session:
            user_id = await repo.consume_reset_token_peek(session, token_hash, now)
            user = await repo.user_by_id(session, user_id) if user_id else None
        if user is None or user.disabled:
            raise invalid
        self._check_password(new_password, user.email, user.name, "new_password")
        new_hash = await self.passwords.hash(new_password)
        async with self.db.transaction() as session:
            if await repo.consume_reset_token(session, token_hash, now) != user.id:
                raise invalid
            await repo.update_user(
                session, user.id, now, password_hash=new_hash, password_changed_at=now
            )
            await repo.revoke_sessions(session, now=now, reason="password_reset", user_id=user.id)
            await repo.invalidate_reset_tokens(session, user.id, now)
        await self.throttle.clear("login_account", Throttle.subject(user.email))

    async def purge_expired(self) -> dict[str, int]:
        now = self.now()
        async with self.db.transaction() as session:
            return await repo.purge_expired(session, now, now - PURGE_GRACE)

    # ---- addresses

    async def list_addresses(self, user_id: str) -> list[Address]:
        async with self.db.session() as session:
            return await repo.list_addresses(session, user_id)

    async def get_address(self, user_id: str, address_id: str) -> Address:
        async with self.db.session() as session:
            address = await repo.address_for_user(session, user_id, address_id)
        if address is None:
            raise NotFound("No such address.", reason="ADDRESS_NOT_FOUND")
        return address

    @staticmethod
    def _clean_address(values: dict, *, partial: bool) -> dict:
        problems = address_problems(values, partial=partial)
        if problems:
            raise InvalidArgument(
                f"Invalid address: {', '.join(sorted(problems))}",
                errors=[FieldError(k, v) for k, v in sorted(problems.items())],
            )
        cleaned = {}
        for key, value in values.items():
            if key in ("is_default_shipping", "is_default_billing"):
                cleaned[key] = bool(value)
            elif value is not None:
                cleaned[key] = " ".join(str(value).split())
        if "country" in cleaned:
            cleaned["country"] = cleaned["country"].upper()
        return cleaned

    async def _apply_defaults(self, session, user_id: str, address_id: str, values: dict) -> None:
        for column in ("is_default_shipping", "is_default_billing"):
            if values.get(column):
                await repo.clear_default(
                    session, user_id=user_id, column=column, except_id=address_id
                )

    async def create_address(self, user_id: str, values: dict) -> Address:
        cleaned = self._clean_address(values, partial=False)
        address_id = new_id()
        async with self.db.transaction() as session:
            if not await repo.lock_user_row(session, user_id):
                raise NotFound("No such user.", reason="USER_NOT_FOUND")
            count = await repo.count_addresses(session, user_id)
            if count >= MAX_ADDRESSES_PER_USER:
                raise FailedPrecondition(
                    f"At most {MAX_ADDRESSES_PER_USER} addresses per account.",
                    reason="TOO_MANY_ADDRESSES",
                )
            if count == 0:  # the first address is the default for both
                cleaned.setdefault("is_default_shipping", True)
                cleaned.setdefault("is_default_billing", True)
            await repo.insert_address(
                session, address_id=address_id, user_id=user_id, values=cleaned, now=self.now()
            )
            await self._apply_defaults(session, user_id, address_id, cleaned)
        return await self.get_address(user_id, address_id)

    async def update_address(self, user_id: str, address_id: str, values: dict) -> Address:
        cleaned = self._clean_address(values, partial=True)
        async with self.db.transaction() as session:
            await repo.lock_user_row(session, user_id)
            found = await repo.update_address(
                session, address_id=address_id, user_id=user_id, values=cleaned, now=self.now()
            )
            if not found:
                raise NotFound("No such address.", reason="ADDRESS_NOT_FOUND")
            await self._apply_defaults(session, user_id, address_id, cleaned)
        return await self.get_address(user_id, address_id)

    async def delete_address(self, user_id: str, address_id: str) -> None:
        async with self.db.transaction() as session:
            if not await repo.delete_address(session, address_id=address_id, user_id=user_id):
                raise NotFound("No such address.", reason="ADDRESS_NOT_FOUND")

    # ---- administration

    async def list_users(
        self,
        *,
        query: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[User]:
        async with self.db.session() as session:
            return await repo.list_users(
                session,
                query=(query or "").strip() or None,
                role=role,
                disabled=disabled,
                after_email=after,
                limit=limit,
            )

    async def set_roles(
        self, actor_id: str, user_id: str, roles: list[str], permissions: list[str]
    ) -> User:
        try:
            role_set, perm_set = validate_roles(roles, permissions)
        except ValueError as exc:
            raise InvalidArgument(str(exc), errors=[FieldError("roles", str(exc))]) from exc
        if actor_id == user_id:
            raise FailedPrecondition(
                "Admins cannot change their own roles.", reason="CANNOT_CHANGE_OWN_ROLES"
            )
        async with self.db.transaction() as session:
            if not await repo.update_user(
                session, user_id, self.now(), roles=role_set, permissions=perm_set
            ):
                raise NotFound("No such user.", reason="USER_NOT_FOUND")
        return await self.get_user(user_id)

    async def set_disabled(self, actor_id: str, user_id: str, disabled: bool) -> User:
        if actor_id == user_id and disabled:
            raise FailedPrecondition(
                "Admins cannot disable their own account.", reason="CANNOT_DISABLE_SELF"
            )
        now = self.now()
        async with self.db.transaction() as session:
            user = await repo.user_by_id(session, user_id, lock=True)
            if user is None:
                raise NotFound("No such user.", reason="USER_NOT_FOUND")
            if disabled:
                if not user.disabled:
                    await repo.update_user(session, user_id, now, disabled_at=now)
                # Every refresh family ends now: the next refresh fails, as does a new login.
                await repo.revoke_sessions(session, now=now, reason="disabled", user_id=user_id)
                await repo.invalidate_reset_tokens(session, user_id, now)
            elif user.disabled:
                await repo.update_user(session, user_id, now, disabled_at=None)
        return await self.get_user(user_id)

    async def create_admin(
        self, email: str, name: str, password: str | None, permissions: list[str] | None = None
    ) -> tuple[User, bool]:
        """The first admin (CLI). An existing account is promoted (its password unchanged)."""
        perms = frozenset(permissions if permissions is not None else PERMISSIONS)
        validate_roles([ADMIN], list(perms))
        address = normalise_email(email)
        async with self.db.session() as session:
            existing = await repo.user_id_by_email(session, address)
        if existing:
            current = await self.get_user(existing)
            async with self.db.transaction() as session:
                await repo.update_user(
                    session,
                    existing,
                    self.now(),
                    roles=current.roles | {ADMIN},
                    permissions=current.permissions | perms,
                )
            return await self.get_user(existing), False
        if not password:
            raise InvalidArgument(
                "A password is required to create an admin.",
                errors=[FieldError("password", "required")],
            )
        user = await self.register(
            address, name, password, roles=frozenset({ADMIN}), permissions=perms
        )
        return user, True
