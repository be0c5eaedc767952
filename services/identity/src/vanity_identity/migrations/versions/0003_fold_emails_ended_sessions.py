"""e-mails NFKC- and case-folded; index for the ended-sessions feed

Revision ID: 0003
Revises: 0002

E-mail addresses were stored NFC and lower-cased, so a fullwidth or ligature look-alike of an
address could register a second account. New sign-ups are folded with NFKC + casefold
(domain.normalise_email); this folds the stored ones the same way. Two existing accounts that
fold to one address cannot both keep it: the one already holding the folded form keeps it (else
the oldest gets it); the others are left as stored, unreachable by sign-in until an
administrator merges or renames them, and each is reported in the migration's log.
"""

import logging
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def _fold(email: str) -> str:
    # Frozen copy of domain.fold_email: a migration must not change when the code does.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email).casefold())


def upgrade() -> None:
    op.create_index("ix_sessions_revoked_at", "sessions", ["revoked_at", "id"])
    users = sa.table("users", sa.column("id", sa.String), sa.column("email", sa.String))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, email FROM users ORDER BY created_at, id")).fetchall()
    groups: dict[str, list[tuple[str, str]]] = {}
    for user_id, email in rows:
        groups.setdefault(_fold(email), []).append((user_id, email))
    for folded, members in groups.items():
        # The account already holding the folded address keeps it; else the oldest gets it.
        holder = next((m for m in members if m[1] == folded), None)
        if holder is None:
            holder = members[0]
            bind.execute(users.update().where(users.c.id == holder[0]).values(email=folded))
        for user_id, email in members:
            if user_id != holder[0]:
                log.warning(
                    "identity: user %s keeps e-mail %r: its folded form belongs to user %s",
                    user_id,
                    email,
                    holder[0],
                )


def downgrade() -> None:
    # Folding is not reversible; the addresses stay folded.
    op.drop_index("ix_sessions_revoked_at", table_name="sessions")
