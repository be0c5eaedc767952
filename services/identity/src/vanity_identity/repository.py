"""Persistence for users, sessions (refresh-token families), reset tokens and addresses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from vanity_common.mapping import view_from

from vanity_identity.domain import (
    Address,
    EndedSession,
    RefreshTokenState,
    User,
    decode_set,
    encode_set,
    reset_token_usable,
)
from vanity_identity.tables import (
    addresses,
    password_reset_tokens,
    refresh_tokens,
    sessions,
    users,
)


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_USER_COLUMNS = [
    users.c.id,
    users.c.email,
    users.c.name,
    users.c.roles,
    users.c.permissions,
    users.c.disabled_at,
    users.c.created_at,
    users.c.updated_at,
]


def _user(row) -> User:
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        roles=decode_set(row.roles),
        permissions=decode_set(row.permissions),
        disabled_at=utc(row.disabled_at),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


# ---- users


async def insert_user(
    conn: AsyncConnection,
    *,
    user_id: str,
    email: str,
    name: str,
    password_hash: str,
    roles: frozenset[str],
    permissions: frozenset[str],
    now: datetime,
) -> None:
    await conn.execute(
        insert(users).values(
            id=user_id,
            email=email,
            name=name,
            password_hash=password_hash,
            roles=encode_set(roles),
            permissions=encode_set(permissions),
            password_changed_at=now,
            created_at=now,
            updated_at=now,
        )
    )


async def user_by_id(conn: AsyncConnection, user_id: str, *, lock: bool = False) -> User | None:
    stmt = select(*_USER_COLUMNS).where(users.c.id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).first()
    return _user(row) if row else None


async def user_with_hash_by_email(conn: AsyncConnection, email: str) -> tuple[User, str] | None:
    row = (
        await conn.execute(
            select(*_USER_COLUMNS, users.c.password_hash).where(users.c.email == email)
        )
    ).first()
    return (_user(row), row.password_hash) if row else None


async def password_hash(conn: AsyncConnection, user_id: str) -> str | None:
    return await conn.scalar(select(users.c.password_hash).where(users.c.id == user_id))


async def user_id_by_email(conn: AsyncConnection, email: str) -> str | None:
    return await conn.scalar(select(users.c.id).where(users.c.email == email))


async def update_user(conn: AsyncConnection, user_id: str, now: datetime, **values: Any) -> int:
    if "roles" in values:
        values["roles"] = encode_set(values["roles"])
    if "permissions" in values:
        values["permissions"] = encode_set(values["permissions"])
    result = await conn.execute(
        update(users).where(users.c.id == user_id).values(updated_at=now, **values)
    )
    return result.rowcount


async def list_users(
    conn: AsyncConnection,
    *,
    query: str | None,
    role: str | None,
    disabled: bool | None,
    after_email: str | None,
    limit: int,
) -> list[User]:
    stmt = select(*_USER_COLUMNS).order_by(users.c.email).limit(limit)
    if query:
        escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(
            or_(
                users.c.email.like(f"{escaped}%", escape="\\"),
                func.lower(users.c.name).like(f"%{escaped}%", escape="\\"),
                users.c.id == query,
            )
        )
    if role:
        stmt = stmt.where(users.c.roles.like(f"%,{role},%"))
    if disabled is True:
        stmt = stmt.where(users.c.disabled_at.is_not(None))
    elif disabled is False:
        stmt = stmt.where(users.c.disabled_at.is_(None))
    if after_email:
        stmt = stmt.where(users.c.email > after_email)
    return [_user(row) for row in await conn.execute(stmt)]


async def count_admins(conn: AsyncConnection) -> int:
    return int(
        await conn.scalar(
            select(func.count())
            .select_from(users)
            .where(users.c.roles.like("%,admin,%"), users.c.disabled_at.is_(None))
        )
        or 0
    )


# ---- sessions and refresh tokens


async def insert_session(
    conn: AsyncConnection,
    *,
    session_id: str,
    user_id: str,
    now: datetime,
    expires_at: datetime,
    ip: str | None,
    user_agent: str | None,
) -> None:
    await conn.execute(
        insert(sessions).values(
            id=session_id,
            user_id=user_id,
            created_at=now,
            last_used_at=now,
            expires_at=expires_at,
            ip=(ip or "")[:64] or None,
            user_agent=(user_agent or "")[:255] or None,
        )
    )


async def insert_refresh_token(
    conn: AsyncConnection, *, token_hash: str, session_id: str, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        insert(refresh_tokens).values(
            token_hash=token_hash,
            session_id=session_id,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def refresh_token_state(
    conn: AsyncConnection, token_hash: str
) -> tuple[RefreshTokenState, str, str] | None:
    """(state, session id, user id), the token row locked on MariaDB."""
    row = (
        await conn.execute(
            select(
                refresh_tokens.c.expires_at,
                refresh_tokens.c.used_at,
                sessions.c.revoked_at,
                sessions.c.id,
                sessions.c.user_id,
            )
            .select_from(
                refresh_tokens.join(sessions, sessions.c.id == refresh_tokens.c.session_id)
            )
            .where(refresh_tokens.c.token_hash == token_hash)
            .with_for_update()
        )
    ).first()
    if row is None:
        return None
    state = RefreshTokenState(
        expires_at=utc(row.expires_at),
        used_at=utc(row.used_at),
        session_revoked_at=utc(row.revoked_at),
    )
    return state, row.id, row.user_id


async def mark_refresh_used(conn: AsyncConnection, token_hash: str, now: datetime) -> bool:
    """Rotation claim: only one caller can move a token from unused to used."""
    result = await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.used_at.is_(None))
        .values(used_at=now)
    )
    return result.rowcount == 1


async def touch_session(
    conn: AsyncConnection, session_id: str, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        update(sessions)
        .where(sessions.c.id == session_id)
        .values(last_used_at=now, expires_at=expires_at)
    )


async def session_owner(conn: AsyncConnection, token_hash: str) -> tuple[str, str] | None:
    row = (
        await conn.execute(
            select(sessions.c.id, sessions.c.user_id)
            .select_from(
                refresh_tokens.join(sessions, sessions.c.id == refresh_tokens.c.session_id)
            )
            .where(refresh_tokens.c.token_hash == token_hash)
        )
    ).first()
    return (row.id, row.user_id) if row else None


async def revoke_sessions(
    conn: AsyncConnection,
    *,
    now: datetime,
    reason: str,
    session_id: str | None = None,
    user_id: str | None = None,
    except_session: str | None = None,
) -> int:
    conditions = [sessions.c.revoked_at.is_(None)]
    if session_id is not None:
        conditions.append(sessions.c.id == session_id)
    if user_id is not None:
        conditions.append(sessions.c.user_id == user_id)
    if except_session:
        conditions.append(sessions.c.id != except_session)
    if session_id is None and user_id is None:
        raise ValueError("revoke_sessions needs a session or a user")
    result = await conn.execute(
        update(sessions).where(and_(*conditions)).values(revoked_at=now, revoke_reason=reason[:32])
    )
    return result.rowcount


async def session_is_active(conn: AsyncConnection, session_id: str, now: datetime) -> bool:
    row = (
        await conn.execute(
            select(sessions.c.revoked_at, sessions.c.expires_at).where(sessions.c.id == session_id)
        )
    ).first()
    return row is not None and row.revoked_at is None and utc(row.expires_at) > now


async def ended_sessions(
    conn: AsyncConnection, *, after: datetime, after_id: str, not_before: datetime, limit: int
) -> list[EndedSession]:
    """Sessions ended after the keyset position (ended_at, id), oldest first; none ended before
    `not_before` (their tokens have expired anyway)."""
    start = max(after, not_before)
    position = (
        or_(
            sessions.c.revoked_at > start,
            and_(sessions.c.revoked_at == start, sessions.c.id > after_id),
        )
        if after >= not_before
        else sessions.c.revoked_at >= start
    )
    rows = await conn.execute(
        select(sessions.c.id, sessions.c.user_id, sessions.c.revoked_at, sessions.c.revoke_reason)
        .where(sessions.c.revoked_at.is_not(None), position)
        .order_by(sessions.c.revoked_at, sessions.c.id)
        .limit(limit)
    )
    return [EndedSession(r.id, r.user_id, utc(r.revoked_at), r.revoke_reason or "") for r in rows]


# ---- password reset tokens


async def insert_reset_token(
    conn: AsyncConnection, *, token_hash: str, user_id: str, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        insert(password_reset_tokens).values(
            token_hash=token_hash,
            user_id=user_id,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def consume_reset_token_peek(
    conn: AsyncConnection, token_hash: str, now: datetime
) -> str | None:
    """The user id of a still-usable token, without consuming it."""
    row = (
        await conn.execute(
            select(
                password_reset_tokens.c.user_id,
                password_reset_tokens.c.expires_at,
                password_reset_tokens.c.used_at,
            ).where(password_reset_tokens.c.token_hash == token_hash)
        )
    ).first()
    if row is None or not reset_token_usable(utc(row.expires_at), utc(row.used_at), now):
        return None
    return row.user_id


async def consume_reset_token(conn: AsyncConnection, token_hash: str, now: datetime) -> str | None:
    """Marks an unused, unexpired token used and returns its user id; None otherwise. The
    conditional UPDATE makes it single-use even under concurrent confirms."""
    user_id = await conn.scalar(
        select(password_reset_tokens.c.user_id).where(
            password_reset_tokens.c.token_hash == token_hash
        )
    )
    if user_id is None:
        return None
    result = await conn.execute(
        update(password_reset_tokens)
        .where(
            password_reset_tokens.c.token_hash == token_hash,
            password_reset_tokens.c.used_at.is_(None),
            password_reset_tokens.c.expires_at > now,
        )
        .values(used_at=now)
    )
    return user_id if result.rowcount == 1 else None


async def invalidate_reset_tokens(conn: AsyncConnection, user_id: str, now: datetime) -> None:
    await conn.execute(
        update(password_reset_tokens)
        .where(
            password_reset_tokens.c.user_id == user_id, password_reset_tokens.c.used_at.is_(None)
        )
        .values(used_at=now)
    )


async def purge_expired(conn: AsyncConnection, now: datetime, grace: datetime) -> dict[str, int]:
    """Deletes what can no longer be used: tokens expired before `grace`, sessions ended before
    it (revoked or expired). Kept a while after expiry so reuse is still recognised."""
    done = {}
    done["reset_tokens"] = (
        await conn.execute(
            delete(password_reset_tokens).where(password_reset_tokens.c.expires_at < grace)
        )
    ).rowcount
    old_sessions = select(sessions.c.id).where(
        or_(sessions.c.expires_at < grace, sessions.c.revoked_at < grace)
    )
    ids = [r for (r,) in await conn.execute(old_sessions)]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        await conn.execute(delete(refresh_tokens).where(refresh_tokens.c.session_id.in_(chunk)))
        await conn.execute(delete(sessions).where(sessions.c.id.in_(chunk)))
    done["sessions"] = len(ids)
    done["refresh_tokens"] = (
        await conn.execute(delete(refresh_tokens).where(refresh_tokens.c.expires_at < grace))
    ).rowcount
    return done


# ---- addresses

_ADDRESS_FIELDS = (
    "label",
    "full_name",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
    "is_default_shipping",
    "is_default_billing",
)


def _address(row) -> Address:
    return view_from(
        Address,
        row,
        is_default_shipping=bool(row.is_default_shipping),
        is_default_billing=bool(row.is_default_billing),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


async def list_addresses(conn: AsyncConnection, user_id: str) -> list[Address]:
    rows = await conn.execute(
        select(addresses)
        .where(addresses.c.user_id == user_id)
        .order_by(addresses.c.created_at, addresses.c.id)
    )
    return [_address(r) for r in rows]


async def address_for_user(conn: AsyncConnection, user_id: str, address_id: str) -> Address | None:
    """Scoped by owner: another user's address is simply not found."""
    row = (
        await conn.execute(
            select(addresses).where(addresses.c.id == address_id, addresses.c.user_id == user_id)
        )
    ).first()
    return _address(row) if row else None


async def count_addresses(conn: AsyncConnection, user_id: str) -> int:
    return int(
        await conn.scalar(
            select(func.count()).select_from(addresses).where(addresses.c.user_id == user_id)
        )
        or 0
    )


async def insert_address(
    conn: AsyncConnection, *, address_id: str, user_id: str, values: dict, now: datetime
) -> None:
    await conn.execute(
        insert(addresses).values(
            id=address_id,
            user_id=user_id,
            created_at=now,
            updated_at=now,
            **{k: v for k, v in values.items() if k in _ADDRESS_FIELDS},
        )
    )


async def update_address(
    conn: AsyncConnection, *, address_id: str, user_id: str, values: dict, now: datetime
) -> int:
    result = await conn.execute(
        update(addresses)
        .where(addresses.c.id == address_id, addresses.c.user_id == user_id)
        .values(updated_at=now, **{k: v for k, v in values.items() if k in _ADDRESS_FIELDS})
    )
    return result.rowcount


async def clear_default(
    conn: AsyncConnection, *, user_id: str, column: str, except_id: str
) -> None:
    await conn.execute(
        update(addresses)
        .where(addresses.c.user_id == user_id, addresses.c.id != except_id, addresses.c[column])
        .values({column: False})
    )


async def delete_address(conn: AsyncConnection, *, address_id: str, user_id: str) -> int:
    result = await conn.execute(
        delete(addresses).where(addresses.c.id == address_id, addresses.c.user_id == user_id)
    )
    return result.rowcount


async def lock_user_row(conn: AsyncConnection, user_id: str) -> bool:
    """Serialises per-user writes (address limits, defaults) on MariaDB."""
    found = await conn.scalar(select(users.c.id).where(users.c.id == user_id).with_for_update())
    return found is not None
