"""Administration of accounts: every use case but the CLI's first-admin bootstrap takes the
acting principal and checks it here, whatever the entry point (REST, gRPC, a script)."""

from __future__ import annotations

from vanity_common.auth import Principal
from vanity_common.errors import (
    FailedPrecondition,
    FieldError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from vanity_common.uow import UnitOfWork

from vanity_identity import repository as repo
from vanity_identity.domain import (
    ADMIN,
    PERMISSIONS,
    Address,
    User,
    normalise_email,
    validate_roles,
)
from vanity_identity.service.base import IdentityParts

# The admin permission that covers accounts (roles, enabling and disabling, reading them).
USERS_PERMISSION = "users"


class Administration(IdentityParts):
    async def authorise_admin(self, actor: Principal) -> User:
        """The actor's account as it is now: signed in (session not ended), enabled, and an
        admin holding `users` in the database, not only in its token (roles may have changed
        since the token was issued)."""
        user = await self.authorise(actor)
        if not user.is_admin or USERS_PERMISSION not in user.permissions:
            raise PermissionDenied(f"Admin permission '{USERS_PERMISSION}' required.")
        return user

    async def list_users(
        self,
        actor: Principal,
        *,
        query: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[User]:
        await self.authorise_admin(actor)
        async with self.db.connect() as conn:
            return await repo.list_users(
                conn,
                query=(query or "").strip() or None,
                role=role,
                disabled=disabled,
                after_email=after,
                limit=limit,
            )

    async def user_details(self, actor: Principal, user_id: str) -> tuple[User, list[Address]]:
        await self.authorise_admin(actor)
        return await self.get_user(user_id), await self.list_addresses(user_id)

    async def set_roles(
        self, actor: Principal, user_id: str, roles: list[str], permissions: list[str]
    ) -> User:
        admin = await self.authorise_admin(actor)
        try:
            role_set, perm_set = validate_roles(roles, permissions)
        except ValueError as exc:
            raise InvalidArgument(str(exc), errors=[FieldError("roles", str(exc))]) from exc
        if admin.id == user_id:
            raise FailedPrecondition(
                "Admins cannot change their own roles.", reason="CANNOT_CHANGE_OWN_ROLES"
            )
        now = self.now()

        async def grant(uow: UnitOfWork) -> None:
            if not await repo.update_user(
                uow.conn, user_id, now, roles=role_set, permissions=perm_set
            ):
                raise NotFound("No such user.", reason="USER_NOT_FOUND")

        await self.db.write(grant)
        return await self.get_user(user_id)

    async def set_disabled(self, actor: Principal, user_id: str, disabled: bool) -> User:
        admin = await self.authorise_admin(actor)
        if admin.id == user_id and disabled:
            raise FailedPrecondition(
                "Admins cannot disable their own account.", reason="CANNOT_DISABLE_SELF"
            )
        now = self.now()

        async def switch(uow: UnitOfWork) -> None:
            user = await repo.user_by_id(uow.conn, user_id, lock=True)
            if user is None:
                raise NotFound("No such user.", reason="USER_NOT_FOUND")
            if disabled:
                if not user.disabled:
                    await repo.update_user(uow.conn, user_id, now, disabled_at=now)
                # Every refresh family ends now: the next refresh fails, as does a new login.
                await repo.revoke_sessions(uow.conn, now=now, reason="disabled", user_id=user_id)
                await repo.invalidate_reset_tokens(uow.conn, user_id, now)
            elif user.disabled:
                await repo.update_user(uow.conn, user_id, now, disabled_at=None)

        await self.db.write(switch)
        return await self.get_user(user_id)

    async def create_admin(
        self, email: str, name: str, password: str | None, permissions: list[str] | None = None
    ) -> tuple[User, bool]:
        """The first admin (CLI). An existing account is promoted (its password unchanged)."""
        perms = frozenset(permissions if permissions is not None else PERMISSIONS)
        validate_roles([ADMIN], list(perms))
        address = normalise_email(email)
        async with self.db.connect() as conn:
            existing = await repo.user_id_by_email(conn, address)
        if existing:
            current = await self.get_user(existing)
            now = self.now()
            await self.db.write(
                lambda uow: repo.update_user(
                    uow.conn,
                    existing,
                    now,
                    roles=current.roles | {ADMIN},
                    permissions=current.permissions | perms,
                )
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
